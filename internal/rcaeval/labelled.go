// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaeval // import "github.com/otelcol-aiops/otelcol-aiops/internal/rcaeval"

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// Label is one injected fault of a recorded data set: when it started and which service was
// its root cause.
type Label struct {
	ID      string
	Time    time.Time
	Service string
	Kind    string
}

// FaultResult is how the chain did on one labelled fault.
type FaultResult struct {
	Label Label
	// Detected is true when an incident was opened, or an open one updated, within the
	// horizon after the fault started; Delay is the event time from the fault start to that
	// emission.
	Detected bool
	Delay    time.Duration
	// Incident is the id of that incident; Opened is true when the fault opened it (rather than
	// updating one that was already open).
	Incident string
	Opened   bool
	// Ranked is the candidate list of the incident's last version emitted within the horizon
	// (what an operator sees then); Rank is the true root cause's 1-based rank in it, 0 when
	// absent.
	Ranked []string
	Rank   int
}

// LabelledReport scores a replay of a labelled data set.
type LabelledReport struct {
	Horizon time.Duration
	Faults  []FaultResult
	// Incidents is the number of incidents opened (merged ones excluded); Unmatched counts those
	// opened outside every fault's horizon: incidents matching no fault.
	Incidents, Unmatched int
	// UnmatchedIncidents are those incidents (final versions), by start.
	UnmatchedIncidents []incident.Incident
}

// ScoreLabelled scores the emissions of a replay against the labels. A fault's horizon is
// [start, start+horizon), cut at the next fault's start. The fault's incident is the first one
// opened within the horizon, else the first one updated within it (an incident already open that
// absorbed the fault).
func ScoreLabelled(ems []Emission, labels []Label, horizon time.Duration) LabelledReport {
	labels = slices.Clone(labels)
	slices.SortStableFunc(labels, func(a, b Label) int { return a.Time.Compare(b.Time) })
	rep := LabelledReport{Horizon: horizon}

	type incState struct {
		opened time.Time
		final  incident.Incident
	}
	incs := map[string]*incState{}
	for _, em := range ems {
		st, ok := incs[em.Incident.ID]
		if !ok {
			st = &incState{opened: em.At}
			incs[em.Incident.ID] = st
		}
		if em.Incident.Version >= st.final.Version {
			st.final = em.Incident
		}
	}
	merged := func(id string) bool { return incs[id].final.MergedInto != "" }

	for i, l := range labels {
		end := l.Time.Add(horizon)
		if i+1 < len(labels) && labels[i+1].Time.Before(end) {
			end = labels[i+1].Time
		}
		in := func(t time.Time) bool { return !t.Before(l.Time) && t.Before(end) }
		fr := FaultResult{Label: l}
		// The incident: the first opened in the horizon, else the first updated in it.
		var best string
		var bestAt time.Time
		bestOpened := false
		for _, em := range ems {
			id := em.Incident.ID
			if !in(em.At) || merged(id) {
				continue
			}
			opened := in(incs[id].opened)
			better := best == "" ||
				(opened && !bestOpened) ||
				(opened == bestOpened && em.At.Before(bestAt))
			if better {
				best, bestAt, bestOpened = id, em.At, opened
			}
		}
		if best != "" {
			fr.Detected, fr.Incident, fr.Opened = true, best, bestOpened
			fr.Delay = bestAt.Sub(l.Time)
			var last incident.Incident
			for _, em := range ems {
				if em.Incident.ID == best && in(em.At) && em.Incident.Version >= last.Version {
					last = em.Incident
				}
			}
			for _, c := range last.Candidates {
				fr.Ranked = append(fr.Ranked, c.Service)
			}
			if k := slices.Index(fr.Ranked, l.Service); k >= 0 {
				fr.Rank = k + 1
			}
		}
		rep.Faults = append(rep.Faults, fr)
	}

	ids := make([]string, 0, len(incs))
	for id := range incs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(incs[a].opened.Compare(incs[b].opened), strings.Compare(a, b))
	})
	for _, id := range ids {
		st := incs[id]
		if merged(id) {
			continue
		}
		rep.Incidents++
		matched := false
		for _, l := range labels {
			if !st.opened.Before(l.Time) && st.opened.Before(l.Time.Add(horizon)) {
				matched = true
				break
			}
		}
		if !matched {
			rep.Unmatched++
			rep.UnmatchedIncidents = append(rep.UnmatchedIncidents, st.final)
		}
	}
	return rep
}

// AC is the share of faults whose root cause is ranked within the first k.
func (r *LabelledReport) AC(k int) float64 {
	if len(r.Faults) == 0 {
		return 0
	}
	n := 0
	for _, f := range r.Faults {
		if f.Rank >= 1 && f.Rank <= k {
			n++
		}
	}
	return float64(n) / float64(len(r.Faults))
}

// Detected returns the number of detected faults and the median delay of their detection.
func (r *LabelledReport) Detected() (int, time.Duration) {
	var d []time.Duration
	for _, f := range r.Faults {
		if f.Detected {
			d = append(d, f.Delay)
		}
	}
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return len(d), d[len(d)/2]
}

// Write prints the report: one line per fault, then the totals.
func (r *LabelledReport) Write(w io.Writer, mode string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: per fault (horizon %s)\n", mode, r.Horizon)
	fmt.Fprintf(&b, "%-8s %-20s %-28s %-15s %-8s %-7s %-4s %s\n", "fault", "time", "root cause", "kind", "detected", "delay", "rank", "top 3")
	for _, f := range r.Faults {
		det, delay, rank := "no", "-", "-"
		if f.Detected {
			det = "updated"
			if f.Opened {
				det = "opened"
			}
			delay = f.Delay.Round(time.Second).String()
			rank = "-"
			if f.Rank > 0 {
				rank = fmt.Sprint(f.Rank)
			}
		}
		top := f.Ranked[:min(3, len(f.Ranked))]
		fmt.Fprintf(&b, "%-8s %-20s %-28s %-15s %-8s %-7s %-4s %s\n", f.Label.ID, f.Label.Time.UTC().Format("2006-01-02T15:04:05"),
			f.Label.Service, f.Label.Kind, det, delay, rank, strings.Join(top, ", "))
	}
	n, med := r.Detected()
	fmt.Fprintf(&b, "%s: AC@1 %.2f AC@3 %.2f AC@5 %.2f, detected %d/%d (median delay %s), incidents %d, matching no fault %d\n",
		mode, r.AC(1), r.AC(3), r.AC(5), n, len(r.Faults), med.Round(time.Second), r.Incidents, r.Unmatched)
	_, err := io.WriteString(w, b.String())
	return err
}

// AlarmResult is the ranking the exporter's RCA API gave for one fault's alarm.
type AlarmResult struct {
	Label  Label
	Ranked []string
	Rank   int // 1-based rank of the true root cause, 0 when absent
	Err    string
}

// AlarmReport scores the rankings given alarms (alarm-given mode).
type AlarmReport struct {
	After, Window time.Duration // the alarm came After the fault started; evidence of Window before it
	Faults        []AlarmResult
}

// Add records the ranking for one fault.
func (r *AlarmReport) Add(l Label, ranked []string, err error) {
	a := AlarmResult{Label: l, Ranked: ranked}
	if err != nil {
		a.Err = err.Error()
	}
	if k := slices.Index(ranked, l.Service); k >= 0 {
		a.Rank = k + 1
	}
	r.Faults = append(r.Faults, a)
}

// AC is the share of faults whose root cause is ranked within the first k.
func (r *AlarmReport) AC(k int) float64 {
	if len(r.Faults) == 0 {
		return 0
	}
	n := 0
	for _, f := range r.Faults {
		if f.Rank >= 1 && f.Rank <= k {
			n++
		}
	}
	return float64(n) / float64(len(r.Faults))
}

// Write prints one line per fault, then the totals.
func (r *AlarmReport) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "alarm given: per fault (alarm %s after the fault starts, evidence of the %s before it)\n", r.After, r.Window)
	fmt.Fprintf(&b, "%-8s %-28s %-4s %s\n", "fault", "root cause", "rank", "top 3")
	for _, f := range r.Faults {
		rank := "-"
		if f.Rank > 0 {
			rank = fmt.Sprint(f.Rank)
		}
		top := strings.Join(f.Ranked[:min(3, len(f.Ranked))], ", ")
		if f.Err != "" {
			top = "error: " + f.Err
		}
		fmt.Fprintf(&b, "%-8s %-28s %-4s %s\n", f.Label.ID, f.Label.Service, rank, top)
	}
	fmt.Fprintf(&b, "alarm given: AC@1 %.2f AC@3 %.2f AC@5 %.2f over %d faults\n", r.AC(1), r.AC(3), r.AC(5), len(r.Faults))
	_, err := io.WriteString(w, b.String())
	return err
}

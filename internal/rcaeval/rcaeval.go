// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package rcaeval runs scenarios through the collector's components in process (the llm_anomaly
// processor, the logs2graph connector and the rca exporter, built from their factories and wired
// as in a collector, see Chain), and scores the incidents they forward against the injected
// ground truth. Everything runs in event time, so results are deterministic.
package rcaeval // import "github.com/otelcol-aiops/otelcol-aiops/internal/rcaeval"

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

// Outcome is the result of one scenario.
type Outcome struct {
	Name      string
	FaultKind sim.FaultKind // "" for fault-free runs
	RootCause string        // ground truth ("" when fault-free)
	// Incidents is the number of distinct incidents opened at or after the fault start (or in
	// the whole run when fault-free).
	Incidents int
	// FalseAlarms counts incidents opened before the fault started.
	FalseAlarms int
	// Ranked is the final candidate list of the incident that matches the fault: the first
	// incident emitted (opened or updated) at or after the fault start.
	Ranked []string
	// Detected is true when such an incident exists; DetectDelay is the event time from the
	// fault start to the watermark of that emission.
	Detected    bool
	DetectDelay time.Duration
	// Incident is the final state of the scored incident (zero when not detected).
	Incident incident.Incident
	// All is the final state of every incident of the run (merged ones excluded), by start.
	All []incident.Incident
}

// LLMRootCause is the root-cause service an LLM narrative named for the scored incident ("" when
// none arrived).
func (o *Outcome) LLMRootCause() string {
	if o.Incident.LLM == nil {
		return ""
	}
	return o.Incident.LLM.RootCauseService
}

// Rank returns the 1-based rank of the true root cause, 0 when it is not ranked.
func (o *Outcome) Rank() int {
	if i := slices.Index(o.Ranked, o.RootCause); i >= 0 {
		return i + 1
	}
	return 0
}

// Step is the event time fed per round: the chain sees telemetry in chunks of this length.
const Step = time.Second

// Run plays one scenario through the components (see Chain) and scores it.
func Run(sc sim.Scenario) (Outcome, error) {
	return RunWith(sc, ChainOptions{}, 0)
}

// RunWith is Run with chain options; with settle > 0 the chain waits, after the replay, until
// no incident has been delivered for settle (at most 20 settle periods), so that answers that
// arrive later (an LLM's narratives) are scored too.
func RunWith(sc sim.Scenario, opts ChainOptions, settle time.Duration) (Outcome, error) {
	out := Outcome{Name: sc.Name}
	var fault *sim.Fault
	if len(sc.Faults) > 0 {
		fault = &sc.Faults[0]
		out.FaultKind = fault.Kind
		out.RootCause = fault.RootCause()
	}
	chain, err := NewChain(opts)
	if err != nil {
		return out, err
	}
	end := sc.End()
	_, err = sim.Run(sc, Step, func(ch sim.Chunk) error {
		if !ch.Start.Before(end) {
			// A recording of the scenario's time: calls still in flight at its end (the slow
			// tail alone) complete after it and are not recorded.
			return nil
		}
		return chain.Play(ch.End, ch.Logs, ch.Traces)
	})
	if settle > 0 {
		chain.Settle(settle, 20*settle)
	}
	ems, cerr := chain.Close(end)
	if err = errors.Join(err, cerr); err != nil {
		return out, err
	}
	var start time.Time
	if fault != nil {
		start = fault.Start
	}
	score(&out, ems, fault != nil, start)
	return out, nil
}

// score fills the outcome from the emissions of a run with one fault starting at start (none when
// !faulty).
func score(out *Outcome, ems []Emission, faulty bool, start time.Time) {
	emitted := map[string]time.Time{}  // incident id -> event time of its first emission
	duringAt := map[string]time.Time{} // incident id -> first emission at or after the fault start
	finalInc := map[string]incident.Incident{}
	for _, em := range ems {
		inc := em.Incident
		if _, ok := emitted[inc.ID]; !ok {
			emitted[inc.ID] = em.At
		}
		if _, ok := duringAt[inc.ID]; !ok && faulty && !em.At.Before(start) {
			duringAt[inc.ID] = em.At
		}
		if old, ok := finalInc[inc.ID]; !ok || inc.Version >= old.Version {
			finalInc[inc.ID] = inc
		}
	}
	fault := faulty

	// Incidents opened before the fault are false alarms. The incident of the fault is the
	// first one emitted (opened, or updated with new evidence) at or after the fault start: an
	// incident that was already open absorbs the fault's evidence and is re-ranked, which is
	// what an operator watching it would see. Its final ranking is scored.
	for id, at := range emitted {
		if finalInc[id].MergedInto != "" {
			continue
		}
		if fault && at.Before(start) {
			out.FalseAlarms++
			continue
		}
		out.Incidents++
	}
	for _, inc := range finalInc {
		if inc.MergedInto == "" {
			out.All = append(out.All, inc)
		}
	}
	slices.SortFunc(out.All, func(a, b incident.Incident) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var first *incident.Incident
	var firstAt time.Time
	for id, at := range duringAt {
		inc := finalInc[id]
		if inc.MergedInto != "" {
			continue
		}
		if first == nil || at.Before(firstAt) || (at.Equal(firstAt) && id < first.ID) {
			c := inc
			first, firstAt = &c, at
		}
	}
	if fault && first != nil {
		out.Detected = true
		out.DetectDelay = firstAt.Sub(start)
		out.Incident = *first
		for _, c := range first.Candidates {
			out.Ranked = append(out.Ranked, c.Service)
		}
	}
}

// Summary aggregates outcomes.
type Summary struct {
	Faulty, FaultFree      int
	Top1, Top3, Detected   int
	FaultFreeWithIncident  int
	FalseAlarmsBeforeFault int
	DetectDelays           []time.Duration
	DetectedWithin30s      int
	PerKind                map[sim.FaultKind]*KindSummary
	// LLMAnswered counts detected faults whose incident got an LLM narrative; LLMTop1 those
	// whose narrative named the true root cause.
	LLMAnswered, LLMTop1 int
}

// KindSummary is the per-fault-kind part of a Summary.
type KindSummary struct{ N, Top1, Top3, Detected int }

// Summarize aggregates outcomes.
func Summarize(outs []Outcome) Summary {
	s := Summary{PerKind: map[sim.FaultKind]*KindSummary{}}
	for i := range outs {
		o := &outs[i]
		if o.RootCause == "" {
			s.FaultFree++
			if o.Incidents > 0 {
				s.FaultFreeWithIncident++
			}
			continue
		}
		s.Faulty++
		k := s.PerKind[o.FaultKind]
		if k == nil {
			k = &KindSummary{}
			s.PerKind[o.FaultKind] = k
		}
		k.N++
		s.FalseAlarmsBeforeFault += o.FalseAlarms
		if llm := o.LLMRootCause(); llm != "" {
			s.LLMAnswered++
			if llm == o.RootCause {
				s.LLMTop1++
			}
		}
		if o.Detected {
			s.Detected++
			k.Detected++
			s.DetectDelays = append(s.DetectDelays, o.DetectDelay)
			if o.DetectDelay <= 30*time.Second {
				s.DetectedWithin30s++
			}
		}
		switch r := o.Rank(); {
		case r == 1:
			s.Top1++
			k.Top1++
			s.Top3++
			k.Top3++
		case r > 1 && r <= 3:
			s.Top3++
			k.Top3++
		}
	}
	slices.Sort(s.DetectDelays)
	return s
}

// Median returns the median detection delay (0 when nothing was detected).
func (s *Summary) Median() time.Duration {
	if len(s.DetectDelays) == 0 {
		return 0
	}
	return s.DetectDelays[len(s.DetectDelays)/2]
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// AC1 is the share of faulty scenarios whose root cause is ranked first.
func (s *Summary) AC1() float64 { return ratio(s.Top1, s.Faulty) }

// AC3 is the share of faulty scenarios whose root cause is in the top 3.
func (s *Summary) AC3() float64 { return ratio(s.Top3, s.Faulty) }

// String is a one-line summary.
func (s *Summary) String() string {
	return fmt.Sprintf("AC@1 %.3f AC@3 %.3f detected %d/%d (%d within 30s, median %s) fault-free runs with incidents %d/%d, incidents before the fault %d",
		s.AC1(), s.AC3(), s.Detected, s.Faulty, s.DetectedWithin30s, s.Median(), s.FaultFreeWithIncident, s.FaultFree, s.FalseAlarmsBeforeFault)
}

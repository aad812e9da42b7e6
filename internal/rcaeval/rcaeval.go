// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package rcaeval runs simulated scenarios through the whole statistical chain in process, with
// the same logic the components use (the processor's analyzer, the connector's graph store and
// pdata adapter, the exporter's incident engine), and scores the root causes against the
// injected ground truth. It drives everything in event time, so results are deterministic.
package rcaeval // import "github.com/otelcol-aiops/otelcol-aiops/internal/rcaeval"

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graphpdata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
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

// Rank returns the 1-based rank of the true root cause, 0 when it is not ranked.
func (o *Outcome) Rank() int {
	if i := slices.Index(o.Ranked, o.RootCause); i >= 0 {
		return i + 1
	}
	return 0
}

// Step is the event time fed per round: the chain sees telemetry in chunks of this length.
const Step = time.Second

// Run plays one scenario through analyzer, graph store and incident engine.
func Run(sc sim.Scenario) (Outcome, error) {
	out := Outcome{Name: sc.Name}
	var fault *sim.Fault
	if len(sc.Faults) > 0 {
		fault = &sc.Faults[0]
		out.FaultKind = fault.Kind
		out.RootCause = fault.RootCause()
	}
	an, err := analyzer.New(analyzer.DefaultConfig())
	if err != nil {
		return out, err
	}
	gcfg := graph.DefaultConfig()
	store, err := graph.New(gcfg)
	if err != nil {
		return out, err
	}
	engine, err := rca.New(rca.DefaultConfig())
	if err != nil {
		return out, err
	}

	var (
		spans    []graph.Span
		rec      analyzer.Record
		res      analyzer.Result
		emitted  = map[string]time.Time{} // incident id -> watermark of its first emission
		duringAt = map[string]time.Time{} // incident id -> first emission at or after the fault start
		finalInc = map[string]incident.Incident{}
	)
	collect := func(incs []incident.Incident, wm time.Time) {
		for _, inc := range incs {
			if _, ok := emitted[inc.ID]; !ok {
				emitted[inc.ID] = wm
			}
			if _, ok := duringAt[inc.ID]; !ok && fault != nil && !wm.Before(fault.Start) {
				duringAt[inc.ID] = wm
			}
			if old, ok := finalInc[inc.ID]; !ok || inc.Version >= old.Version {
				finalInc[inc.ID] = inc
			}
		}
	}
	_, err = sim.Run(sc, Step, func(ch sim.Chunk) error {
		spans = graphpdata.AppendSpans(spans[:0], ch.Traces, 0)
		store.AddSpans(spans)
		forEachRecord(ch.Logs, func(service string, lr plog.LogRecord) {
			rec = analyzer.Record{
				Service:        service,
				Message:        lr.Body().AsString(),
				Time:           int64(lr.Timestamp()),
				SeverityNumber: int32(lr.SeverityNumber()),
			}
			an.Analyze(&rec, &res)
			if !res.Verdict.Detected {
				return
			}
			engine.AddAnomaly(rca.Anomaly{
				Service:     service,
				Time:        rec.Time,
				Score:       res.Verdict.Score,
				Severity:    incident.Severity(res.Verdict.Severity),
				Type:        res.Verdict.Type,
				TemplateID:  res.TemplateID,
				Template:    res.Template,
				Line:        rec.Message,
				LogSeverity: rec.SeverityNumber,
			})
		})
		store.Advance(ch.End.UnixNano())
		for _, w := range store.Flush() {
			for i := range w.Edges {
				engine.AddEdge(edgeWindow(&w, &w.Edges[i]))
			}
		}
		collect(engine.Advance(ch.End.UnixNano()), ch.End)
		return nil
	})
	if err != nil {
		return out, err
	}
	for _, w := range store.FlushAll() {
		for i := range w.Edges {
			engine.AddEdge(edgeWindow(&w, &w.Edges[i]))
		}
	}
	end := sc.End()
	collect(engine.Advance(end.UnixNano()), end)

	// Incidents opened before the fault are false alarms. The incident of the fault is the
	// first one emitted (opened, or updated with new evidence) at or after the fault start: an
	// incident that was already open absorbs the fault's evidence and is re-ranked, which is
	// what an operator watching it would see. Its final ranking is scored.
	for id, at := range emitted {
		if finalInc[id].MergedInto != "" {
			continue
		}
		if fault != nil && at.Before(fault.Start) {
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
	if fault != nil && first != nil {
		out.Detected = true
		out.DetectDelay = firstAt.Sub(fault.Start)
		out.Incident = *first
		for _, c := range first.Candidates {
			out.Ranked = append(out.Ranked, c.Service)
		}
	}
	return out, nil
}

func forEachRecord(ld plog.Logs, fn func(service string, lr plog.LogRecord)) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		svc := ""
		if v, ok := rl.Resource().Attributes().Get(graphpdata.AttrServiceName); ok {
			svc = v.AsString()
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				fn(svc, lrs.At(k))
			}
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

func edgeWindow(w *graph.Window, e *graph.Edge) rca.EdgeWindow {
	return rca.EdgeWindow{
		Client:      e.Client.Name,
		Server:      e.Server.Name,
		ClientKind:  e.Client.Kind.String(),
		ServerKind:  e.Server.Kind.String(),
		ConnType:    e.Conn.String(),
		Calls:       int64(e.Calls),
		Errors:      int64(e.Errors),
		LogErrors:   int64(e.LogErrors),
		P50:         e.Latency.P50,
		P95:         e.Latency.P95,
		P99:         e.Latency.P99,
		WindowStart: w.Start,
		WindowEnd:   w.End,
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"math"
	"slices"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
)

// step is the event-time granularity at which evidence is applied to the engine: the evidence
// of each step is applied in event-time order once the watermark has passed the step's end, and
// the incidents that changed are emitted at the step's end. Same input, same steps, same output.
const step = int64(time.Second)

// maxEdgeSources bounds the edge streams (logs2graph connectors) followed.
const maxEdgeSources = 256

// sequencer buffers evidence and applies it to the engine in event-time order once every live
// input has passed it, so that the same input gives the same incidents whatever the arrival
// interleaving of the logs pipeline, the traces pipeline and the connector's output.
//
// Inputs are the log services (their records, normal ones included, show how far each has got;
// the quorum clock combines them so that no single service moves event time) and each edge
// stream (its edge and progress records show up to which window end it is complete). The
// watermark is the least progress over the inputs that are not idle, the logs' progress being
// their event time minus allowed_lateness. An input idle for more than idleTimeout of event time
// behind the most advanced input stops holding the watermark back. Not goroutine-safe.
type sequencer struct {
	engine      *rca.Engine
	metrics     *metricsInput // judges metric samples as they are applied
	logs        *eventtime.Clock
	edges       map[string]int64 // edge stream -> latest complete window end
	lateness    int64
	idleTimeout int64
	maxPending  int

	pending  []evidence
	frontier int64 // every step ending at or before it has been applied
	maxSeen  int64
	firstLog int64 // the first log progress seen: stands for an edge stream not seen yet

	late, pressure, edgeSourcesDropped, unconfirmed uint64
	shares                                          uint64 // windows merged into another replica's share
}

func newSequencer(engine *rca.Engine, clk *eventtime.Clock, lateness, idleTimeout time.Duration, maxPending int) *sequencer {
	return &sequencer{
		engine: engine, logs: clk, edges: map[string]int64{},
		lateness: int64(lateness), idleTimeout: int64(idleTimeout), maxPending: maxPending,
		frontier: math.MinInt64,
	}
}

// add takes one batch in: progress first, then its evidence (late evidence is counted and still
// applied at the next step).
func (s *sequencer) add(in *batchInput) {
	for _, p := range in.logs {
		s.logs.Observe(p.source, p.t)
		if s.firstLog == 0 || p.t < s.firstLog {
			s.firstLog = p.t
		}
	}
	for _, p := range in.edges {
		old, ok := s.edges[p.source]
		if !ok && len(s.edges) >= maxEdgeSources {
			s.edgeSourcesDropped++
			continue
		}
		s.edges[p.source] = max(old, p.t)
	}
	for i := range in.evidence {
		if in.evidence[i].t <= s.frontier {
			s.late++
		}
	}
	s.pending = append(s.pending, in.evidence...)
	s.maxSeen = max(s.maxSeen, in.maxTime)
}

// watermark is how far every live input is complete (math.MinInt64: nothing yet).
func (s *sequencer) watermark() int64 {
	var ins [1 + maxEdgeSources]int64
	n := 0
	if now := s.logs.Now(); now > 0 {
		ins[n] = now - s.lateness
		n++
	}
	for _, p := range s.edges {
		ins[n] = p
		n++
	}
	if len(s.edges) == 0 && s.firstLog > 0 {
		// A connector's edge stream starts a window and its lateness after the first records:
		// until one is seen, the start of the logs stands for it, for at most idle_timeout.
		ins[n] = s.firstLog
		n++
	}
	if n == 0 {
		return math.MinInt64
	}
	most := slices.Max(ins[:n])
	w := int64(math.MaxInt64)
	for _, p := range ins[:n] {
		if p >= most-s.idleTimeout {
			w = min(w, p)
		}
	}
	return w
}

// confirmed is the latest event time that a quorum of log services, or an edge stream, has
// reached: unlike the latest time seen, no single skewed source can move it.
func (s *sequencer) confirmed() int64 {
	r := s.logs.Now()
	for _, p := range s.edges {
		r = max(r, p)
	}
	return r
}

// process applies the evidence the watermark allows and returns the incidents that changed.
// Beyond maxPending buffered items, everything up to the confirmed event time is applied at once
// (counted as pressure), and what still exceeds the bound, stamped beyond any confirmed time, is
// dropped (counted as unconfirmed).
func (s *sequencer) process() []incident.Incident {
	w := s.watermark()
	if len(s.pending) <= s.maxPending {
		return s.advance(w)
	}
	s.pressure++
	out := s.advance(max(w, s.confirmed()))
	if over := len(s.pending) - s.maxPending; over > 0 {
		slices.SortFunc(s.pending, func(a, b evidence) int { return compareEvidence(&a, &b) })
		clear(s.pending[s.maxPending:])
		s.pending = s.pending[:s.maxPending]
		s.unconfirmed += uint64(over)
	}
	return out
}

// advance applies, step by step, the evidence of every step ending at or before w, and moves
// the engine to the last step boundary at or before w.
func (s *sequencer) advance(w int64) []incident.Incident {
	if w == math.MinInt64 {
		return nil
	}
	to := floorStep(w)
	if to <= s.frontier && !s.hasLate() {
		return nil
	}
	slices.SortFunc(s.pending, func(a, b evidence) int { return compareEvidence(&a, &b) })
	var merged int
	s.pending, merged = mergeShares(s.pending)
	s.shares += uint64(merged)
	var out []incident.Incident
	i := 0
	for i < len(s.pending) {
		end := ceilStep(s.pending[i].t)
		if end > to {
			break
		}
		out = append(out, s.engine.Advance(end-step)...)
		j := i
		for ; j < len(s.pending) && s.pending[j].t <= end; j++ {
			switch ev := &s.pending[j]; {
			case ev.edge:
				s.engine.AddEdge(ev.w)
			case ev.svc:
				s.engine.AddServiceWindow(ev.sw)
			case ev.metric:
				if s.metrics != nil {
					s.metrics.apply(s.engine, ev.ms)
				}
			default:
				s.engine.AddAnomaly(ev.a)
			}
		}
		out = append(out, s.engine.Advance(end)...)
		i = j
	}
	clear(s.pending[:i])
	s.pending = append(s.pending[:0], s.pending[i:]...)
	if to > s.frontier {
		out = append(out, s.engine.Advance(to)...)
		s.frontier = to
	}
	return out
}

func (s *sequencer) hasLate() bool {
	for i := range s.pending {
		if s.pending[i].t <= s.frontier {
			return true
		}
	}
	return false
}

// idle moves event time forward by d beyond the confirmed event time (the input has stopped),
// applying the buffered evidence up to there. Evidence stamped further ahead keeps waiting.
func (s *sequencer) idle(d time.Duration) []incident.Incident {
	base := max(s.frontier, s.watermark(), s.confirmed())
	if base <= 0 {
		return nil
	}
	return s.advance(base + int64(d))
}

// drain applies everything buffered up to the confirmed event time (at shutdown). Evidence
// stamped beyond it, which no other input confirms, is dropped and counted.
func (s *sequencer) drain() []incident.Incident {
	if len(s.pending) == 0 {
		return nil
	}
	out := s.advance(max(s.frontier, s.confirmed()))
	s.unconfirmed += uint64(len(s.pending))
	clear(s.pending)
	s.pending = s.pending[:0]
	return out
}

// restore continues after a restart from the engine's restored event time.
func (s *sequencer) restore(wm int64) {
	if wm > 0 {
		s.frontier = floorStep(wm)
		s.maxSeen = max(s.maxSeen, wm)
		s.logs.AdvanceTo(wm)
	}
}

func floorStep(t int64) int64 {
	q := t / step
	if t%step != 0 && t < 0 {
		q--
	}
	return q * step
}

// ceilStep is the end of the step holding t: steps are (end-step, end].
func ceilStep(t int64) int64 {
	f := floorStep(t)
	if f == t {
		return t
	}
	return f + step
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"math"
	"slices"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
)

// ServiceWindow is one logs2graph.service record: a service's own time in one event-time window
// (its spans' durations minus their children's), and the egress time of its calls out.
type ServiceWindow struct {
	Service                string
	Spans, Errors          int64
	SelfMs                 float64 // mean own time per span, ms
	EgressSpans            int64
	EgressMs               float64 // mean egress time per call-making span, ms
	WindowStart, WindowEnd int64   // unix nanoseconds
}

// Own-time anomaly types.
const (
	ownTimeType = contract.TypeOwnTime
	egressType  = contract.TypeEgressTime
)

// ownHistory is the size of a service's own-time baseline, in windows; ownWarmup the windows it
// needs before judging.
const (
	ownHistory = 60
	ownWarmup  = 12
)

// ownSeries is one signal's recent history (normal windows only) and its run of changed windows.
type ownSeries struct {
	vals     []float64 // ring of normal values
	next     int
	run      int     // consecutive changed windows
	strong   int     // of them, windows changed by the whole factor (not only a quarter of it)
	runMax   float64 // largest ratio in the run
	runStart int64   // start of the run's first window
}

type ownState struct {
	self ownSeries
	last int64 // last window end seen
}

// baseline returns the median and the MAD of the history (ok false during warm-up).
func (s *ownSeries) baseline(scratch []float64) (med, mad float64, ok bool) {
	if len(s.vals) < ownWarmup {
		return 0, 0, false
	}
	scratch = append(scratch[:0], s.vals...)
	v := scratch
	slices.Sort(v)
	med = v[len(v)/2]
	for i := range v {
		v[i] = math.Abs(v[i] - med)
	}
	slices.Sort(v)
	return med, v[len(v)/2], true
}

func (s *ownSeries) push(x float64) {
	if len(s.vals) < ownHistory {
		s.vals = append(s.vals, x)
		return
	}
	s.vals[s.next] = x
	s.next = (s.next + 1) % ownHistory
}

// ownVerdict is how far one window moved from its service's history.
type ownVerdict struct {
	w        ServiceWindow
	kind     string
	ratio    float64
	med, val float64
	start    int64 // the run's first window
	seen     int64 // the window judged
}

// AddServiceWindow feeds one service's own time in a window. Windows are judged when Advance
// passes their end, all services of a window together: a window where many services changed at
// once is load, not a fault of one of them.
func (e *Engine) AddServiceWindow(w ServiceWindow) {
	e.stats.ServiceWindowsIn++
	if w.Service == "" || w.WindowEnd <= 0 || w.WindowStart > w.WindowEnd || w.Spans < 0 || w.EgressSpans < 0 ||
		!finite(w.SelfMs, w.EgressMs) {
		e.stats.DroppedInvalid++
		return
	}
	if len(e.svcWins) >= e.cfg.MaxServices*4 {
		e.stats.DroppedServicesFull++
		return
	}
	e.bump(w.WindowEnd)
	e.svcWins = append(e.svcWins, w)
}

// judgeWindow judges every service of one window against its own history.
func (e *Engine) judgeWindow(ws []ServiceWindow) {
	var changed []ownVerdict
	judged := 0
	// A load burst (users' requests well above their usual rate) slows services down: changes
	// in such a window neither start nor extend a run.
	end := ws[0].WindowEnd
	calls, seen := e.entry[end]
	for k := range e.entry {
		if k <= end {
			delete(e.entry, k)
		}
	}
	burst := false
	if seen {
		if med, _, ok := e.load.baseline(e.scratch[:0]); ok && med > 0 && float64(calls) >= 1.5*med {
			burst = true
		}
		e.load.push(float64(calls))
	}
	for _, w := range ws {
		st := e.own[w.Service]
		if st == nil {
			if len(e.own) >= e.cfg.MaxServices {
				e.stats.DroppedServicesFull++
				continue
			}
			st = &ownState{}
			e.own[w.Service] = st
		}
		st.last = max(st.last, w.WindowEnd)
		for _, sig := range []struct {
			s    *ownSeries
			kind string
			n    int64
			v    float64
		}{{&st.self, ownTimeType, w.Spans, w.SelfMs}} {
			// Egress time is not judged per service: a caller's calls get slower when the
			// callee answers late too. The edges' gaps tell the two apart (gap.go).
			if sig.n < e.cfg.MinCalls {
				continue // too few spans to say anything; the run is not broken either
			}
			med, mad, ok := sig.s.baseline(e.scratch[:0])
			if !ok {
				sig.s.push(sig.v)
				continue
			}
			judged++
			// Changed: at least OwnTimeFactor times the median and well outside the usual
			// spread (heavy tails and bursts widen the MAD), by at least 1 ms.
			// A very steady service is changed at half of the factor's move when the value is
			// far outside its spread (30 scaled MADs).
			floor := med + max(6*1.4826*mad, 1)
			tight := sig.v >= med*(1+(e.cfg.OwnTimeFactor-1)/2) && sig.v >= med+max(30*1.4826*mad, 1)
			strong := (sig.v >= med*e.cfg.OwnTimeFactor || tight) && sig.v >= floor
			// A steady service whose own time moved by a quarter of the factor's move, far
			// outside its spread (10 scaled MADs), is changed when that lasts twice as long.
			mild := sig.v >= med*(1+(e.cfg.OwnTimeFactor-1)/4) && sig.v >= med+max(10*1.4826*mad, 1)
			if strong || mild {
				if burst {
					e.stats.OwnTimeFleetWide++
					continue
				}
				if sig.s.run == 0 {
					sig.s.runStart = w.WindowStart
				}
				sig.s.run++
				if strong {
					sig.s.strong++
				}
				ratio := sig.v / max(med, 0.1)
				sig.s.runMax = max(sig.s.runMax, ratio)
				if sig.s.strong >= e.cfg.OwnTimePersistence || sig.s.run >= 2*e.cfg.OwnTimePersistence {
					changed = append(changed, ownVerdict{w: w, kind: sig.kind, ratio: sig.s.runMax, med: med, val: sig.v, start: sig.s.runStart, seen: w.WindowStart})
				}
				continue
			}
			sig.s.run, sig.s.runMax, sig.s.strong = 0, 0, 0
			sig.s.push(sig.v)
		}
	}
	// Many services changed in the same window: load (a burst, a shared host), not a fault of
	// one of them.
	if len(changed) >= 3 && float64(len(changed)) > e.cfg.FleetShare*float64(max(judged, 1)) {
		e.stats.OwnTimeFleetWide += uint64(len(changed))
		return
	}
	for _, v := range changed {
		e.stats.OwnTimeAnomalies++
		score := clamp01(0.45 + 0.15*math.Log2(v.ratio))
		what := "own time per span"
		if v.kind == egressType {
			what = "egress time per call"
		}
		t := v.start
		if t <= 0 {
			t = v.w.WindowEnd
		}
		a := Anomaly{Service: v.w.Service, Time: t, Score: score, Severity: SeverityOf(score), Type: v.kind,
			Line: fmt.Sprintf("%s of %s is %.1f ms (%.1fx its usual %.1f ms)", what, v.w.Service, v.val, v.val/max(v.med, 0.1), v.med)}
		if max(t, v.seen) < e.wm-int64(e.cfg.CorrelationWindow) {
			e.stats.DroppedLate++ // late by its last window, not its start: a lasting change stays placed
			continue
		}
		e.place(pendingAnom{a: a, seen: v.seen})
	}
}

// pruneOwn forgets services whose last window is older than the edge TTL.
func (e *Engine) pruneOwn() {
	for s, st := range e.own {
		if st.last < e.wm-int64(e.cfg.EdgeTTL) {
			delete(e.own, s)
		}
	}
}

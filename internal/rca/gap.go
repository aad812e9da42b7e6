// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Call gaps: for every call-making span, the time between the caller's span and the callee's
// (network, queues, the caller's side of the call), per edge and window (logs2graph's
// graph.gap.* attributes). A gap that grows is a delay either on the callee's side (its responses
// are late: a network delay on its pod) or on the caller's side (its requests leave late, or it
// is too busy to read the answers: CPU saturation). The edges tell them apart: a callee whose
// calls from several callers all got slower, while those callers' other calls did not, is the
// one that is late; a caller whose calls to several callees all got slower is itself slow.
// Where one edge alone changed, the legs of its gap tell: a longer request leg (the caller's
// span start to the call's start) is the caller's egress, a longer response leg (the call's end
// to the caller's span end) the callee's, unless the caller's own time changed too (a caller
// short of CPU does its work after the call late).

// gapObs is one edge window's gap summary, waiting for Advance to pass its end.
type gapObs struct {
	client, server string
	calls          int64
	p50            float64 // ms
	legs           bool    // req and resp are known
	req, resp      float64 // mean request and response legs, ms
	start, end     int64
}

// gapState is one edge's gap history.
type gapState struct {
	s    ownSeries
	last int64 // end of the last window judged (with gap data)
	med  float64
	val  float64
	// req and resp are the histories of the request and response legs (windows with legs);
	// legsNow, reqNow and respNow the legs of the last changed window.
	req, resp       ownSeries
	legsNow         bool
	reqNow, respNow float64
}

// pushNormal adds a window whose gap did not change to the histories; its legs only when
// their means agree with its median (a window where a few calls were very late teaches the
// legs nothing).
func (st *gapState) pushNormal(w *gapObs, slack float64) {
	st.s.push(w.p50)
	if w.legs && w.req+w.resp <= 2*w.p50+slack {
		st.req.push(w.req)
		st.resp.push(w.resp)
	}
}

// legSide says which leg of the gap moved in the last changed window against its history:
// 1 the request leg (the caller's side), -1 the response leg (the callee's side), 0 neither
// clearly (both, or no legs or history).
func (st *gapState) legSide(scratch []float64) int {
	if !st.legsNow {
		return 0
	}
	mq, _, ok1 := st.req.baseline(scratch)
	mr, _, ok2 := st.resp.baseline(scratch)
	if !ok1 || !ok2 {
		return 0
	}
	// The leg that moved must carry at least half the gap's change (the legs are means, the
	// gap a median: a few very late calls move a mean alone).
	dq, dr, half := st.reqNow-mq, st.respNow-mr, (st.val-st.med)/2
	switch {
	case dq >= half && dq >= legDominance*max(dr, 0):
		return 1
	case dr >= half && dr >= legDominance*max(dq, 0):
		return -1
	}
	return 0
}

// legDominance is how many times more one leg of a changed gap must have moved than the other
// to name the side.
const legDominance = 3

type gapKey struct{ client, server string }

// addGap buffers the gap summary of edge window w (already validated by AddEdge).
func (e *Engine) addGap(w *EdgeWindow) {
	if w.GapCalls <= 0 || w.ClientKind == "user" || strings.HasPrefix(w.Client, "[") {
		return
	}
	if len(e.gapWins) >= e.cfg.MaxEdges*4 {
		e.stats.DroppedEdgesFull++
		return
	}
	e.gapWins = append(e.gapWins, gapObs{client: w.Client, server: w.Server, calls: w.GapCalls, p50: w.GapP50,
		legs: w.GapLegs, req: w.GapRequestMs, resp: w.GapResponseMs, start: w.WindowStart, end: w.WindowEnd})
}

// judgeWindows judges the buffered service windows and gap summaries ending at or before now,
// window by window in event-time order (own time first, then gaps), so that how far one call
// moves the watermark does not change the order in which anomalies are placed.
func (e *Engine) judgeWindows(now int64) {
	sort.SliceStable(e.svcWins, func(i, j int) bool {
		if e.svcWins[i].WindowEnd != e.svcWins[j].WindowEnd {
			return e.svcWins[i].WindowEnd < e.svcWins[j].WindowEnd
		}
		return e.svcWins[i].Service < e.svcWins[j].Service
	})
	sort.SliceStable(e.gapWins, func(i, j int) bool {
		a, b := &e.gapWins[i], &e.gapWins[j]
		if a.end != b.end {
			return a.end < b.end
		}
		if a.client != b.client {
			return a.client < b.client
		}
		return a.server < b.server
	})
	i, g := 0, 0
	for {
		end := int64(math.MaxInt64)
		if i < len(e.svcWins) {
			end = e.svcWins[i].WindowEnd
		}
		if g < len(e.gapWins) {
			end = min(end, e.gapWins[g].end)
		}
		if end > now {
			break
		}
		j := i
		for j < len(e.svcWins) && e.svcWins[j].WindowEnd == end {
			j++
		}
		if j > i {
			e.judgeWindow(e.svcWins[i:j])
		}
		h := g
		for h < len(e.gapWins) && e.gapWins[h].end == end {
			h++
		}
		if h > g {
			e.judgeGapWindow(e.gapWins[g:h])
		}
		i, g = j, h
	}
	n := copy(e.svcWins, e.svcWins[i:])
	clear(e.svcWins[n:])
	e.svcWins = e.svcWins[:n]
	n = copy(e.gapWins, e.gapWins[g:])
	clear(e.gapWins[n:])
	e.gapWins = e.gapWins[:n]
}

// judgeGapWindow judges the edges of one window against their own gap history, then charges
// every edge whose gap stayed changed for LatencyPersistence windows to the side that explains
// it.
func (e *Engine) judgeGapWindow(ws []gapObs) {
	var firing []gapKey
	for _, w := range ws {
		k := gapKey{w.client, w.server}
		st := e.gaps[k]
		if st == nil {
			if len(e.gaps) >= e.cfg.MaxEdges {
				e.stats.DroppedEdgesFull++
				continue
			}
			st = &gapState{}
			e.gaps[k] = st
		}
		if st.s.run > 0 && w.start-st.last > int64(e.cfg.LowVolumeMaxGap) {
			st.s.run, st.s.runMax = 0, 0 // too long without calls: a new run
		}
		st.last = max(st.last, w.end)
		med, mad, ok := st.s.baseline(e.scratch[:0])
		if !ok {
			st.pushNormal(&w, e.cfg.MinLatencyIncreaseMs)
			continue
		}
		// Changed: OwnTimeFactor times the usual gap, well outside its spread (bursts widen
		// it) and at least MinLatencyIncreaseMs more.
		floor := med + max(6*1.4826*mad, e.cfg.MinLatencyIncreaseMs)
		if w.p50 < med*e.cfg.OwnTimeFactor || w.p50 < floor {
			st.s.run, st.s.runMax = 0, 0
			st.pushNormal(&w, e.cfg.MinLatencyIncreaseMs)
			continue
		}
		st.legsNow, st.reqNow, st.respNow = w.legs, w.req, w.resp
		if st.s.run == 0 {
			st.s.runStart = w.start
		}
		st.s.run++
		st.s.runMax = max(st.s.runMax, w.p50/max(med, 0.1))
		st.med, st.val = med, w.p50
		if st.s.run >= e.cfg.LatencyPersistence {
			firing = append(firing, k)
		}
	}
	if len(firing) == 0 {
		return
	}
	// Which side explains each firing edge: the share of each service's recent calls in
	// (callee side) or out (caller side) whose gap is changed.
	type side struct{ in, inChanged, out, outChanged int }
	sides := map[string]*side{}
	get := func(s string) *side {
		if sides[s] == nil {
			sides[s] = &side{}
		}
		return sides[s]
	}
	recent := ws[0].end - int64(e.cfg.LowVolumeMaxGap)
	for k, st := range e.gaps {
		if st.last < recent || len(st.s.vals) < ownWarmup {
			continue
		}
		c, s := get(k.client), get(k.server)
		c.out++
		s.in++
		if st.s.run > 0 {
			c.outChanged++
			s.inChanged++
		}
	}
	type blame struct {
		svc        string
		ratio      float64
		start      int64
		edges      []string
		delta      float64
		callerSide bool
	}
	blamed := map[string]*blame{}
	var order []string
	for _, k := range firing {
		st := e.gaps[k]
		c, s := sides[k.client], sides[k.server]
		if c == nil || s == nil {
			continue
		}
		fc := float64(c.outChanged) / float64(max(c.out, 1))
		fs := float64(s.inChanged) / float64(max(s.in, 1))
		// The caller is slow when several of its calls changed, more of them than of the
		// callee's. When one call of the caller changed, and it is the callee's only changed
		// caller or several other callers of the callee still get their answers on time, the
		// leg of its gap that moved decides, unless the caller's own time changed too (then
		// the caller); without a clear leg, the caller when the callee serves others on time,
		// else the callee. When more of the caller's calls changed than of the callee's and
		// several other callers are served on time, the caller; any other edge, the callee.
		// (The legs come after the other edges: a caller short of CPU lengthens whichever leg
		// holds its own work.)
		who, callerSide := k.server, false
		lone := c.outChanged == 1 && s.inChanged == 1
		onTime := fc > fs && s.in-s.inChanged >= 2
		switch {
		case c.outChanged >= 2 && (fc > fs || (fc == fs && c.outChanged > s.inChanged)):
			callerSide = true
		case c.outChanged == 1 && (lone || onTime):
			// A caller whose own time changed too is short of CPU: its work after the call
			// lengthens the response leg, which would otherwise point at the callee.
			if own := e.own[k.client]; own != nil && own.self.run > 0 {
				callerSide = true
				break
			}
			switch st.legSide(e.scratch[:0]) {
			case 1:
				callerSide = true
			case 0:
				callerSide = onTime
			}
		case onTime:
			callerSide = true
		}
		if callerSide {
			who = k.client
		}
		b := blamed[who]
		if b == nil {
			b = &blame{svc: who, start: st.s.runStart, callerSide: callerSide}
			blamed[who] = b
			order = append(order, who)
		}
		b.ratio = max(b.ratio, st.s.runMax)
		b.start = min(b.start, st.s.runStart)
		b.delta = max(b.delta, st.val-st.med)
		if len(b.edges) < 3 {
			b.edges = append(b.edges, fmt.Sprintf("%s->%s %.1f ms (usually %.1f)", k.client, k.server, st.val, st.med))
		}
	}
	// Many services blamed at once is load, not a fault of one of them.
	if len(order) >= 3 && float64(len(order)) > e.cfg.FleetShare*float64(max(len(sides), 1)) {
		e.stats.OwnTimeFleetWide += uint64(len(order))
		return
	}
	sort.Strings(order)
	for _, who := range order {
		b := blamed[who]
		e.stats.OwnTimeAnomalies++
		score := clamp01(0.45 + 0.15*math.Log2(b.ratio))
		what := "responses from %s reach its callers late"
		if b.callerSide {
			what = "calls from %s take longer on its side"
		}
		t := b.start
		if max(t, ws[0].start) < e.wm-int64(e.cfg.CorrelationWindow) {
			e.stats.DroppedLate++
			continue
		}
		a := Anomaly{Service: who, Time: t, Score: score, Severity: SeverityOf(score), Type: egressType,
			Line: fmt.Sprintf(what+" (+%.0f ms between caller and callee spans): %s", who, b.delta, strings.Join(b.edges, ", "))}
		e.place(pendingAnom{a: a, seen: ws[0].start})
	}
}

// pruneGaps forgets edges whose last window is older than the edge TTL.
func (e *Engine) pruneGaps() {
	for k, st := range e.gaps {
		if st.last < e.wm-int64(e.cfg.EdgeTTL) {
			delete(e.gaps, k)
		}
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
)

// Stopped calls: a busy edge whose calls stop while its caller keeps working (it still calls
// others or serves its own callers) and fails (an error burst in its logs) lost its callee: a
// network partition, a callee that refuses connections before any span of its own starts. With
// kind-less spans the failed calls leave no edge at all, only the caller's error lines; the
// silence of the edge is what names the callee. A caller that stops calling without failing is
// held up elsewhere (a slow dependency upstream of the call) or was rerouted: not evidence
// against the callee.

// stoppedWindows is how many whole windows without calls stop a busy edge; stoppedMinCalls
// the median calls per window of its history that make it busy (a quiet edge pauses by chance).
const (
	stoppedWindows  = 2
	stoppedMinCalls = 10
)

// stopScore is the score of a stopped edge (High): it joins and ranks, and opens an incident
// only where its edge's anomalies may (an internal edge's do not by default).
const stopScore = 0.8

// checkStopped raises the stopped edges whose silence the watermark has passed, in key order.
func (e *Engine) checkStopped() {
	var due []*edge
	for _, ed := range e.g.edges {
		if !ed.stopped && ed.win > 0 && ed.lastCalls > 0 && e.wm >= ed.lastCalls+stoppedWindows*ed.win {
			due = append(due, ed)
		}
	}
	slices.SortFunc(due, func(a, b *edge) int {
		return strings.Compare(a.key.client+"\x00"+a.key.server+"\x00"+a.key.conn, b.key.client+"\x00"+b.key.server+"\x00"+b.key.conn)
	})
	for _, ed := range due {
		e.stopCheck(ed)
	}
}

// stopCheck decides once whether edge ed, silent for stoppedWindows windows after lastCalls,
// stopped: it was busy, its caller is a service, and the caller had calls in or out in those
// windows and logged an error burst then or just before. It runs when the watermark passes the
// silence, or when the edge's next window comes after it, whichever is first, and decides from
// the windows up to the silence's end only, so the answer does not depend on when it runs.
func (e *Engine) stopCheck(ed *edge) {
	ed.stopped = true
	from, to := ed.lastCalls, ed.lastCalls+stoppedWindows*ed.win
	if strings.HasPrefix(ed.key.client, "[") {
		return
	}
	usual, ok := ed.base.medianCalls()
	if !ok || usual < stoppedMinCalls {
		return
	}
	c := e.g.nodes[ed.key.client]
	if c == nil || !c.activeIn(from, to) {
		return // the caller went quiet too: no traffic, not a lost callee
	}
	if !e.failsIn(ed.key.client, from-stoppedWindows*ed.win, to, usual) {
		return // a caller that stopped calling without failing: held up elsewhere, or rerouted
	}
	if e.namesAnotherCallee(ed.key.client, ed.key.server, from-stoppedWindows*ed.win, to) {
		return // its requests fail at another callee first, so they no longer reach this one
	}
	if from-ed.win < e.wm-int64(e.cfg.CorrelationWindow) {
		e.stats.DroppedLate++
		return
	}
	e.stats.EdgeAnomalies++
	sig := &edgeSignal{caller: ed.key.client, kind: contract.TypeEdgeStopped, score: stopScore, calls: int64(usual)}
	// The calls stopped during the last window with calls, or right after it.
	a := Anomaly{Service: ed.key.server, Time: from - ed.win, Score: stopScore, Severity: SeverityOf(stopScore),
		Type: sig.kind, Line: sig.describe(ed.key.server)}
	if e.onEdgeAnomaly != nil {
		e.onEdgeAnomaly(a, ed.key.client)
	}
	e.place(pendingAnom{a: a, sig: sig, noOpen: !e.cfg.InternalEdgesOpen})
}

// failsIn reports whether service svc, whose stopped edge usually carries usual calls per
// window, failed in [lo, hi]: it logged an error burst, or unusual error lines (rare or new
// templates) as many as half the calls of one window (the calls turned into failures), or
// error lines that the connector linked to the spans it serves (edge_log_errors: its own
// lines, judged against the edge's history even while its log detectors warm up). Failed
// calls to svc without such lines do not count: they say that svc (or something in front of
// it) fails its callers, and a service cut off from its callers stops calling its callees too.
func (e *Engine) failsIn(svc string, lo, hi int64, usual float64) bool {
	lines := 0
	for _, b := range e.hist.svcs[svc] {
		if b.start+historyBucket <= lo || b.start > hi {
			continue
		}
		if b.sa.types[contract.TypeErrorBurst] > 0 || b.sa.types[contract.TypeEdgeLogErrors] > 0 {
			return true
		}
		lines += b.sa.errLines
	}
	return float64(lines) >= usual/2
}

// medianCalls is the median calls per window over the edge's recent judged windows (false
// before latHistory/4 of them).
func (b *baseline) medianCalls() (float64, bool) {
	var v [latHistory]float64
	s, ok := sortedRing(&b.calls, b.callsN, &v)
	if !ok {
		return 0, false
	}
	return s[len(s)/2], true
}

// describeStopped is the evidence line of a stopped edge.
func describeStopped(s *edgeSignal, callee string) string {
	return fmt.Sprintf("calls from %s to %s stopped (usually %d per window) while %s kept working", s.caller, callee, s.calls, s.caller)
}

// namesAnotherCallee reports whether the error lines that service svc logged as anomalies in
// [lo, hi] name one or more of its other callees but not callee: its requests fail at the
// callee they name (a connection refused or an error from that peer) before reaching this one,
// whose calls therefore stop too. A name counts as a whole word of a template (letters, digits,
// '-' and '_'), the way host names and service names appear in connection errors. When no
// callee, or callee itself, is named, the lines do not tell which call fails first.
func (e *Engine) namesAnotherCallee(svc, callee string, lo, hi int64) bool {
	n := e.g.nodes[svc]
	if n == nil {
		return false
	}
	other := false
	for _, b := range e.hist.svcs[svc] {
		if b.start+historyBucket <= lo || b.start > hi {
			continue
		}
		for _, t := range b.sa.templates {
			if t.errors == 0 {
				continue
			}
			for _, w := range strings.FieldsFunc(t.text, notNameRune) {
				if w == callee {
					return false
				}
				if w != svc && n.out[w] > 0 {
					other = true
				}
			}
		}
	}
	return other
}

// notNameRune reports whether r cannot be part of a service name as it appears in log lines.
func notNameRune(r rune) bool {
	return !(r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
}

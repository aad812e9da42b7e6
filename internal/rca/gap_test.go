// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// gapTopology: the user calls a and b; a calls x and y, b calls x and z. Every internal call has a
// steady gap of about 2 ms (busy edges, steady latency: only the gaps can tell).
var gapTopology = [][2]string{{"user", "a"}, {"user", "b"}, {"a", "x"}, {"a", "y"}, {"b", "x"}, {"b", "z"}}

// gapRun plays windows of gapTopology; from window `from` on, slow(client, server) returns the
// gap added to that edge (ms). When advanceEach is false the engine advances only at the end.
func gapRun(t *testing.T, windows, from int, advanceEach bool, slow func(c, s string) float64) ([]incident.Incident, Stats) {
	t.Helper()
	return gapRunOn(t, gapTopology, windows, from, advanceEach, slow)
}

// gapRunOn is gapRun on another topology.
func gapRunOn(t *testing.T, topology [][2]string, windows, from int, advanceEach bool, slow func(c, s string) float64) ([]incident.Incident, Stats) {
	t.Helper()
	return gapRunLegs(t, topology, windows, from, advanceEach, slow, 0)
}

// gapRunLegs is gapRunOn whose windows also give the gap's legs (split evenly) when leg is not 0,
// the added gap going to the request leg (leg 1) or to the response leg (leg -1).
func gapRunLegs(t *testing.T, topology [][2]string, windows, from int, advanceEach bool, slow func(c, s string) float64, leg int) ([]incident.Incident, Stats) {
	t.Helper()
	return gapRunOwn(t, topology, windows, from, advanceEach, slow, leg, "")
}

// gapRunOwn is gapRunLegs that also feeds every service's own time (10 ms a span), tripled for
// service starved from window `from` on (none when "").
func gapRunOwn(t *testing.T, topology [][2]string, windows, from int, advanceEach bool, slow func(c, s string) float64, leg int, starved string) ([]incident.Incident, Stats) {
	t.Helper()
	s := newSim(t, nil)
	const win = 15 * sec
	var out []incident.Incident
	for i := range windows {
		ws := t0 + int64(i)*win
		for j, l := range topology {
			w := EdgeWindow{Client: l[0], Server: l[1], ClientKind: "service", ServerKind: "service", ConnType: "inferred",
				Calls: 40, P50: 5, P95: 9, P99: 12, WindowStart: ws, WindowEnd: ws + win}
			if l[0] == "user" {
				w.ClientKind = "user"
			} else {
				w.GapCalls = 40
				w.GapP50 = 2 + 0.3*float64((i*7+j*3)%5) // a little noise
				w.GapLegs, w.GapRequestMs, w.GapResponseMs = leg != 0, w.GapP50/2, w.GapP50/2
				if i >= from {
					extra := slow(l[0], l[1])
					w.GapP50 += extra
					if leg > 0 {
						w.GapRequestMs += extra
					} else {
						w.GapResponseMs += extra
					}
				}
			}
			s.e.AddEdge(w)
		}
		if starved != "" {
			seen := map[string]bool{}
			for _, l := range topology {
				for _, svc := range l {
					if svc == "user" || seen[svc] {
						continue
					}
					seen[svc] = true
					self := 10 + 0.5*float64((i*3+len(svc))%4)
					if svc == starved && i >= from {
						self *= 3
					}
					s.e.AddServiceWindow(ServiceWindow{Service: svc, Spans: 40, SelfMs: self, WindowStart: ws, WindowEnd: ws + win})
				}
			}
		}
		if advanceEach {
			out = append(out, s.e.Advance(ws+win)...)
		}
	}
	if !advanceEach {
		out = append(out, s.e.Advance(t0+int64(windows)*win)...)
	}
	return out, s.e.Stats()
}

func TestGapChargesTheLateCallee(t *testing.T) {
	out, st := gapRun(t, 40, 30, true, func(_, s string) float64 {
		if s == "x" {
			return 1000 // x's answers reach both of its callers a second late
		}
		return 0
	})
	require.NotEmpty(t, out, "a second more on every call to x opens an incident")
	assert.Equal(t, "x", out[0].RootCauseService, "x answers late to both callers, whose other calls are fine")
	assert.Contains(t, fmt.Sprint(out[0].Candidates[0].Reasons), "responses from x reach its callers late")
	assert.Positive(t, st.OwnTimeAnomalies)
}

func TestGapChargesTheSlowCaller(t *testing.T) {
	out, _ := gapRun(t, 40, 30, true, func(c, _ string) float64 {
		if c == "a" {
			return 80 // a is starved: all of its calls take longer on its side
		}
		return 0
	})
	require.NotEmpty(t, out)
	assert.Equal(t, "a", out[0].RootCauseService, "both of a's calls slowed, b's call to x did not: a is slow")
	assert.Contains(t, fmt.Sprint(out[0].Candidates[0].Reasons), "calls from a take longer on its side")
}

// TestGapChargesTheCallerWithOneCallee: c calls only x; x also serves a and b. Only c's calls to x
// slowed: x still answers its two other callers on time, so c is slow (an egress delay on c),
// although c has no other call to compare with. With one other caller of x the evidence is too
// thin, and the callee stays charged.
func TestGapChargesTheCallerWithOneCallee(t *testing.T) {
	onlyC := func(c, _ string) float64 {
		if c == "c" {
			return 200
		}
		return 0
	}
	topo := [][2]string{{"user", "a"}, {"user", "b"}, {"user", "c"}, {"a", "x"}, {"b", "x"}, {"c", "x"}, {"a", "y"}}
	out, _ := gapRunOn(t, topo, 40, 30, true, onlyC)
	require.NotEmpty(t, out)
	assert.Equal(t, "c", out[0].RootCauseService, "x's other two callers are served on time")
	assert.Contains(t, fmt.Sprint(out[0].Candidates[0].Reasons), "calls from c take longer on its side")

	thin := [][2]string{{"user", "b"}, {"user", "c"}, {"b", "x"}, {"c", "x"}, {"b", "y"}}
	out, _ = gapRunOn(t, thin, 40, 30, true, onlyC)
	require.NotEmpty(t, out)
	assert.Equal(t, "x", out[0].RootCauseService, "one caller served on time is not enough to clear x")

	// With legs, the leg that moved decides even though x serves its other callers on time: a
	// longer response leg is x's answers reaching c late (c's own time did not change).
	out, _ = gapRunLegs(t, topo, 40, 30, true, onlyC, -1)
	require.NotEmpty(t, out)
	assert.Equal(t, "x", out[0].RootCauseService, "the response leg moved")
	assert.Contains(t, fmt.Sprint(out[0].Candidates[0].Reasons), "responses from x reach its callers late")
	out, _ = gapRunLegs(t, topo, 40, 30, true, onlyC, 1)
	require.NotEmpty(t, out)
	assert.Equal(t, "c", out[0].RootCauseService, "the request leg moved")
}

func TestGapNoiseAndPersistence(t *testing.T) {
	out, st := gapRun(t, 60, 1000, true, nil)
	assert.Empty(t, out, "steady gaps: nothing")
	assert.Zero(t, st.OwnTimeAnomalies)

	out, _ = gapRun(t, 40, 30, true, func(_, s string) float64 {
		if s == "x" {
			return 20 // 10x, but under min_latency_increase_ms
		}
		return 0
	})
	assert.Empty(t, out, "a change of 20 ms is below the absolute floor")

	s := newSim(t, nil)
	const win = 15 * sec
	for i := range 40 {
		ws := t0 + int64(i)*win
		gap := 2.0
		if i == 30 {
			gap = 1500 // one slow window only
		}
		s.e.AddEdge(EdgeWindow{Client: "a", Server: "x", ClientKind: "service", ServerKind: "service", ConnType: "inferred",
			Calls: 40, P50: 5, P95: 9, P99: 12, WindowStart: ws, WindowEnd: ws + win, GapCalls: 40, GapP50: gap})
		assert.Empty(t, s.e.Advance(ws+win))
	}
	assert.Zero(t, s.e.Stats().OwnTimeAnomalies, "one window is not a lasting change")
}

func TestGapSameAnswerWhateverTheAdvance(t *testing.T) {
	slow := func(_, s string) float64 {
		if s == "x" {
			return 1000
		}
		return 0
	}
	_, each := gapRun(t, 40, 30, true, slow)
	_, once := gapRun(t, 40, 30, false, slow)
	assert.Equal(t, each.OwnTimeAnomalies, once.OwnTimeAnomalies, "windows are judged in order, however far one Advance moves")
}

func TestGapInvalidIsDropped(t *testing.T) {
	s := newSim(t, nil)
	s.e.AddEdge(EdgeWindow{Client: "a", Server: "x", Calls: 1, WindowStart: t0, WindowEnd: t0 + 15*sec, GapCalls: -1})
	s.e.AddEdge(EdgeWindow{Client: "a", Server: "x", Calls: 1, WindowStart: t0, WindowEnd: t0 + 15*sec, GapCalls: 1, GapP50: -3})
	assert.Equal(t, uint64(2), s.e.Stats().DroppedInvalid)
}

// loneTopology: f calls only c and c serves only f (c and e call d); onFC adds 200 ms to that
// edge's gap.
var loneTopology = [][2]string{{"user", "f"}, {"f", "c"}, {"c", "d"}, {"e", "d"}}

func onFC(c, s string) float64 {
	if c == "f" && s == "c" {
		return 200
	}
	return 0
}

// TestGapLegsNameTheSideOfALoneEdge: f calls only c, c serves only f, and only that edge's gap
// grew: the shares of changed calls cannot tell whose side is late. The leg that moved does: a
// longer request leg is f's egress, a longer response leg c's. Without legs the callee stays
// charged.
func TestGapLegsNameTheSideOfALoneEdge(t *testing.T) {
	for _, tc := range []struct {
		leg    int
		root   string
		reason string
	}{
		{1, "f", "calls from f take longer on its side"},
		{-1, "c", "responses from c reach its callers late"},
		{0, "c", "responses from c reach its callers late"},
	} {
		t.Run(fmt.Sprint("leg", tc.leg), func(t *testing.T) {
			out, _ := gapRunLegs(t, loneTopology, 40, 30, true, onFC, tc.leg)
			require.NotEmpty(t, out)
			assert.Equal(t, tc.root, out[0].RootCauseService)
			assert.Contains(t, fmt.Sprint(out[0].Candidates[0].Reasons), tc.reason)
		})
	}
}

// TestGapLegsYieldToAStarvedCaller: the same lone edge whose response leg moved, while the
// caller's own time tripled: a caller short of CPU does its work after the call late, so the
// response leg points at the wrong side, and the caller is charged.
func TestGapLegsYieldToAStarvedCaller(t *testing.T) {
	var charged []string
	out, _ := gapRunOwn(t, loneTopology, 40, 30, true, onFC, -1, "f")
	require.NotEmpty(t, out)
	for _, c := range out[len(out)-1].Candidates {
		for _, r := range c.Reasons {
			if strings.Contains(r, "between caller and callee spans") {
				charged = append(charged, c.Service)
			}
		}
	}
	assert.Equal(t, []string{"f"}, charged, "the gap goes to the starved caller")
	assert.Equal(t, "f", out[len(out)-1].RootCauseService)
}

// TestGapLegsNeedTheirShareOfTheChange: a request leg that moved a little while the gap grew a
// lot names no side; the lone edge stays charged to the callee.
func TestGapLegsNeedTheirShareOfTheChange(t *testing.T) {
	s := newSim(t, nil)
	const win = 15 * sec
	var out []incident.Incident
	for i := range 40 {
		ws := t0 + int64(i)*win
		for _, l := range [][2]string{{"user", "f"}, {"f", "c"}} {
			w := EdgeWindow{Client: l[0], Server: l[1], ClientKind: "service", ServerKind: "service", ConnType: "inferred",
				Calls: 40, P50: 5, P95: 9, P99: 12, WindowStart: ws, WindowEnd: ws + win}
			if l[0] == "user" {
				w.ClientKind = "user"
			} else {
				w.GapCalls, w.GapP50, w.GapLegs, w.GapRequestMs, w.GapResponseMs = 40, 2+0.1*float64(i%3), true, 1, 1
				if i >= 30 {
					// The median gap grew by 300 ms; the legs' means by 20 ms on the request side
					// and less on the response side (a mean does not follow a median).
					w.GapP50 += 300
					w.GapRequestMs, w.GapResponseMs = 21, 2
				}
			}
			s.e.AddEdge(w)
		}
		out = append(out, s.e.Advance(ws+win)...)
	}
	require.NotEmpty(t, out)
	assert.Equal(t, "c", out[0].RootCauseService)
}

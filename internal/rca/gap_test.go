// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
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
				if i >= from {
					w.GapP50 += slow(l[0], l[1])
				}
			}
			s.e.AddEdge(w)
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

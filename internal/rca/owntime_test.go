// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// ownRun feeds 15 s windows of services a (entry) -> b -> c with steady own times, then from
// window `from` multiplies the own time of the services in slow by factor; edges are steady
// (busy, internal), so only own time can tell.
func ownRun(t *testing.T, cfg func(*Config), windows, from int, factor float64, slow ...string) []incident.Incident {
	t.Helper()
	return ownRunWith(t, cfg, windows, func(i int, svc string) float64 {
		if i >= from && slices.Contains(slow, svc) {
			return factor
		}
		return 1
	})
}

// ownRunWith is ownRun with the factor of service svc's own time in window i given by factor.
func ownRunWith(t *testing.T, cfg func(*Config), windows int, factor func(i int, svc string) float64) []incident.Incident {
	t.Helper()
	return ownRunSelf(t, cfg, windows, func(i, j int, svc string) float64 {
		return (2.0 + float64(j) + 0.3*float64((i*7+j*3)%5)) * factor(i, svc) // a little noise
	})
}

// ownRunSelf feeds the windows of ownRun with the own time of the j-th service svc in window i
// given by self.
func ownRunSelf(t *testing.T, cfg func(*Config), windows int, self func(i, j int, svc string) float64) []incident.Incident {
	t.Helper()
	s := newSim(t, cfg)
	const win = 15 * sec
	var out []incident.Incident
	for i := range windows {
		ws := t0 + int64(i)*win
		for _, l := range [][2]string{{"user", "a"}, {"a", "b"}, {"b", "c"}} {
			w := EdgeWindow{Client: l[0], Server: l[1], ClientKind: "service", ServerKind: "service", ConnType: "inferred",
				Calls: 100, P50: 5, P95: 9, P99: 12, WindowStart: ws, WindowEnd: ws + win}
			if l[0] == "user" {
				w.ClientKind = "user"
			}
			s.e.AddEdge(w)
		}
		for j, svc := range []string{"a", "b", "c"} {
			s.e.AddServiceWindow(ServiceWindow{Service: svc, Spans: 100, SelfMs: self(i, j, svc), WindowStart: ws, WindowEnd: ws + win})
		}
		out = append(out, s.e.Advance(ws+win)...)
	}
	return out
}

// roots maps every incident that was not merged away to its last root cause.
func roots(out []incident.Incident) map[string]string {
	m := map[string]string{}
	for _, inc := range out {
		if inc.MergedInto == "" {
			m[inc.ID] = inc.RootCauseService
		}
	}
	return m
}

func TestOwnTimeOpensAndRanks(t *testing.T) {
	out := ownRun(t, nil, 60, 40, 6, "b")
	require.NotEmpty(t, out, "b's own time 6x its history for 5 minutes opens an incident")
	first := out[0]
	assert.Equal(t, "b", first.RootCauseService, "the service whose own signals moved, not its caller or callee")
	assert.Equal(t, t0+40*15*sec, first.StartedAt.UnixNano(), "the incident starts at the first changed window")
	assert.Contains(t, fmt.Sprint(first.Candidates[0].Reasons), "own time per span of b is")
}

func TestOwnTimeNoiseAndFleetWide(t *testing.T) {
	assert.Empty(t, ownRun(t, nil, 80, 1000, 1), "steady, slightly noisy own times: nothing")
	assert.Empty(t, ownRun(t, nil, 60, 40, 1.5), "1.5x is within the factor")
	out := ownRun(t, nil, 60, 40, 6, "a", "b", "c")
	assert.Empty(t, out, "every service slower together is load, not a fault")
}

// A service whose own time is very steady is changed at less than OwnTimeFactor when the move
// is far outside its spread: CPU contention that slows it by 1.8x is a fault. The same move in a
// noisy service, or a smaller one, is not.
func TestOwnTimeOfASteadyServiceMovesLess(t *testing.T) {
	// b's own time is factor times higher from window 40 for windows windows.
	run := func(factor, noise float64, windows int) []incident.Incident {
		return ownRunSelf(t, nil, 40+windows, func(i, j int, svc string) float64 {
			self := 6 + float64(j) + (0.02+noise)*float64((i*7+j*3)%5)
			if i >= 40 && svc == "b" {
				self *= factor
			}
			return self
		})
	}
	out := run(1.8, 0, 20)
	require.NotEmpty(t, out, "1.8x on a steady service")
	assert.Equal(t, "b", out[0].RootCauseService)
	assert.Contains(t, fmt.Sprint(out[0].Candidates[0].Reasons), "own time per span of b is")
	assert.Empty(t, run(1.8, 0.5, 20), "1.8x within a wide spread is left to the factor")

	// A smaller move (a quarter of the factor's, far outside the spread) counts when it lasts
	// twice own_time_persistence windows.
	cfg := DefaultConfig()
	out = run(1.4, 0, 2*cfg.OwnTimePersistence+2)
	require.NotEmpty(t, out, "1.4x on a steady service, lasting")
	assert.Equal(t, "b", out[0].RootCauseService)
	assert.Empty(t, run(1.4, 0, 2*cfg.OwnTimePersistence-1), "1.4x, not lasting twice the persistence")
	assert.Empty(t, run(1.2, 0, 20), "under a quarter of the factor's move: not a change")
	assert.Empty(t, run(1.4, 0.5, 20), "1.4x within a wide spread")
}

func TestOwnTimeOneWindowIsNotEnough(t *testing.T) {
	s := newSim(t, nil)
	const win = 15 * sec
	for i := range 40 {
		ws := t0 + int64(i)*win
		self := 3.0
		if i == 30 {
			self = 60
		}
		s.e.AddServiceWindow(ServiceWindow{Service: "b", Spans: 50, SelfMs: self, WindowStart: ws, WindowEnd: ws + win})
		assert.Empty(t, s.e.Advance(ws+win))
	}
	assert.Zero(t, s.e.Stats().OwnTimeAnomalies)
}

// A latency anomaly of a busy internal edge alone does not open an incident by default; the same
// on the entry edge does.
func TestBusyInternalEdgeAloneDoesNotOpen(t *testing.T) {
	run := func(cfg func(*Config), client, clientKind string) []incident.Incident {
		s := newSim(t, cfg)
		var out []incident.Incident
		for i := range 60 {
			ws := t0 + int64(i)*10*sec
			p95 := 10.0
			if i >= 40 {
				p95 = 900
			}
			s.e.AddEdge(EdgeWindow{Client: client, Server: "b", ClientKind: clientKind, ServerKind: "service", ConnType: "http",
				Calls: 50, P50: p95 / 2, P95: p95, P99: p95 * 1.2, WindowStart: ws, WindowEnd: ws + 10*sec})
			out = append(out, s.e.Advance(ws+10*sec)...)
		}
		return out
	}
	assert.Empty(t, run(nil, "a", "service"), "internal edge")
	assert.NotEmpty(t, run(nil, "user", "user"), "entry edge: what users feel")
	assert.NotEmpty(t, run(func(c *Config) { c.InternalEdgesOpen = true }, "a", "service"), "internal_edges_open")
}

func TestServiceWindowInvalidIsCounted(t *testing.T) {
	s := newSim(t, nil)
	s.e.AddServiceWindow(ServiceWindow{Service: "", WindowEnd: t0})
	s.e.AddServiceWindow(ServiceWindow{Service: "a", WindowEnd: 0})
	s.e.AddServiceWindow(ServiceWindow{Service: "a", WindowEnd: t0, Spans: -1})
	assert.Equal(t, uint64(3), s.e.Stats().DroppedInvalid)
}

// Resource metrics say where, not that users feel it: a metric anomaly alone opens nothing.
func TestMetricAnomalyAloneDoesNotOpen(t *testing.T) {
	s := newSim(t, nil)
	for i := range 10 {
		s.e.AddAnomaly(Anomaly{Service: "db", Time: t0 + int64(i)*60*sec, Score: 0.95, Type: "metric_cpu", Line: "cpu 5x its baseline"})
		assert.Empty(t, s.e.Advance(t0+int64(i)*60*sec))
	}
	assert.Zero(t, s.e.Stats().IncidentsOpened)
}

// TestLaterFaultOfAnotherServiceIsItsOwnIncident: a's own time goes up for 10 minutes; 7.5
// minutes in, its callee b's own time goes up too. b's change starts long after a's incident
// began: it is a new problem with b as its root cause, not more evidence for a.
func TestLaterFaultOfAnotherServiceIsItsOwnIncident(t *testing.T) {
	out := ownRunWith(t, nil, 100, func(i int, svc string) float64 {
		if (svc == "a" && i >= 40 && i < 80) || (svc == "b" && i >= 70 && i < 90) {
			return 6
		}
		return 1
	})
	got := roots(out)
	require.Len(t, got, 2, "two problems that began 7.5 minutes apart are two incidents: %v", got)
	assert.ElementsMatch(t, []string{"a", "b"}, slices.Collect(maps.Values(got)))
}

// TestSameServiceFailsAgainAfterRecovering: b's own time goes up for 4 minutes, is back to normal
// for 3.5 minutes, then goes up again. The second change began long after the first incident
// did, and after b had recovered: a second incident of b, not more evidence for the first (a
// user must hear of it). A pause shorter than two open windows is the same change.
func TestSameServiceFailsAgainAfterRecovering(t *testing.T) {
	twice := func(pauseFrom, pauseTo int) map[string]string {
		return roots(ownRunWith(t, nil, 100, func(i int, svc string) float64 {
			if svc == "b" && i >= 40 && i < 90 && (i < pauseFrom || i >= pauseTo) {
				return 6
			}
			return 1
		}))
	}
	got := twice(56, 70)
	require.Len(t, got, 2, "recovered for 3.5 minutes, then slow again: two incidents: %v", got)
	for _, r := range got {
		assert.Equal(t, "b", r)
	}
	assert.Len(t, twice(66, 69), 1, "a 45 s pause in a lasting change is the same problem")
	assert.Len(t, twice(0, 0), 1, "one lasting change is one incident")
}

func TestOwnScoreSurvivesRestart(t *testing.T) {
	s := newSim(t, nil)
	const win = 15 * sec
	for i := range 45 {
		ws := t0 + int64(i)*win
		self := 3.0 + 0.3*float64(i%4)
		if i >= 40 {
			self = 30
		}
		s.e.AddServiceWindow(ServiceWindow{Service: "b", Spans: 100, SelfMs: self, WindowStart: ws, WindowEnd: ws + win})
		s.e.Advance(ws + win)
	}
	require.Equal(t, 1, s.e.OpenIncidents())
	var id string
	for k := range s.e.open {
		id = k
	}
	want := s.e.open[id].services["b"]
	require.Positive(t, want.ownScore)
	snap, err := s.e.MarshalBinary()
	require.NoError(t, err)
	s2 := newSim(t, nil)
	require.NoError(t, s2.e.UnmarshalBinary(snap))
	got := s2.e.open[id].services["b"]
	assert.InDelta(t, want.ownScore, got.ownScore, 1e-12, "the own score ranks the restored incident as before")
	assert.Equal(t, want.ownLine, got.ownLine)
}

// TestOwnTimeInALoadBurstIsLoad: b's own time is 6x its usual for five windows. When the users'
// requests (calls from the user node) are three times their usual rate in those windows, it is
// the burst's doing and raises nothing; at the usual rate it is an own-time anomaly.
func TestOwnTimeInALoadBurstIsLoad(t *testing.T) {
	run := func(burst bool) Stats {
		s := newSim(t, nil)
		const win = 15 * sec
		for i := range 50 {
			ws := t0 + int64(i)*win
			slow := i >= 40 && i < 45
			calls := int64(100 + i%7)
			if slow && burst {
				calls *= 3
			}
			s.e.AddEdge(EdgeWindow{Client: "user", Server: "a", ClientKind: "user", ServerKind: "service", ConnType: "virtual",
				Calls: calls, P50: 5, P95: 9, P99: 12, WindowStart: ws, WindowEnd: ws + win})
			for j, svc := range []string{"a", "b"} {
				self := 2.0 + float64(j) + 0.3*float64((i*7+j*3)%5)
				if slow && svc == "b" {
					self *= 6
				}
				s.e.AddServiceWindow(ServiceWindow{Service: svc, Spans: 100, SelfMs: self, WindowStart: ws, WindowEnd: ws + win})
			}
			s.e.Advance(ws + win)
		}
		return s.e.Stats()
	}
	assert.Positive(t, run(false).OwnTimeAnomalies, "at the usual load, 6x for five windows is an anomaly")
	st := run(true)
	assert.Zero(t, st.OwnTimeAnomalies, "in a burst of requests it is load")
	assert.Positive(t, st.OwnTimeFleetWide, "and counted as load")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

func dbFault(s *sim, base int64) {
	s.runFault(shop, base, 3*60*sec,
		[]edgeFault{
			{clientName: "payment", serverName: "orders-db", errRate: 0.6},
			{clientName: "checkout", serverName: "payment", errRate: 0.4, from: 10 * sec},
			{clientName: "frontend", serverName: "checkout", errRate: 0.3, from: 10 * sec},
		},
		[]event{
			{svc: "payment", typ: "error_burst", tid: "p1", tpl: "db query failed: connection refused <*>", score: 0.8, at: 2 * sec, every: 3 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c1", tpl: "payment call failed status <*>", score: 0.75, at: 6 * sec, every: 4 * sec},
			{svc: "frontend", typ: "rate_spike", tid: "f1", tpl: "HTTP 500 on /checkout", score: 0.7, at: 9 * sec, every: 5 * sec},
		})
}

func TestDatabaseFaultVirtualNode(t *testing.T) {
	s := newSim(t, nil)
	dbFault(s, t0)
	fin := s.final()
	require.Len(t, fin, 1, "one incident for one problem")
	var inc incident.Incident
	for _, v := range fin {
		inc = v
	}
	assert.Equal(t, "orders-db", inc.RootCauseService)
	assert.Equal(t, "database", inc.Candidates[0].Kind)
	assert.Equal(t, []string{"orders-db", "payment", "checkout", "frontend"}, inc.PropagationPath)
	assert.Equal(t, incident.StatusResolved, inc.Status)
	require.NotNil(t, inc.ResolvedAt)
	assert.Contains(t, inc.RootCauseIssue, "payment")
	assert.Contains(t, inc.RootCauseIssue, "fail")
	assert.Equal(t, "statistical", inc.Source)
	assert.Equal(t, incident.SeverityCritical, inc.Severity, "60%% errors over a ~1%% baseline")
	assert.Greater(t, inc.Confidence, 0.5)
	assert.LessOrEqual(t, inc.Confidence, 1.0)
	assert.ElementsMatch(t, []string{"orders-db", "payment", "checkout", "frontend"}, inc.AffectedServices)
	for i, c := range inc.Candidates {
		assert.Greater(t, c.Score, 0.0)
		assert.LessOrEqual(t, c.Score, 1.0)
		if i > 0 {
			assert.LessOrEqual(t, c.Score, inc.Candidates[i-1].Score)
		}
		assert.NotEmpty(t, c.Reasons)
	}
	assert.InDelta(t, 1.0, inc.Candidates[0].Score, 1e-9)
	assert.Contains(t, inc.DependencyPaths, []string{"orders-db", "payment", "checkout", "frontend"})
	for _, p := range inc.DependencyPaths {
		assert.LessOrEqual(t, len(p), 6)
		assert.Equal(t, "orders-db", p[0])
	}
	require.NotEmpty(t, inc.Evidence)
	assert.LessOrEqual(t, len(inc.Evidence), DefaultConfig().MaxEvidence)
	assert.True(t, strings.HasPrefix(inc.Evidence[0], "[CRITICAL] 2026-03-01T10:02:00Z orders-db: 60% of 100 calls from payment"), inc.Evidence[0])
	prev := ""
	for _, ev := range inc.Evidence {
		// RFC3339 times sort lexically at a fixed zone and precision up to nanoseconds
		ts := strings.Fields(ev)[1]
		_, err := time.Parse(time.RFC3339Nano, ts)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, ts, prev)
		prev = ts
	}
	assert.Contains(t, inc.Explanation, "Timeline: 10:02:00 orders-db")
	assert.Contains(t, inc.Explanation, "propagation orders-db -> payment -> checkout -> frontend")
	var tplServices []string
	for _, tr := range inc.TopTemplates {
		tplServices = append(tplServices, tr.Service)
		assert.Positive(t, tr.Count)
	}
	assert.Subset(t, tplServices, []string{"payment", "checkout", "frontend"})
	assert.Equal(t, time.Unix(0, t0+120*sec).UTC(), inc.StartedAt)
	// JSON has every schema field
	b, err := json.Marshal(inc)
	require.NoError(t, err)
	for _, f := range []string{"root_cause_service", "root_cause_issue", "propagation_path", "evidence", "confidence",
		"explanation", "dependency_paths", "candidates", "affected_services", "severity", "top_templates",
		"started_at", "updated_at", "resolved_at", "source"} {
		assert.Contains(t, string(b), `"`+f+`"`)
	}
}

func TestUpdatesKeepIDAndQuietPeriodResolves(t *testing.T) {
	s := newSim(t, nil)
	dbFault(s, t0)
	require.NotEmpty(t, s.out)
	id := s.out[0].ID
	assert.Regexp(t, "^[0-9a-f]{16}$", id)
	last := 0
	var lastUpdate int64
	for i, in := range s.out {
		assert.Equal(t, id, in.ID)
		assert.Equal(t, last+1, in.Version, "versions increase by one (%d)", i)
		last = in.Version
		if i < len(s.out)-1 {
			assert.Equal(t, incident.StatusOpen, in.Status)
			assert.Nil(t, in.ResolvedAt)
		}
		lastUpdate = max(lastUpdate, in.UpdatedAt.UnixNano())
	}
	assert.Greater(t, len(s.out), 1, "opened during the fault, then resolved")
	fin := s.out[len(s.out)-1]
	assert.Equal(t, incident.StatusResolved, fin.Status)
	require.NotNil(t, fin.ResolvedAt)
	assert.Equal(t, fin.UpdatedAt.Add(DefaultConfig().QuietPeriod), *fin.ResolvedAt)
	assert.Equal(t, 0, s.e.OpenIncidents())
	st := s.e.Stats()
	assert.Equal(t, uint64(1), st.IncidentsOpened)
	assert.Equal(t, uint64(1), st.IncidentsResolved)
	assert.Equal(t, uint64(len(s.out)-2), st.IncidentsUpdated)
	assert.Positive(t, st.EdgeAnomalies)
	// the first version already appears during the fault, not only at resolution
	assert.Less(t, s.out[0].UpdatedAt.UnixNano(), t0+150*sec)
}

func TestBadDeployLeafService(t *testing.T) {
	s := newSim(t, nil)
	s.runFault(shop, t0, 2*60*sec,
		[]edgeFault{{clientName: "checkout", serverName: "inventory", errRate: 0.5}},
		[]event{
			{svc: "inventory", typ: "new_template", tid: "i1", tpl: "NullPointerException in StockService.reserve", score: 0.9, at: 0, every: 2 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c2", tpl: "inventory reserve failed: 500", score: 0.7, at: 4 * sec, every: 5 * sec},
			{svc: "frontend", typ: "error_burst", tid: "f2", tpl: "checkout failed", score: 0.6, at: 8 * sec, every: 8 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Equal(t, "inventory", inc.RootCauseService)
		assert.Equal(t, []string{"inventory", "checkout", "frontend"}, inc.PropagationPath)
		assert.Equal(t, incident.SeverityCritical, inc.Severity)
		assert.NotContains(t, inc.AffectedServices, "payment")
		assert.NotContains(t, inc.AffectedServices, "orders-db")
	}
}

// TestErrorRecordsFailCallsWithoutStatus: spans say nothing about failures (no status, no status
// attribute), but half of inventory's calls now come with two error records each, linked to their
// spans, and checkout logs the failures. The linked records are an edge failure of inventory, as
// failed spans would be, so inventory and not the caller that logs is the root cause; the few
// error records every service logs in normal operation are not.
func TestErrorRecordsFailCallsWithoutStatus(t *testing.T) {
	s := newSim(t, nil)
	s.runFault(shop, t0, 2*60*sec, []edgeFault{{clientName: "checkout", serverName: "inventory", logErrs: 1}},
		[]event{{svc: "checkout", typ: "error_burst", tid: "c2", tpl: "inventory reserve failed", score: 0.8, at: 0, every: 5 * sec}})
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Equal(t, "inventory", inc.RootCauseService)
		assert.Contains(t, fmt.Sprint(inc.Candidates[0].Reasons), "edge_log_errors")
		assert.Contains(t, inc.RootCauseIssue, "of 100 calls from checkout to inventory log errors")
	}

	quiet := newSim(t, nil)
	quiet.warm(shop, t0, t0+10*60*sec)
	assert.Empty(t, quiet.out, "background error records on busy edges open nothing")
}

// TestAFreshEdgeNeedsHistory: an edge's first windows are not judged on latency until its recent
// history can hold its usual bursts (a quarter of latHistory windows), nor on error records until
// its baseline is warm (every service logs some errors): a collector that just started does not
// alert on the first burst it sees. Failed spans are judged from the start.
func TestAFreshEdgeNeedsHistory(t *testing.T) {
	entry := []link{{"user", "frontend", "user", "service"}}
	run := func(f edgeFault, from int64) Stats {
		s := newSim(t, nil)
		f.clientName, f.serverName, f.from = "user", "frontend", t0+from*s.win
		for i := range int64(8) {
			s.window(entry, t0+i*s.win, []edgeFault{f})
			s.advance(t0 + (i+1)*s.win)
		}
		return s.e.Stats()
	}
	assert.Zero(t, run(edgeFault{p95: 500}, 4).EdgeAnomalies, "a burst in the fifth window: too early to say")
	assert.Zero(t, run(edgeFault{logErrs: 0.8}, 0).EdgeAnomalies, "error records on most calls from the start: that edge's normal")
	assert.Positive(t, run(edgeFault{errRate: 0.8}, 0).EdgeAnomalies, "failed spans: judged from the start")

	late := newSim(t, nil)
	late.runFault(entry, t0, 60*late.win/10, []edgeFault{{clientName: "user", serverName: "frontend", p95: 500}}, nil)
	assert.Positive(t, late.e.Stats().EdgeAnomalies, "the same burst after 2 minutes of history")
}

// TestAnEdgeLearnsItsBursts: a window with 1.5 times the edge's median calls or more is a burst
// of requests. Until an edge's latency history spans 40 windows, a burst's latency is load
// (learned, not alerted on); the same latency without the extra calls is a change. Afterwards
// the first burst is learned too (bursts can come less often than the history spans), and a
// later one is judged against the earlier bursts: as slow as they were is load, three times
// slower is a change.
func TestAnEdgeLearnsItsBursts(t *testing.T) {
	entry := []link{{"user", "frontend", "user", "service"}}
	type burst struct {
		from  int64
		calls float64
		p95   float64
	}
	run := func(windows int64, bursts ...burst) Stats {
		s := newSim(t, nil)
		for i := range windows {
			var f []edgeFault
			for _, b := range bursts {
				if i >= b.from && i < b.from+4 { // a burst lasts four windows
					f = append(f, edgeFault{clientName: "user", serverName: "frontend", calls: b.calls, p95: b.p95})
				}
			}
			s.window(entry, t0+i*s.win, f)
			s.advance(t0 + (i+1)*s.win)
		}
		return s.e.Stats()
	}
	assert.Zero(t, run(30, burst{20, 4, 500}).EdgeAnomalies, "four times the calls after 200 s of history: a burst")
	assert.Positive(t, run(30, burst{20, 0, 500}).EdgeAnomalies, "the same latency with the usual calls")
	assert.Positive(t, run(30, burst{20, 1.2, 500}).EdgeAnomalies, "a few more calls than usual are no burst")

	assert.Zero(t, run(70, burst{60, 4, 500}).EdgeAnomalies, "the first burst after 40 windows of history")
	assert.Positive(t, run(70, burst{60, 0, 500}).EdgeAnomalies, "the same latency with the usual calls, then")
	assert.Zero(t, run(110, burst{60, 4, 500}, burst{100, 4, 600}).EdgeAnomalies, "a burst as slow as the earlier one")
	assert.Positive(t, run(110, burst{60, 4, 500}, burst{100, 4, 1500}).EdgeAnomalies, "a burst three times slower")
}

func TestCascadingTimeout(t *testing.T) {
	s := newSim(t, nil)
	s.runFault(shop, t0, 2*60*sec,
		[]edgeFault{
			{clientName: "checkout", serverName: "payment", p95: 5000},
			{clientName: "frontend", serverName: "checkout", p95: 5100, from: 10 * sec},
		},
		[]event{
			{svc: "payment", typ: "rare_template", tid: "p3", tpl: "request handling exceeded deadline <*> ms", score: 0.75, at: 1 * sec, every: 3 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c3", tpl: "timeout calling payment after <*> ms", score: 0.8, at: 5 * sec, every: 3 * sec},
			{svc: "frontend", typ: "error_burst", tid: "f3", tpl: "upstream timeout", score: 0.8, at: 11 * sec, every: 3 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Equal(t, "payment", inc.RootCauseService)
		assert.Equal(t, []string{"payment", "checkout", "frontend"}, inc.PropagationPath)
		assert.Contains(t, strings.Join(inc.Candidates[0].Reasons, ";"), "edge latency from checkout")
	}
}

func TestTwoUnrelatedProblems(t *testing.T) {
	links := append(append([]link(nil), shop...),
		link{"scheduler", "report-worker", "service", "service"},
		link{"report-worker", "reports-db", "service", "database"},
	)
	// The report problem shows only on an internal edge and in unusual lines: with internal edges
	// allowed to open incidents, it is an incident of its own.
	s := newSim(t, func(c *Config) { c.InternalEdgesOpen = true })
	s.runFault(links, t0, 2*60*sec,
		[]edgeFault{
			{clientName: "payment", serverName: "orders-db", errRate: 0.7},
			{clientName: "report-worker", serverName: "reports-db", p95: 9000},
		},
		[]event{
			{svc: "payment", typ: "error_burst", tid: "p1", tpl: "db query failed", score: 0.8, at: 2 * sec, every: 3 * sec},
			{svc: "report-worker", typ: "rare_template", tid: "r1", tpl: "report query slow <*> ms", score: 0.75, at: 3 * sec, every: 3 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 2)
	roots := map[string][]string{}
	for _, inc := range fin {
		roots[inc.RootCauseService] = inc.AffectedServices
	}
	assert.Equal(t, map[string][]string{
		"orders-db":  {"orders-db", "payment"},
		"reports-db": {"report-worker", "reports-db"},
	}, roots)
}

func TestBelowThresholdOpensNothing(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+60*sec)
	s.anom("payment", t0+61*sec, 0.95, "new_template", "x", "something new")
	// Low anomalies alone never open, whatever their sum
	for i := range 20 {
		s.anom("checkout", t0+61*sec+int64(i)*sec, 0.4, "rare_template", "y", "rare")
	}
	s.warm(shop, t0+60*sec, t0+20*60*sec)
	assert.Empty(t, s.out)
	assert.Equal(t, uint64(0), s.e.Stats().IncidentsOpened)
	assert.Equal(t, uint64(21), s.e.Stats().AnomaliesIn)
}

func TestLateEdgeMergesDuplicates(t *testing.T) {
	// No graph yet: payment and checkout open separate incidents; the edge joining them arrives
	// later and the younger incident is merged into the older one.
	s := newSim(t, nil)
	for i := range 3 {
		s.anom("payment", t0+int64(i)*sec, 0.8, "error_burst", "p", "db error")
	}
	for i := range 3 {
		s.anom("checkout", t0+5*sec+int64(i)*sec, 0.8, "error_burst", "c", "payment error")
	}
	got := s.advance(t0 + 10*sec)
	require.Len(t, got, 2)
	older, younger := got[0], got[1]
	assert.Equal(t, []string{"payment"}, older.AffectedServices)
	s.e.AddEdge(EdgeWindow{Client: "checkout", Server: "payment", ConnType: "rpc", Calls: 10, WindowStart: t0, WindowEnd: t0 + 10*sec})
	got = s.advance(t0 + 11*sec)
	require.Len(t, got, 2)
	assert.Equal(t, older.ID, got[0].ID)
	assert.Equal(t, 2, got[0].Version)
	assert.Equal(t, []string{"checkout", "payment"}, got[0].AffectedServices)
	assert.Equal(t, "payment", got[0].RootCauseService)
	assert.Equal(t, younger.ID, got[1].ID)
	assert.Equal(t, incident.StatusResolved, got[1].Status)
	assert.Equal(t, older.ID, got[1].MergedInto)
	assert.Equal(t, uint64(1), s.e.Stats().IncidentsMerged)
	// further anomalies of either service join the surviving incident
	for i := range 3 {
		s.anom("checkout", t0+20*sec+int64(i)*sec, 0.9, "error_burst", "c", "payment error")
	}
	got = s.advance(t0 + 30*sec)
	require.Len(t, got, 1)
	assert.Equal(t, older.ID, got[0].ID)
	assert.Equal(t, incident.SeverityCritical, got[0].Severity)
	assert.Equal(t, 1, s.e.OpenIncidents())
}

func TestNoDuplicateAfterLongFault(t *testing.T) {
	// A fault lasting longer than the correlation window stays one incident.
	s := newSim(t, nil)
	dur := 3 * DefaultConfig().CorrelationWindow.Nanoseconds()
	s.runFault(shop, t0, dur, []edgeFault{{clientName: "payment", serverName: "orders-db", errRate: 0.6}},
		[]event{{svc: "payment", typ: "error_burst", tid: "p1", tpl: "db failed", score: 0.8, at: 0, every: 20 * sec}})
	assert.Len(t, s.final(), 1)
	assert.Equal(t, uint64(1), s.e.Stats().IncidentsOpened)
}

func TestSimilarPastIncidents(t *testing.T) {
	s := newSim(t, nil)
	dbFault(s, t0)
	first := s.out[len(s.out)-1]
	require.Equal(t, incident.StatusResolved, first.Status)
	require.True(t, s.e.SetResolution(first.ID, "raised orders-db max_connections"))
	assert.False(t, s.e.SetResolution("nope", "x"))
	s.out = nil
	dbFault(s, t0+3600*sec)
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.NotEqual(t, first.ID, inc.ID)
		require.Len(t, inc.SimilarIncidents, 1)
		sim := inc.SimilarIncidents[0]
		assert.Equal(t, first.ID, sim.ID)
		assert.Equal(t, "orders-db", sim.RootCauseService)
		assert.Equal(t, "raised orders-db max_connections", sim.Resolution)
		assert.InDelta(t, 1.0, sim.Similarity, 1e-9)
	}
	// the very first incident had no past
	assert.Empty(t, first.SimilarIncidents)
}

func TestDeterminism(t *testing.T) {
	run := func() []byte {
		s := newSim(t, nil)
		dbFault(s, t0)
		b, err := json.Marshal(s.out)
		require.NoError(t, err)
		return b
	}
	a, b := run(), run()
	assert.JSONEq(t, string(a), string(b))
	assert.Equal(t, a, b)
}

func TestSnapshotRoundTripAndCorruption(t *testing.T) {
	s := newSim(t, nil)
	dbFault(s, t0)
	id := s.out[0].ID
	require.True(t, s.e.SetResolution(id, "restarted the pool"))
	snap, err := s.e.MarshalBinary()
	require.NoError(t, err)

	e2, err := New(DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, e2.UnmarshalBinary(snap))
	want, ok := s.e.KnowledgeBase().Get(id)
	require.True(t, ok)
	got, ok := e2.KnowledgeBase().Get(id)
	require.True(t, ok)
	assert.Equal(t, want, got)
	assert.Equal(t, "restarted the pool", got.Resolution)
	snap2, err := e2.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, snap, snap2)

	// corruption: every truncation, flipped bytes, wrong version, garbage; nothing changes
	check := func(b []byte) {
		t.Helper()
		require.Error(t, e2.UnmarshalBinary(b))
		after, err := e2.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, snap, after)
	}
	for n := range len(snap) {
		check(snap[:n])
	}
	for _, i := range []int{0, 5, 6, 9, 10, len(snap) / 2, len(snap) - 1} {
		b := append([]byte(nil), snap...)
		b[i] ^= 0x41
		check(b)
	}
	check([]byte("garbage that is long enough"))
	check(nil)
}

func TestKnowledgeBaseBound(t *testing.T) {
	s := newSim(t, func(c *Config) { c.KnowledgeBaseSize = 1 })
	dbFault(s, t0)
	dbFault(s, t0+3600*sec)
	assert.Equal(t, 1, s.e.KnowledgeBase().Len())
	assert.Equal(t, uint64(1), s.e.Stats().KnowledgeBaseEvicted)
	// a snapshot bigger than the bound keeps the newest
	big := newSim(t, nil)
	dbFault(big, t0)
	dbFault(big, t0+3600*sec)
	require.Equal(t, 2, big.e.KnowledgeBase().Len())
	snap, err := big.e.MarshalBinary()
	require.NoError(t, err)
	small := newSim(t, func(c *Config) { c.KnowledgeBaseSize = 1 })
	require.NoError(t, small.e.UnmarshalBinary(snap))
	assert.Equal(t, 1, small.e.KnowledgeBase().Len())
	_, ok := small.e.KnowledgeBase().Get(big.out[len(big.out)-1].ID)
	assert.True(t, ok)
}

func TestBoundsAndInvalidInput(t *testing.T) {
	s := newSim(t, func(c *Config) {
		c.MaxEdges = 3
		c.MaxOpenIncidents = 1
		c.MaxServices = 1
		c.MaxEvidence = 2
		c.MaxCandidates = 2
		c.MaxDependencyPaths = 1
	})
	s.warm(shop, t0, t0+30*sec)
	st := s.e.Stats()
	assert.Equal(t, uint64(3*3), st.DroppedEdgesFull, "3 of 6 edges do not fit, 3 windows")
	for _, svc := range []string{"a", "b", "c"} {
		for i := range 3 {
			s.anom(svc, t0+31*sec+int64(i)*sec, 0.8, "error_burst", "t", "x")
		}
	}
	got := s.advance(t0 + 40*sec)
	require.Len(t, got, 1, "only one incident fits")
	assert.LessOrEqual(t, len(got[0].Evidence), 2)
	assert.LessOrEqual(t, len(got[0].Candidates), 2)
	assert.LessOrEqual(t, len(got[0].DependencyPaths), 1)
	st = s.e.Stats()
	assert.Equal(t, uint64(2), st.DroppedIncidentsFull, "b crosses the threshold twice")
	assert.Equal(t, uint64(3), st.DroppedServicesFull, "c's anomalies: a is in the incident, b pending")

	s.e.AddAnomaly(Anomaly{Service: "", Time: t0 + 41*sec, Score: 0.5})
	s.e.AddAnomaly(Anomaly{Service: "x", Time: t0 + 41*sec, Score: nan()})
	s.e.AddAnomaly(Anomaly{Service: "x", Time: 0, Score: 0.5})
	s.e.AddEdge(EdgeWindow{Client: "a", Server: "", WindowEnd: t0})
	s.e.AddEdge(EdgeWindow{Client: "a", Server: "b", WindowStart: t0 + 10, WindowEnd: t0})
	s.e.AddEdge(EdgeWindow{Client: "a", Server: "b", WindowStart: t0, WindowEnd: t0 + 1, P95: -1})
	assert.Equal(t, uint64(6), s.e.Stats().DroppedInvalid)
	s.e.AddAnomaly(Anomaly{Service: "late", Time: t0 + 40*sec - 6*60*sec, Score: 0.9})
	assert.Equal(t, uint64(1), s.e.Stats().DroppedLate)
}

func TestPendingBoundAndEdgeTTL(t *testing.T) {
	s := newSim(t, func(c *Config) { c.MaxPendingPerService = 4; c.EdgeTTL = time.Minute })
	for i := range 10 {
		s.anom("svc", t0+int64(i)*sec, 0.1, "rare_template", "t", "x")
	}
	assert.Equal(t, uint64(6), s.e.Stats().DroppedPendingFull)
	s.window(shop, t0, nil)
	s.advance(t0 + 10*sec)
	assert.Len(t, s.e.g.nodes, 7)
	s.advance(t0 + 10*sec + int64(time.Minute) + 1)
	assert.Equal(t, uint64(6), s.e.Stats().EdgesExpired)
	assert.Empty(t, s.e.g.nodes)
	assert.Len(t, s.e.pending["svc"], 4)
	s.advance(t0 + 10*sec + int64(DefaultConfig().CorrelationWindow))
	assert.Empty(t, s.e.pending, "pending anomalies older than the correlation window are forgotten")
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	c := DefaultConfig()
	c.OpenThreshold = 0
	c.MaxEdges = 0
	c.BaselineAlpha = 2
	c.QuietPeriod = 0
	err := c.Validate()
	require.Error(t, err)
	for _, s := range []string{"open_threshold", "max_edges", "baseline_alpha", "quiet_period"} {
		assert.Contains(t, err.Error(), s)
	}
	_, err = New(c)
	require.Error(t, err)
}

func TestSeverityOf(t *testing.T) {
	assert.Equal(t, incident.SeverityCritical, SeverityOf(0.9))
	assert.Equal(t, incident.SeverityHigh, SeverityOf(0.7))
	assert.Equal(t, incident.SeverityMedium, SeverityOf(0.5))
	assert.Equal(t, incident.SeverityLow, SeverityOf(0.49))
}

func TestCloneIsDeep(t *testing.T) {
	s := newSim(t, nil)
	dbFault(s, t0)
	a := s.out[len(s.out)-1]
	b := a.Clone()
	b.PropagationPath[0] = "x"
	b.Candidates[0].Reasons[0] = "x"
	b.DependencyPaths[0][0] = "x"
	*b.ResolvedAt = time.Time{}
	assert.NotEqual(t, "x", a.PropagationPath[0])
	assert.NotEqual(t, "x", a.Candidates[0].Reasons[0])
	assert.NotEqual(t, "x", a.DependencyPaths[0][0])
	assert.False(t, a.ResolvedAt.IsZero())
}

func TestSlowQueriesLatencyOnlyVirtualNode(t *testing.T) {
	s := newSim(t, nil)
	s.runFault(shop, t0, 2*60*sec,
		[]edgeFault{
			{clientName: "payment", serverName: "orders-db", p95: 4000},
			{clientName: "checkout", serverName: "payment", p95: 4200, from: 10 * sec},
		},
		[]event{
			{svc: "payment", typ: "rare_template", tid: "p4", tpl: "query took <*> ms", score: 0.7, at: 3 * sec, every: 4 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c4", tpl: "payment deadline exceeded", score: 0.8, at: 8 * sec, every: 4 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Equal(t, "orders-db", inc.RootCauseService)
		assert.Contains(t, inc.RootCauseIssue, "p95 latency of calls from payment to orders-db")
		assert.Equal(t, []string{"orders-db", "payment", "checkout"}, inc.PropagationPath)
	}
}

func TestUpdateWhenServiceJoins(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+60*sec)
	for i := range 3 {
		s.anom("payment", t0+61*sec+int64(i)*sec, 0.8, "error_burst", "p", "payment failed")
	}
	got := s.advance(t0 + 70*sec)
	require.Len(t, got, 1)
	first := got[0]
	assert.Equal(t, []string{"payment"}, first.AffectedServices)
	assert.Equal(t, []string{"payment"}, first.PropagationPath)
	assert.Equal(t, [][]string{{"payment"}}, first.DependencyPaths)
	// nothing new: nothing emitted
	assert.Empty(t, s.advance(t0+71*sec))
	// A single anomaly of a connected service is not enough to join (join_threshold).
	s.anom("checkout", t0+80*sec, 0.6, "error_burst", "c", "checkout failed")
	assert.Empty(t, s.advance(t0+81*sec))
	// checkout (a caller of payment) and frontend (two hops) join the same incident once their
	// own evidence is sustained.
	s.anom("checkout", t0+82*sec, 0.6, "error_burst", "c", "checkout failed")
	s.anom("frontend", t0+84*sec, 0.9, "rate_drop", "f", "orders dropped")
	s.anom("frontend", t0+85*sec, 0.9, "rate_drop", "f", "orders dropped")
	got = s.advance(t0 + 90*sec)
	require.Len(t, got, 1)
	upd := got[0]
	assert.Equal(t, first.ID, upd.ID)
	assert.Greater(t, upd.Version, first.Version)
	assert.Equal(t, first.StartedAt, upd.StartedAt)
	assert.Equal(t, time.Unix(0, t0+85*sec).UTC(), upd.UpdatedAt)
	assert.Equal(t, []string{"checkout", "frontend", "payment"}, upd.AffectedServices)
	assert.Equal(t, "payment", upd.RootCauseService)
	assert.Equal(t, []string{"payment", "checkout", "frontend"}, upd.PropagationPath)
	assert.Equal(t, incident.SeverityCritical, upd.Severity)
	assert.GreaterOrEqual(t, s.e.Stats().IncidentsUpdated, uint64(1))
	assert.Equal(t, 1, s.e.OpenIncidents())
}

func TestRareTemplatesAloneDoNotOpenAnIncident(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+60*sec)
	// Background lines that are merely rare: strong enough in sum, but no corroboration.
	for i := range 4 {
		s.anom("payment", t0+61*sec+int64(i)*sec, 0.8, "rare_template", "r", "config reload took <*>")
	}
	assert.Empty(t, s.advance(t0+70*sec))
	assert.Equal(t, 0, s.e.OpenIncidents())
	// Only symptoms add up to open_threshold: one burst does not reach it with the rare lines ...
	s.anom("payment", t0+71*sec, 0.8, "error_burst", "p", "payment failed")
	assert.Empty(t, s.advance(t0+72*sec))
	// ... a second one in the same minute does.
	s.anom("payment", t0+73*sec, 0.8, "error_burst", "p", "payment failed")
	got := s.advance(t0 + 75*sec)
	require.Len(t, got, 1)
	assert.Equal(t, "payment", got[0].RootCauseService)
}

// New templates of warnings and notices are unusual, not failures: however many of them, they
// do not open an incident. A new template of an error-level record does.
func TestOnlySymptomsOpenAnIncident(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+60*sec)
	for i := range 4 {
		s.e.AddAnomaly(Anomaly{Service: "payment", Time: t0 + 61*sec + int64(i)*sec, Score: 0.8, Type: "new_template",
			TemplateID: "w", Template: "config reload took <*>", Line: "config reload took 900ms", LogSeverity: 13})
	}
	assert.Empty(t, s.advance(t0+70*sec))
	assert.Equal(t, 0, s.e.OpenIncidents())

	for i := range 2 {
		s.e.AddAnomaly(Anomaly{Service: "payment", Time: t0 + 71*sec + int64(i)*sec, Score: 0.8, Type: "new_template",
			TemplateID: "e", Template: "charge <*> failed", Line: "charge 42 failed", LogSeverity: 17})
	}
	got := s.advance(t0 + 75*sec)
	require.Len(t, got, 1)
	assert.Equal(t, "payment", got[0].RootCauseService)

	// without a severity the level cannot be told: a new template counts as a symptom
	s2 := newSim(t, nil)
	s2.warm(shop, t0, t0+60*sec)
	for i := range 2 {
		s2.e.AddAnomaly(Anomaly{Service: "payment", Time: t0 + 61*sec + int64(i)*sec, Score: 0.8, Type: "new_template",
			TemplateID: "x", Template: "something <*>", Line: "something 1"})
	}
	require.Len(t, s2.advance(t0+70*sec), 1)
}

// A neighbour whose unusual lines started before the fault joins the incident (it is affected)
// but its earlier onset does not make it the root cause: onsets are those of symptoms, and a
// service without symptoms weighs half.
func TestEarlierUnusualLinesOfANeighbourDoNotWin(t *testing.T) {
	s := newSim(t, nil)
	s.runFault(shop, t0, 90*sec, nil,
		[]event{
			// inventory: rare lines from the start, two a second, High
			{svc: "inventory", typ: "rare_template", tid: "i1", tpl: "cache stats hits=<*>", score: 0.8, at: 0, every: 500 * int64(time.Millisecond)},
			// payment fails from 20 s with new error templates and a burst
			{svc: "payment", typ: "error_burst", tid: "p1", tpl: "charge failed: <*>", score: 0.85, at: 20 * sec, every: 2 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c1", tpl: "call to payment failed", score: 0.8, at: 21 * sec, every: 2 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Equal(t, "payment", inc.RootCauseService, "candidates %+v", inc.Candidates)
		assert.Contains(t, inc.AffectedServices, "inventory")
		for _, c := range inc.Candidates {
			if c.Service == "inventory" {
				assert.Contains(t, strings.Join(c.Reasons, ";"), "no symptom of its own")
			}
		}
	}
}

// A symptom minutes before an incident, followed by a quiet spell, was a separate blip: when its
// service later joins the incident with symptoms of the problem, the blip does not come along,
// so it neither dates the incident's beginning nor makes its service the earliest symptom.
func TestAnEarlierBlipStaysOutOfTheIncident(t *testing.T) {
	s := newSim(t, nil)
	const at = 240 * sec // the problem, 4 minutes after the blip
	s.runFault(shop, t0, at+120*sec, nil,
		[]event{
			{svc: "frontend", typ: "new_template", tid: "f0", tpl: "session store hiccup <*>", score: 0.8, at: 0, every: time.Hour.Nanoseconds()},
			{svc: "payment", typ: "error_burst", tid: "p1", tpl: "charge failed: <*>", score: 0.85, at: at, every: 2 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c1", tpl: "call to payment failed", score: 0.8, at: at + 1*sec, every: 2 * sec},
			{svc: "frontend", typ: "error_burst", tid: "f1", tpl: "checkout failed", score: 0.8, at: at + 2*sec, every: 2 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	fs := t0 + 120*sec
	for _, inc := range fin {
		assert.Equal(t, "payment", inc.RootCauseService, "candidates %+v", inc.Candidates)
		assert.Contains(t, inc.AffectedServices, "frontend")
		assert.GreaterOrEqual(t, inc.StartedAt.UnixNano(), fs+at, "the incident begins with the problem, not with the blip")
	}
}

// The same when the blip is a neighbour's, pending when the problem's service opens the
// incident: the neighbour's symptoms join only as far as they reach back to the trigger's.
func TestANeighboursEarlierBlipStaysOutOfTheIncident(t *testing.T) {
	s := newSim(t, nil)
	const at = 240 * sec
	s.runFault(shop, t0, at+120*sec, nil,
		[]event{
			// checkout: a short burst, under open_threshold, four minutes before the problem
			{svc: "checkout", typ: "error_burst", tid: "c0", tpl: "retrying <*>", score: 0.7, at: 0, every: time.Hour.Nanoseconds()},
			{svc: "checkout", typ: "error_burst", tid: "c0", tpl: "retrying <*>", score: 0.7, at: 2 * sec, every: time.Hour.Nanoseconds()},
			{svc: "payment", typ: "error_burst", tid: "p1", tpl: "charge failed: <*>", score: 0.85, at: at, every: 2 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	fs := t0 + 120*sec
	for _, inc := range fin {
		assert.Equal(t, "payment", inc.RootCauseService, "candidates %+v", inc.Candidates)
		assert.GreaterOrEqual(t, inc.StartedAt.UnixNano(), fs+at, "the incident begins with the problem, not with the blip")
	}
}

// An incident that is open when the collector stops is restored from the snapshot: the fresh
// engine continues it (same id, next version, same evidence) and resolves it, instead of opening
// a duplicate.
func TestOpenIncidentSurvivesRestart(t *testing.T) {
	faults := func() []edgeFault {
		return []edgeFault{{clientName: "payment", serverName: "orders-db", errRate: 0.6}}
	}
	s := newSim(t, nil)
	s.warm(shop, t0, t0+120*sec)
	fs := t0 + 120*sec
	feed := func(s *sim, from, to int64) {
		for w := from; w < to; w += s.win {
			for tt := w; tt < w+s.win; tt += 3 * sec {
				s.anom("payment", tt, 0.8, "error_burst", "p1", "db query failed: <*>")
			}
			s.window(shop, w, faults())
			s.advance(w + s.win)
		}
	}
	feed(s, fs, fs+60*sec)
	require.Equal(t, 1, s.e.OpenIncidents())
	before := s.out[len(s.out)-1]
	snap, err := s.e.MarshalBinary()
	require.NoError(t, err)

	s2 := newSim(t, nil)
	require.NoError(t, s2.e.UnmarshalBinary(snap))
	assert.Equal(t, 1, s2.e.OpenIncidents())
	// snapshot of the restored engine is the same
	snap2, err := s2.e.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, snap, snap2)

	// the fault goes on after the restart (edges must warm up again), then stops
	feed(s2, fs+60*sec, fs+120*sec)
	s2.warm(shop, fs+120*sec, fs+120*sec+7*60*sec)
	fin := s2.final()
	require.Len(t, fin, 1, "no duplicate incident after the restart")
	got, ok := fin[before.ID]
	require.True(t, ok, "the restored incident keeps its id")
	assert.Equal(t, incident.StatusResolved, got.Status)
	assert.Greater(t, got.Version, before.Version)
	assert.Equal(t, before.StartedAt, got.StartedAt)
	assert.Equal(t, "orders-db", got.RootCauseService)
	assert.Equal(t, uint64(0), s2.e.Stats().IncidentsOpened, "nothing new opened")

	// a knowledge-base-only snapshot of an earlier version still loads
	kbOnly, err := s.e.KnowledgeBase().MarshalBinary()
	require.NoError(t, err)
	s3 := newSim(t, nil)
	require.NoError(t, s3.e.UnmarshalBinary(kbOnly))
	_, ok = s3.e.KnowledgeBase().Get(before.ID)
	assert.True(t, ok)
	assert.Equal(t, 0, s3.e.OpenIncidents())
}

// A snapshot with more open incidents than max_open_incidents keeps the most recent ones.
func TestRestoredOpenIncidentsAreBounded(t *testing.T) {
	s := newSim(t, nil)
	for i := range 3 {
		svc := fmt.Sprintf("svc-%d", i)
		for j := range 3 {
			s.anom(svc, t0+int64(i)*sec+int64(j)*100*int64(time.Millisecond), 0.8, "error_burst", "x", "failed")
		}
	}
	s.advance(t0 + 5*sec)
	require.Equal(t, 3, s.e.OpenIncidents())
	snap, err := s.e.MarshalBinary()
	require.NoError(t, err)
	s2 := newSim(t, func(c *Config) { c.MaxOpenIncidents = 2 })
	require.NoError(t, s2.e.UnmarshalBinary(snap))
	assert.Equal(t, 2, s2.e.OpenIncidents())
	assert.Equal(t, uint64(1), s2.e.Stats().DroppedIncidentsFull)
}

// A service named like logs2graph's user node stays a separate node: no cycle through the entry,
// and the propagation path ends at the entry service.
func TestServiceNamedLikeTheUserNode(t *testing.T) {
	links := []link{
		{"user", "frontend", "user", "service"},
		{"frontend", "checkout", "service", "service"},
		{"checkout", "user", "service", "service"},
		{"checkout", "payment", "service", "service"},
	}
	s := newSim(t, nil)
	s.runFault(links, t0, 2*60*sec,
		[]edgeFault{
			{clientName: "checkout", serverName: "user", errRate: 0.6},
			{clientName: "frontend", serverName: "checkout", errRate: 0.5},
			{clientName: "user", serverName: "frontend", errRate: 0.5},
		},
		[]event{
			{svc: "user", typ: "error_burst", tid: "u1", tpl: "profile store unavailable", score: 0.8, at: 1 * sec, every: 3 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c1", tpl: "call to user failed", score: 0.8, at: 1 * sec, every: 3 * sec},
			{svc: "frontend", typ: "error_burst", tid: "f1", tpl: "checkout failed", score: 0.8, at: 1 * sec, every: 3 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Equal(t, "user", inc.RootCauseService, "candidates %+v", inc.Candidates)
		assert.Equal(t, []string{"user", "checkout", "frontend"}, inc.PropagationPath)
		for _, c := range inc.Candidates {
			assert.NotEqual(t, "[user]", c.Service, "the user node is never a candidate")
		}
	}
}

// TestALaterSlowDependencyDoesNotExplainAnEarlierFailure: payment fails the calls it serves (a
// bad deploy: its own error records linked to the spans, a new error template); four minutes
// later the calls to its database slow down. The database's symptoms came after payment's and
// cannot have caused them: payment's dependencies count as healthy, and it stays the root cause.
func TestALaterSlowDependencyDoesNotExplainAnEarlierFailure(t *testing.T) {
	s := newSim(t, nil)
	s.runFault(shop, t0, 8*60*sec,
		[]edgeFault{
			{clientName: "checkout", serverName: "payment", logErrs: 1},
			{clientName: "payment", serverName: "orders-db", p95: 900, from: 240 * sec},
		},
		[]event{
			{svc: "payment", typ: "new_template", tid: "p1", tpl: "NullPointerException in ChargeService", score: 0.9, at: 0, every: 2 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c1", tpl: "call to payment failed", score: 0.8, at: sec, every: 2 * sec},
			{svc: "frontend", typ: "error_burst", tid: "f1", tpl: "checkout failed", score: 0.8, at: 2 * sec, every: 2 * sec},
		})
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Equal(t, "payment", inc.RootCauseService, "candidates %+v", inc.Candidates)
		assert.Contains(t, inc.AffectedServices, "orders-db", "the later slowdown joined the incident")
	}
}

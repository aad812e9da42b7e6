// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// faultStart is when dbFault's (and quietFrontendFault's) fault starts, for a run at t0.
const faultStart = 120 * sec

// runFaultEach is runFault calling each after every window of the fault and of the recovery.
func (s *sim) runFaultEach(links []link, base, dur int64, faults []edgeFault, events []event, each func(now int64)) {
	s.warm(links, base, base+faultStart)
	fs := base + faultStart
	for i := range faults {
		faults[i].from += fs
	}
	for w := fs; w < fs+dur; w += s.win {
		for _, ev := range events {
			for t := fs + ev.at; t < fs+dur; t += ev.every {
				if t >= w && t < w+s.win {
					s.anom(ev.svc, t, ev.score, ev.typ, ev.tid, ev.tpl)
				}
			}
		}
		s.window(links, w, faults)
		s.advance(w + s.win)
		each(w + s.win)
	}
	for w := fs + dur; w < fs+dur+7*60*sec; w += s.win {
		s.window(links, w, nil)
		s.advance(w + s.win)
		each(w + s.win)
	}
}

func dbFaultEach(s *sim, each func(now int64)) {
	s.runFaultEach(shop, t0, 3*60*sec,
		[]edgeFault{
			{clientName: "payment", serverName: "orders-db", errRate: 0.6},
			{clientName: "checkout", serverName: "payment", errRate: 0.4, from: 10 * sec},
			{clientName: "frontend", serverName: "checkout", errRate: 0.3, from: 10 * sec},
		},
		[]event{
			{svc: "payment", typ: "error_burst", tid: "p1", tpl: "db query failed: connection refused <*>", score: 0.8, at: 2 * sec, every: 3 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c1", tpl: "payment call failed status <*>", score: 0.75, at: 6 * sec, every: 4 * sec},
			{svc: "frontend", typ: "rate_spike", tid: "f1", tpl: "HTTP 500 on /checkout", score: 0.7, at: 9 * sec, every: 5 * sec},
		}, each)
}

// quietFrontendFault is a database fault where the entry service logs nothing: only its calls
// to checkout fail (charged to checkout), as when an alert on the entry comes from metrics.
func quietFrontendFault(s *sim) {
	s.runFault(shop, t0, 3*60*sec,
		[]edgeFault{
			{clientName: "payment", serverName: "orders-db", errRate: 0.6},
			{clientName: "checkout", serverName: "payment", errRate: 0.4, from: 10 * sec},
			{clientName: "frontend", serverName: "checkout", errRate: 0.3, from: 10 * sec},
		},
		[]event{
			{svc: "payment", typ: "error_burst", tid: "p1", tpl: "db query failed: connection refused <*>", score: 0.8, at: 2 * sec, every: 3 * sec},
			{svc: "checkout", typ: "error_burst", tid: "c1", tpl: "payment call failed status <*>", score: 0.75, at: 6 * sec, every: 4 * sec},
		})
}

func TestInvestigateAlertOnEntryFindsDatabase(t *testing.T) {
	s := newSim(t, nil)
	dbFault(s, t0)
	require.Zero(t, s.e.OpenIncidents(), "the incident has resolved: the history still holds its evidence")

	alert := t0 + faultStart + 60*sec
	res, err := s.e.Investigate(Query{Time: alert, Service: "frontend", Window: 2 * time.Minute, Note: "HighErrorRate on frontend"})
	require.NoError(t, err)
	require.True(t, res.Found, res.Message)
	inc := res.Incident
	assert.Equal(t, "orders-db", inc.RootCauseService)
	require.NotEmpty(t, inc.Candidates)
	assert.Equal(t, "orders-db", inc.Candidates[0].Service)
	assert.Equal(t, "database", inc.Candidates[0].Kind)
	assert.InDelta(t, 1.0, inc.Candidates[0].Score, 1e-9)
	for i, c := range inc.Candidates {
		assert.NotEmpty(t, c.Reasons, c.Service)
		if i > 0 {
			assert.LessOrEqual(t, c.Score, inc.Candidates[i-1].Score)
		}
	}
	assert.Equal(t, []string{"orders-db", "payment", "checkout", "frontend"}, inc.PropagationPath, "from the root cause to the alerting entry")
	assert.Contains(t, inc.DependencyPaths, []string{"orders-db", "payment", "checkout", "frontend"})
	assert.ElementsMatch(t, []string{"orders-db", "payment", "checkout", "frontend"}, inc.AffectedServices)
	assert.Contains(t, inc.RootCauseIssue, "calls from payment to orders-db fail")
	require.NotEmpty(t, inc.Evidence)
	assert.True(t, strings.HasPrefix(inc.Evidence[0], "[CRITICAL] 2026-03-01T10:02:00Z orders-db:"), inc.Evidence[0])
	assert.Equal(t, time.Unix(0, t0+faultStart).UTC(), inc.StartedAt, "the first symptom")
	assert.False(t, inc.UpdatedAt.After(time.Unix(0, alert)), "nothing after the alert time")
	assert.Equal(t, 1, inc.Version)
	assert.Equal(t, incident.StatusOpen, inc.Status)
	assert.Equal(t, "statistical", inc.Source)
	assert.Positive(t, inc.Confidence)
	assert.Contains(t, inc.Explanation, "Timeline: 10:02:00 orders-db")
	assert.Equal(t, alert-int64(2*time.Minute), res.From)
	assert.Equal(t, alert, res.To)
	assert.Equal(t, s.e.Watermark(), res.EvidenceUntil)
	assert.Empty(t, res.OpenIncidents)
	assert.Contains(t, res.Message, "most likely root cause orders-db")

	// The same question without a service ranks the same group.
	res2, err := s.e.Investigate(Query{Time: alert, Window: 2 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, "orders-db", res2.Incident.RootCauseService)

	// The default window is the correlation window; it reaches back before the first event time.
	res3, err := s.e.Investigate(Query{Time: alert, Service: "checkout"})
	require.NoError(t, err)
	assert.Equal(t, alert-int64(DefaultConfig().CorrelationWindow), res3.From)
	assert.Equal(t, "orders-db", res3.Incident.RootCauseService)
	assert.Contains(t, res3.Message, "evidence before 2026-03-01T10:00:10Z is not held")
}

func TestInvestigateAlertOnQuietEntryAddsTheAlertAsSymptom(t *testing.T) {
	s := newSim(t, nil)
	quietFrontendFault(s)
	alert := t0 + faultStart + 45*sec
	res, err := s.e.Investigate(Query{Time: alert, Service: "frontend", Window: 2 * time.Minute, Note: "alert HighErrorRate: 5xx above 5%"})
	require.NoError(t, err)
	require.True(t, res.Found)
	inc := res.Incident
	assert.Equal(t, "orders-db", inc.RootCauseService)
	assert.Equal(t, []string{"orders-db", "payment", "checkout", "frontend"}, inc.PropagationPath)
	assert.Contains(t, inc.AffectedServices, "frontend")
	var reasons []string
	for _, c := range inc.Candidates {
		if c.Service == "frontend" {
			reasons = c.Reasons
		}
	}
	assert.Contains(t, reasons, "Medium alert anomalies (1)")
	found := false
	for _, ev := range inc.Evidence {
		found = found || strings.Contains(ev, "frontend: alert HighErrorRate: 5xx above 5%")
	}
	assert.True(t, found, "the alert is the entry's evidence: %v", inc.Evidence)
}

func TestInvestigateNothingHeld(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+5*60*sec)
	at := t0 + 4*60*sec

	res, err := s.e.Investigate(Query{Time: at, Service: "frontend"})
	require.NoError(t, err)
	assert.False(t, res.Found)
	assert.NotNil(t, res.Incident.Candidates)
	assert.Empty(t, res.Incident.Candidates)
	assert.Empty(t, res.Incident.RootCauseService)
	assert.NotNil(t, res.Incident.Evidence)
	assert.Contains(t, res.Message, `no anomalies held for service "frontend" or the services connected to it (within 2 hops) between`)

	res, err = s.e.Investigate(Query{Time: at, Service: "billing"})
	require.NoError(t, err)
	assert.False(t, res.Found)
	assert.Contains(t, res.Message, "not in the dependency graph")

	// Anomalies of a service unconnected to the one asked about are left out, and said so.
	s.anom("batch", at-10*sec, 0.9, "error_burst", "b1", "job failed <*>")
	res, err = s.e.Investigate(Query{Time: at, Service: "frontend"})
	require.NoError(t, err)
	assert.False(t, res.Found)
	assert.Contains(t, res.Message, "1 services with anomalies not connected to frontend were left out")
	res, err = s.e.Investigate(Query{Time: at})
	require.NoError(t, err)
	assert.True(t, res.Found)
	assert.Equal(t, "batch", res.Incident.RootCauseService)
}

func TestInvestigateQueryValidation(t *testing.T) {
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	_, err = e.Investigate(Query{Time: t0})
	var oh *OutsideHistoryError
	require.ErrorAs(t, err, &oh)
	assert.False(t, oh.Held)
	assert.Contains(t, err.Error(), "no input has been received yet")

	s := newSim(t, nil)
	dbFault(s, t0)
	wm := s.e.Watermark()
	for _, q := range []Query{{}, {Time: -5}, {Time: t0 + faultStart, Window: -time.Second}, {Time: t0 + faultStart, Window: 31 * time.Minute}} {
		_, err = s.e.Investigate(q)
		require.ErrorIs(t, err, ErrInvalidQuery, "%+v", q)
	}
	assert.Equal(t, 30*time.Minute, s.e.MaxQueryWindow())

	for _, at := range []int64{t0 - 60*sec, wm + int64(QueryTolerance) + sec} {
		_, err = s.e.Investigate(Query{Time: at, Service: "frontend"})
		require.ErrorAs(t, err, &oh)
		assert.True(t, oh.Held)
		assert.Equal(t, t0+10*sec, oh.From, "the first event time: the end of the first window")
		assert.Equal(t, wm+int64(QueryTolerance), oh.To)
		assert.Contains(t, err.Error(), "is outside the history held, from 2026-03-01T10:00:10Z to ")
	}
	_, err = s.e.Investigate(Query{Time: wm + int64(QueryTolerance), Service: "frontend"})
	require.NoError(t, err, "up to the tolerance beyond the event time")
}

// TestInvestigateDoesNotChangeTheEngine runs the same fault with and without queries (and
// prepared investigations ranked later) between the windows: incidents, counters and snapshots
// must be identical.
func TestInvestigateDoesNotChangeTheEngine(t *testing.T) {
	plain := newSim(t, nil)
	dbFaultEach(plain, func(int64) {})

	queried := newSim(t, nil)
	var pending []*Investigation
	n := 0
	dbFaultEach(queried, func(now int64) {
		for _, svc := range []string{"frontend", "orders-db", "", "billing"} {
			res, err := queried.e.Investigate(Query{Time: now - 5*sec, Service: svc, Note: "q"})
			require.NoError(t, err)
			if res.Found {
				n++
			}
		}
		inv, err := queried.e.Investigation(Query{Time: now, Service: "checkout", Window: 10 * time.Minute})
		require.NoError(t, err)
		pending = append(pending, inv)
	})
	require.Positive(t, n)
	for _, inv := range pending {
		inv.Rank()
	}
	require.NotEmpty(t, plain.out)
	assert.Equal(t, plain.out, queried.out)
	assert.Equal(t, plain.e.Stats(), queried.e.Stats())
	a, err := plain.e.MarshalBinary()
	require.NoError(t, err)
	b, err := queried.e.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, a, b)

	// And the answers themselves are reproducible.
	q := Query{Time: t0 + faultStart + 90*sec, Service: "frontend"}
	r1, err := plain.e.Investigate(q)
	require.NoError(t, err)
	r2, err := queried.e.Investigate(q)
	require.NoError(t, err)
	assert.Equal(t, r1, r2)
}

func TestInvestigationRanksOutsideTheEngine(t *testing.T) {
	s := newSim(t, nil)
	var inv *Investigation
	var want Result
	q := Query{Time: t0 + faultStart + 60*sec, Service: "frontend", Window: 2 * time.Minute}
	dbFaultEach(s, func(now int64) {
		if inv == nil && now >= q.Time+10*sec {
			var err error
			want, err = s.e.Investigate(q)
			require.NoError(t, err)
			require.Equal(t, "orders-db", want.Incident.RootCauseService)
			assert.NotEmpty(t, want.OpenIncidents, "the incident the alert belongs to is open")
			inv, err = s.e.Investigation(q)
			require.NoError(t, err)
		}
	})
	require.NotNil(t, inv)
	// The engine has moved on (windows, expiry, resolution); the prepared ranking has not.
	done := make(chan Result)
	go func() { done <- inv.Rank() }()
	s.warm(shop, t0+20*60*sec, t0+21*60*sec)
	assert.Equal(t, want, <-done)
}

func TestInvestigateHistoryBounds(t *testing.T) {
	s := newSim(t, func(c *Config) { c.MaxHistoryBuckets = 4 })
	s.warm(shop, t0, t0+60*sec)
	for i := range int64(8) {
		at := t0 + 60*sec + i*15*sec
		for _, svc := range []string{"payment", "checkout"} {
			s.anom(svc, at+sec, 0.8, "error_burst", "x", "failed <*>")
		}
		s.window(shop, at, nil)
		s.advance(at + 15*sec)
	}
	assert.Equal(t, 4, s.e.hist.buckets())
	assert.Equal(t, t0+60*sec+6*15*sec, s.e.hist.lost, "history before the oldest bucket kept is not held")
	var oh *OutsideHistoryError
	_, err := s.e.Investigate(Query{Time: t0 + 60*sec + 5*15*sec, Service: "payment"})
	require.ErrorAs(t, err, &oh)
	assert.Equal(t, s.e.hist.lost, oh.From)
	res, err := s.e.Investigate(Query{Time: t0 + 60*sec + 8*15*sec, Service: "payment", Window: time.Minute})
	require.NoError(t, err)
	assert.True(t, res.Found)

	// Retention: summaries older than it are dropped.
	s.warm(shop, t0+4*60*sec, t0+36*60*sec)
	assert.Zero(t, s.e.hist.buckets())
	assert.Empty(t, s.e.hist.svcs)
	_, err = s.e.Investigate(Query{Time: t0 + 3*60*sec})
	require.ErrorAs(t, err, &oh)
}

func TestInvestigateLongLinesAreShortened(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+60*sec)
	long := strings.Repeat("x", 5000)
	for i := range int64(20) {
		s.e.AddAnomaly(Anomaly{
			Service: "payment", Time: t0 + 60*sec + i*sec, Score: 0.9, Type: "error_burst",
			Template: fmt.Sprintf("%s %d <*>", long, i), Line: long,
		})
	}
	s.advance(t0 + 80*sec)
	for _, b := range s.e.hist.svcs["payment"] {
		assert.LessOrEqual(t, len(b.sa.templates), histMaxTemplates)
		assert.LessOrEqual(t, len(b.sa.exemplars), histMaxExemplars)
		for k, tp := range b.sa.templates {
			assert.LessOrEqual(t, len(k), histMaxTemplateLen+len("…"))
			assert.LessOrEqual(t, len(tp.text), histMaxTemplateLen+len("…"))
		}
		for _, ex := range b.sa.exemplars {
			assert.LessOrEqual(t, len(ex.Line), histMaxLine+len("…"))
			assert.Empty(t, ex.Template)
		}
	}
	res, err := s.e.Investigate(Query{Time: t0 + 80*sec, Service: "payment"})
	require.NoError(t, err)
	require.True(t, res.Found)
	assert.Equal(t, "payment", res.Incident.RootCauseService)
	n := 0
	for _, tr := range res.Incident.TopTemplates {
		if tr.Service == "payment" {
			n += tr.Count
		}
	}
	assert.Positive(t, n)
}

func TestInvestigateKeepsOwnSignals(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+60*sec)
	s.e.AddAnomaly(Anomaly{Service: "payment", Time: t0 + 61*sec, Score: 0.9, Type: ownTimeType, Line: "own time per span 250 ms (median 20 ms)"})
	s.e.AddAnomaly(Anomaly{Service: "payment", Time: t0 + 62*sec, Score: 0.8, Type: "error_burst", Line: "db call failed"})
	s.advance(t0 + 70*sec)
	res, err := s.e.Investigate(Query{Time: t0 + 70*sec, Service: "payment", Window: time.Minute})
	require.NoError(t, err)
	require.True(t, res.Found)
	require.Equal(t, "payment", res.Incident.Candidates[0].Service)
	assert.Contains(t, res.Incident.Candidates[0].Reasons, "own time per span 250 ms (median 20 ms)")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// openDBIncident plays the database fault up to its middle and returns the open incident.
func openDBIncident(t *testing.T) (*sim, incident.Incident, int64) {
	t.Helper()
	s := newSim(t, nil)
	s.warm(shop, t0, t0+120*sec)
	fs := t0 + 120*sec
	for w := fs; w < fs+60*sec; w += s.win {
		for ts := w + 2*sec; ts < w+s.win; ts += 3 * sec {
			s.anom("payment", ts, 0.8, "error_burst", "p1", "db query failed: connection refused <*>")
		}
		s.window(shop, w, []edgeFault{{clientName: "payment", serverName: "orders-db", errRate: 0.6, from: fs}})
		s.advance(w + s.win)
	}
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		require.Equal(t, incident.StatusOpen, inc.Status)
		return s, inc, fs + 60*sec
	}
	return nil, incident.Incident{}, 0
}

func TestNarrativeContext(t *testing.T) {
	s, inc, _ := openDBIncident(t)
	c, ok := s.e.NarrativeContext(inc.ID)
	require.True(t, ok)
	assert.Equal(t, inc.Version, c.Incident.Version)
	assert.Equal(t, []string{"checkout", "frontend", "inventory", "orders-db", "payment", "users"}, c.Services,
		"graph services, the user node left out")
	require.NotEmpty(t, c.Logs)
	assert.Equal(t, "payment", c.Logs[0].Service)
	assert.Contains(t, c.Logs[0].Lines[0], "db query failed")
	require.NotEmpty(t, c.EdgeChanges)
	assert.Contains(t, c.EdgeChanges[0], "calls from payment to orders-db fail")

	_, ok = s.e.NarrativeContext("unknown")
	assert.False(t, ok)
}

func TestAttachNarrative(t *testing.T) {
	s, inc, now := openDBIncident(t)
	require.Equal(t, "orders-db", inc.RootCauseService)
	cur, ok := s.e.NarrativeContext(inc.ID) // ranked again since the last version emitted
	require.True(t, ok)

	// A stale narrative (asked about another ranking) is refused and changes nothing.
	_, err := s.e.AttachNarrative(inc.ID, Narrative{Model: "m", RootCauseService: "payment", Ranked: "payment"})
	require.ErrorIs(t, err, ErrNarrativeStale)
	_, err = s.e.AttachNarrative("unknown", Narrative{Ranked: "orders-db"})
	require.ErrorIs(t, err, ErrIncidentGone)

	got, err := s.e.AttachNarrative(inc.ID, Narrative{
		Model: "m", RootCauseService: "orders-db", RootCauseIssue: "connection pool exhausted", Confidence: 0.9,
		Explanation: "payment logs connection refused", RemediationSteps: []string{"check the pool"}, Ranked: "orders-db",
	})
	require.NoError(t, err)
	assert.Equal(t, inc.Version+1, got.Version)
	assert.Equal(t, "orders-db", got.RootCauseService)
	assert.Equal(t, "connection pool exhausted", got.RootCauseIssue)
	assert.InDelta(t, 0.9, got.Confidence, 1e-9)
	assert.Equal(t, []string{"check the pool"}, got.RemediationSteps)
	assert.Equal(t, SourceLLM, got.Source)
	require.NotNil(t, got.LLM)
	assert.True(t, got.LLM.AgreesWithRanking)
	assert.Contains(t, got.Explanation, "Statistical ranking: Timeline:")
	assert.Equal(t, cur.Incident.Candidates, got.Candidates, "the ranking stays visible")

	// Later versions keep the narrative; the resolved one too.
	s.warm(shop, now, now+8*60*sec)
	fin := s.final()[inc.ID]
	assert.Equal(t, incident.StatusResolved, fin.Status)
	assert.Greater(t, fin.Version, got.Version)
	assert.Equal(t, SourceLLM, fin.Source)
	assert.Equal(t, "connection pool exhausted", fin.RootCauseIssue)
	kb, ok := s.e.KnowledgeBase().Get(inc.ID)
	require.True(t, ok)
	assert.Equal(t, "connection pool exhausted", kb.RootCauseIssue)
	_, err = s.e.AttachNarrative(inc.ID, Narrative{Ranked: "orders-db"})
	require.ErrorIs(t, err, ErrIncidentGone)
}

func TestAttachNarrativeDisagreeing(t *testing.T) {
	s, inc, _ := openDBIncident(t)
	cur, ok := s.e.NarrativeContext(inc.ID)
	require.True(t, ok)
	inc = cur.Incident
	got, err := s.e.AttachNarrative(inc.ID, Narrative{
		Model: "m", RootCauseService: "payment", RootCauseIssue: "bad deploy", Confidence: 0.7,
		Explanation: "payment changed", RemediationSteps: []string{"roll back payment"}, Ranked: "orders-db",
	})
	require.NoError(t, err)
	assert.Equal(t, "orders-db", got.RootCauseService, "the ranking's root cause stands")
	assert.Equal(t, inc.RootCauseIssue, got.RootCauseIssue)
	assert.InDelta(t, inc.Confidence, got.Confidence, 1e-9)
	require.NotNil(t, got.LLM)
	assert.False(t, got.LLM.AgreesWithRanking)
	assert.Equal(t, "payment", got.LLM.RootCauseService)
	assert.Contains(t, got.Explanation, "suggests payment rather than the ranking's orders-db")
	assert.Equal(t, []string{"roll back payment"}, got.RemediationSteps)
}

func TestNarrativeSurvivesSnapshot(t *testing.T) {
	s, inc, _ := openDBIncident(t)
	_, err := s.e.AttachNarrative(inc.ID, Narrative{
		Model: "m", RootCauseService: "orders-db", RootCauseIssue: "pool", Confidence: 0.8, Explanation: "x", Ranked: "orders-db",
	})
	require.NoError(t, err)
	data, err := s.e.MarshalBinary()
	require.NoError(t, err)
	e2, err := New(DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, e2.UnmarshalBinary(data))
	list := e2.OpenIncidentList()
	require.Len(t, list, 1)
	assert.Equal(t, SourceLLM, list[0].Source)
	assert.Equal(t, "pool", list[0].RootCauseIssue)
	require.Contains(t, e2.open, inc.ID)
	require.NotNil(t, e2.open[inc.ID].narr)
	assert.Equal(t, inc.RootCauseIssue, e2.open[inc.ID].stat.Issue, "the ranking's fields are kept")
}

// An anomaly raised by an LLM verdict (anomaly.type "llm") is an ordinary log anomaly of its
// service: it opens and joins incidents like a new template of the same level.
func TestLLMTypeAnomalyIsALogAnomaly(t *testing.T) {
	s := newSim(t, nil)
	s.warm(shop, t0, t0+60*sec)
	base := t0 + 60*sec
	for i := range int64(6) {
		s.e.AddAnomaly(Anomaly{Service: "payment", Time: base + i*5*sec, Score: 0.8, Type: contract.TypeLLM,
			TemplateID: "p1", Template: "db timeout <*>", Line: "db timeout 30s", LogSeverity: 17})
	}
	s.warm(shop, base, base+30*sec)
	fin := s.final()
	require.Len(t, fin, 1)
	for _, inc := range fin {
		assert.Contains(t, inc.AffectedServices, "payment")
		assert.Equal(t, "statistical", inc.Source)
	}
}

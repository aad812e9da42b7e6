// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaeval

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

func TestScoreLabelled(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	labels := []Label{
		{ID: "f2", Time: t0.Add(20 * time.Minute), Service: "db", Kind: "delay"},
		{ID: "f1", Time: t0.Add(10 * time.Minute), Service: "api", Kind: "cpu"},
		{ID: "f3", Time: t0.Add(30 * time.Minute), Service: "cache", Kind: "delay"},
	}
	inc := func(id string, v int, cands ...string) incident.Incident {
		in := incident.Incident{ID: id, Version: v}
		for _, c := range cands {
			in.Candidates = append(in.Candidates, incident.Candidate{Service: c})
		}
		return in
	}
	ems := []Emission{
		// before any fault: matches none, then absorbs f1 (updated within its horizon)
		{Incident: inc("noise", 1, "web"), At: t0.Add(9 * time.Minute)},
		{Incident: inc("noise", 2, "web", "api"), At: t0.Add(10*time.Minute + 30*time.Second)},
		// f2: opened 40 s after, re-ranked within the horizon, re-ranked again after it
		{Incident: inc("f2inc", 1, "web", "db"), At: t0.Add(20*time.Minute + 40*time.Second)},
		{Incident: inc("f2inc", 2, "db", "web"), At: t0.Add(22 * time.Minute)},
		{Incident: inc("f2inc", 3, "web"), At: t0.Add(26 * time.Minute)},
		// an update of an old incident inside f2's horizon does not beat the opened one
		{Incident: inc("noise", 3, "web"), At: t0.Add(20*time.Minute + 10*time.Second)},
		// f3: nothing
	}
	rep := ScoreLabelled(ems, labels, 5*time.Minute)
	require.Len(t, rep.Faults, 3)
	f1, f2, f3 := rep.Faults[0], rep.Faults[1], rep.Faults[2]
	assert.Equal(t, "f1", f1.Label.ID, "sorted by time")
	assert.True(t, f1.Detected)
	assert.False(t, f1.Opened)
	assert.Equal(t, 30*time.Second, f1.Delay)
	assert.Equal(t, 2, f1.Rank)
	assert.True(t, f2.Detected)
	assert.True(t, f2.Opened)
	assert.Equal(t, "f2inc", f2.Incident)
	assert.Equal(t, 40*time.Second, f2.Delay)
	assert.Equal(t, 1, f2.Rank, "the last version within the horizon counts")
	assert.False(t, f3.Detected)
	assert.Zero(t, f3.Rank)
	assert.InDelta(t, 1.0/3, rep.AC(1), 1e-9)
	assert.InDelta(t, 2.0/3, rep.AC(3), 1e-9)
	assert.Equal(t, 2, rep.Incidents)
	assert.Equal(t, 1, rep.Unmatched)
	n, med := rep.Detected()
	assert.Equal(t, 2, n)
	assert.Equal(t, 40*time.Second, med)
	var b strings.Builder
	require.NoError(t, rep.Write(&b, "online"))
	assert.Contains(t, b.String(), "online: AC@1 0.33 AC@3 0.67 AC@5 0.67, detected 2/3 (median delay 40s), incidents 2, matching no fault 1")
}

func TestAlarmReport(t *testing.T) {
	var r AlarmReport
	r.After, r.Window = 2*time.Minute, 3*time.Minute
	r.Add(Label{ID: "a", Service: "db"}, []string{"db", "api"}, nil)
	r.Add(Label{ID: "b", Service: "api"}, []string{"db", "web", "api"}, nil)
	r.Add(Label{ID: "c", Service: "web"}, nil, errors.New("POST /api/v1/rca: 422"))
	assert.InDelta(t, 1.0/3, r.AC(1), 1e-9)
	assert.InDelta(t, 2.0/3, r.AC(3), 1e-9)
	var b strings.Builder
	require.NoError(t, r.Write(&b))
	assert.Contains(t, b.String(), "error: POST /api/v1/rca: 422")
	assert.Contains(t, b.String(), "alarm given: AC@1 0.33 AC@3 0.67 AC@5 0.67 over 3 faults")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaeval

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

// The default shop with its orders database exhausted after the detectors' warm-up: the chain
// detects it within seconds of event time and ranks the database first.
func TestDatabaseFaultOnDefaultShop(t *testing.T) {
	sc, err := sim.NewScenario(sim.Options{Fault: sim.FaultDBPoolExhaustion, Target: "orders-db", Duration: 40 * time.Minute, FaultAt: 25 * time.Minute, Seed: 3})
	require.NoError(t, err)
	o, err := Run(sc)
	require.NoError(t, err)
	assert.Equal(t, "orders-db", o.RootCause)
	require.True(t, o.Detected)
	assert.LessOrEqual(t, o.DetectDelay, 30*time.Second)
	assert.Equal(t, 1, o.Rank(), "ranked %v", o.Ranked)
}

func TestSummarize(t *testing.T) {
	outs := []Outcome{
		{FaultKind: sim.FaultBadDeploy, RootCause: "a", Ranked: []string{"a", "b"}, Detected: true, DetectDelay: 10 * time.Second, Incidents: 1},
		{FaultKind: sim.FaultBadDeploy, RootCause: "a", Ranked: []string{"b", "c", "a"}, Detected: true, DetectDelay: 40 * time.Second, Incidents: 1, FalseAlarms: 1},
		{FaultKind: sim.FaultSlowQuery, RootCause: "db", Ranked: []string{"x", "y", "z", "db"}, Detected: true, DetectDelay: 20 * time.Second, Incidents: 2},
		{FaultKind: sim.FaultSlowQuery, RootCause: "db"},
		{Incidents: 1},
		{},
	}
	s := Summarize(outs)
	assert.Equal(t, 4, s.Faulty)
	assert.Equal(t, 2, s.FaultFree)
	assert.Equal(t, 1, s.Top1)
	assert.Equal(t, 2, s.Top3)
	assert.InDelta(t, 0.25, s.AC1(), 1e-9)
	assert.InDelta(t, 0.5, s.AC3(), 1e-9)
	assert.Equal(t, 3, s.Detected)
	assert.Equal(t, 2, s.DetectedWithin30s)
	assert.Equal(t, 20*time.Second, s.Median())
	assert.Equal(t, 1, s.FaultFreeWithIncident)
	assert.Equal(t, 1, s.FalseAlarmsBeforeFault)
	assert.Equal(t, 2, s.PerKind[sim.FaultBadDeploy].N)
	assert.Equal(t, 0, outs[3].Rank())
	assert.Equal(t, 4, outs[2].Rank())
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaeval

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
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

// The same fault with the traces spread by trace id over two logs2graph replicas (a scaled-out
// analysis tier): the rca exporter follows both streams and merges their shares, so the answer
// is the single connector's.
func TestTwoGraphReplicasGiveTheSameAnswer(t *testing.T) {
	sc, err := sim.NewScenario(sim.Options{Fault: sim.FaultSlowQuery, Target: "inventory-db", Duration: 25 * time.Minute, FaultAt: 18 * time.Minute, Seed: 5})
	require.NoError(t, err)
	one, err := RunWith(sc, ChainOptions{}, 0)
	require.NoError(t, err)
	two, err := RunWith(sc, ChainOptions{GraphReplicas: 2}, 0)
	require.NoError(t, err)
	require.True(t, one.Detected)
	assert.Equal(t, "inventory-db", one.RootCause)
	assert.Equal(t, 1, one.Rank(), "one connector: %v", one.Ranked)
	require.True(t, two.Detected)
	assert.Equal(t, 1, two.Rank(), "two replicas: %v", two.Ranked)
	assert.Equal(t, one.Incidents, two.Incidents)
	assert.InDelta(t, one.DetectDelay.Seconds(), two.DetectDelay.Seconds(), 15, "within one window")
	assert.Equal(t, one.Ranked[:3], two.Ranked[:3])
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

// The same scenario played through the chain in 1 s chunks, logs then traces, and in 7 s chunks
// with the traces pipeline 28 s behind the logs pipeline and delivered first: the same incidents,
// versions and rankings.
func TestChainGivesSameIncidentsWhateverTheBatching(t *testing.T) {
	sc, err := sim.NewScenario(sim.Options{Fault: sim.FaultSlowQuery, Target: "inventory-db", Duration: 18 * time.Minute, FaultAt: 13 * time.Minute, Seed: 5})
	require.NoError(t, err)
	play := func(every, traceLag int) []incident.Incident {
		chain, err := NewChain(ChainOptions{})
		require.NoError(t, err)
		var n int
		ld := plog.NewLogs()
		var tds []ptrace.Traces // per delivery, oldest first
		td := ptrace.NewTraces()
		deliver := func(at time.Time, ld plog.Logs, flushTraces bool) error {
			var errs []error
			for len(tds) > traceLag || (flushTraces && len(tds) > 0) {
				errs = append(errs, chain.Play(at, plog.NewLogs(), tds[0]))
				tds = tds[1:]
			}
			return errors.Join(append(errs, chain.Play(at, ld, ptrace.NewTraces()))...)
		}
		_, err = sim.Run(sc, Step, func(ch sim.Chunk) error {
			ch.Logs.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
			ch.Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
			if n++; n%every != 0 {
				return nil
			}
			tds = append(tds, td)
			err := deliver(ch.End, ld, false)
			ld, td = plog.NewLogs(), ptrace.NewTraces()
			return err
		})
		require.NoError(t, err)
		tds = append(tds, td)
		require.NoError(t, deliver(sc.End(), ld, true))
		ems, err := chain.Close(sc.End())
		require.NoError(t, err)
		out := make([]incident.Incident, len(ems))
		for i, em := range ems {
			out[i] = em.Incident
		}
		return out
	}
	a := play(1, 0)
	require.NotEmpty(t, a, "the fault opens an incident")
	assert.Equal(t, a, play(7, 4))
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

// lowTrafficCalls returns the CLIENT spans of the calls to the low-traffic service, by start.
func lowTrafficCalls(out output) []spanRow {
	var calls []spanRow
	for _, sp := range out.spans {
		if sp.kind == ptrace.SpanKindClient && sp.attrs["server.address"] == LowTrafficService {
			calls = append(calls, sp)
		}
	}
	slices.SortFunc(calls, func(a, b spanRow) int { return a.start.Compare(b.start) })
	return calls
}

func TestLowTrafficServiceTraffic(t *testing.T) {
	shop := DefaultShop()
	sc := mustScenario(t, Options{Topology: shop, Seed: 4, Duration: time.Hour, Rate: 2, LowTraffic: true})
	_, ok := shop.Node(LowTrafficService)
	assert.False(t, ok, "the given topology is not changed")
	require.Len(t, sc.Topology.Nodes, len(shop.Nodes)+1)
	caller := sc.Topology.scheduledCallers(LowTrafficService)
	require.Len(t, caller, 1)
	assert.Zero(t, sc.Topology.Visits()[LowTrafficService], "no user request reaches it")

	out := collect(t, sc, 5*time.Second)
	calls := lowTrafficCalls(out)
	// About one call a minute: intervals of 48-72 s.
	assert.InDelta(t, 60, len(calls), 6)
	var ms []float64
	for i, c := range calls {
		assert.Equal(t, caller[0], c.svc)
		assert.Equal(t, [8]byte{}, c.parent, "a job's call is the root of its trace")
		assert.False(t, c.err)
		ms = append(ms, float64(c.end.Sub(c.start))/1e6)
		if i > 0 {
			gap := c.start.Sub(calls[i-1].start)
			assert.GreaterOrEqual(t, gap, 48*time.Second)
			assert.LessOrEqual(t, gap, 72*time.Second)
		}
	}
	// Calls normally take 2-3 ms.
	slices.Sort(ms)
	assert.InDelta(t, 2.5, ms[len(ms)/2], 0.5, "median %.2f ms", ms[len(ms)/2])
	assert.Less(t, ms[len(ms)*9/10], 5.0)
	// Every call has its server half in the low-traffic service, and one log line there.
	served, logged := 0, 0
	for _, sp := range out.spans {
		if sp.svc == LowTrafficService && sp.kind == ptrace.SpanKindServer {
			served++
		}
	}
	for _, l := range out.logs {
		if l.svc == LowTrafficService && strings.Contains(l.body, "request_id=") {
			logged++
		}
	}
	assert.Equal(t, len(calls), served)
	assert.Equal(t, len(calls), logged)
}

func TestLowTrafficFaults(t *testing.T) {
	for _, kind := range LowTrafficFaultKinds() {
		t.Run(string(kind), func(t *testing.T) {
			sc := mustScenario(t, Options{Seed: 2, Duration: 50 * time.Minute, Rate: 2, Fault: kind,
				FaultAt: 20 * time.Minute, FaultDuration: 10 * time.Minute})
			require.Len(t, sc.Faults, 1)
			f := sc.Faults[0]
			assert.Equal(t, LowTrafficService, f.RootCause())
			caller := sc.Topology.scheduledCallers(LowTrafficService)
			assert.Equal(t, append([]string{LowTrafficService}, caller...), sc.Symptomatic(f))

			out := collect(t, sc, 5*time.Second)
			calls := lowTrafficCalls(out)
			in := 0
			for _, c := range calls {
				d := c.end.Sub(c.start)
				if !f.Active(c.start) {
					assert.False(t, c.err)
					assert.Less(t, d, 100*time.Millisecond)
					continue
				}
				in++
				if kind == FaultLowTrafficSlow {
					assert.False(t, c.err)
					assert.GreaterOrEqual(t, d, 9500*time.Millisecond)
					assert.Less(t, d, 10600*time.Millisecond)
				} else {
					assert.True(t, c.err)
					assert.Equal(t, int64(500), c.attrs["http.response.status_code"])
					assert.Less(t, d, 100*time.Millisecond)
				}
			}
			assert.InDelta(t, 10, in, 2, "about ten calls in ten minutes")

			// The caller reports slow jobs and failed calls; nothing fault-specific before the fault.
			marker := "longer than its 1000ms budget"
			if kind == FaultLowTrafficErrors {
				marker = "call to " + LowTrafficService + " failed"
			}
			seen := 0
			for _, l := range out.logs {
				if strings.Contains(l.body, marker) || strings.Contains(l.body, "failed to load rates") {
					assert.True(t, !l.ts.Before(f.Start) && l.ts.Before(f.End.Add(11*time.Second)), "%s at %s", l.body, l.ts)
					seen++
				}
			}
			assert.Positive(t, seen)
		})
	}
}

func TestLowTrafficScenarios(t *testing.T) {
	// Not asked: no low-traffic service.
	sc := mustScenario(t, Options{Seed: 1, Fault: FaultSlowQuery})
	_, ok := sc.Topology.Node(LowTrafficService)
	assert.False(t, ok)

	// A given caller; a random topology.
	sc = mustScenario(t, Options{Seed: 1, LowTraffic: true, LowTrafficCaller: "payment"})
	assert.Equal(t, []string{"payment"}, sc.Topology.scheduledCallers(LowTrafficService))
	sc = mustScenario(t, Options{Topology: RandomTopology(9, 8), Seed: 9, Fault: FaultLowTrafficSlow})
	assert.Equal(t, LowTrafficService, sc.Faults[0].Service)
	assert.Equal(t, "low_traffic_slow@fx-rates", sc.Name)

	// The kinds parse; their faults need a service called by a job.
	for _, k := range LowTrafficFaultKinds() {
		got, err := ParseFaultKind(string(k))
		require.NoError(t, err)
		assert.Equal(t, k, got)
		assert.NotContains(t, FaultKinds(), k)
		_, err = NewScenario(Options{Seed: 1, Fault: k, Target: "payment"})
		assert.Error(t, err)
	}
	_, err := NewScenario(Options{Seed: 1, LowTraffic: true, LowTrafficCaller: "orders-db"})
	require.Error(t, err)

	// Scheduled calls are made by services, not to queues, every 1 s or more.
	for _, e := range []Edge{
		{From: "orders-db", To: "payment", Protocol: ProtoDatabase, Probability: 1, Every: time.Minute},
		{From: "checkout", To: "shipping-requests", Protocol: ProtoMessaging, Probability: 1, Every: time.Minute},
		{From: "checkout", To: "payment", Protocol: ProtoRPC, Probability: 1, Every: time.Millisecond},
	} {
		topo := DefaultShop()
		topo.Edges = append(topo.Edges, e)
		assert.Error(t, topo.Validate(), "%+v", e)
	}
}

func TestLowTrafficEvaluationSet(t *testing.T) {
	scs, err := GenerateScenarios(EvalOptions{Count: 8, Seed: 3, Kinds: LowTrafficFaultKinds(), FaultDuration: 10 * time.Minute,
		Duration: time.Hour})
	require.NoError(t, err)
	kinds := map[FaultKind]int{}
	for _, sc := range scs {
		_, ok := sc.Topology.Node(LowTrafficService)
		assert.True(t, ok, sc.Name)
		if len(sc.Faults) == 0 {
			kinds[FaultNone]++
			continue
		}
		f := sc.Faults[0]
		kinds[f.Kind]++
		assert.Equal(t, LowTrafficService, f.Service)
		assert.Equal(t, 10*time.Minute, f.End.Sub(f.Start))
	}
	assert.Equal(t, map[FaultKind]int{FaultLowTrafficSlow: 4, FaultLowTrafficErrors: 3, FaultNone: 1}, kinds)

	_, err = GenerateScenarios(EvalOptions{Count: 2, Kinds: []FaultKind{"nope"}})
	assert.Error(t, err)
}

// TestLowTrafficGraph checks that the graph store sees the job's calls as an edge from the caller
// to the low-traffic service, with a window for each call and the fault's latency.
func TestLowTrafficGraph(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 5, Duration: 16 * time.Minute, Rate: 2, Fault: FaultLowTrafficSlow,
		FaultAt: 10 * time.Minute, LowTrafficCaller: "checkout"})
	store, err := graph.New(graph.DefaultConfig())
	require.NoError(t, err)
	var wins []graph.Edge
	_, err = Run(sc, time.Second, func(ch Chunk) error {
		for _, rs := range ch.Traces.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					gs := toGraphSpan(svc.Str(), sp)
					store.AddSpan(&gs)
				}
			}
		}
		store.Advance(ch.End.UnixNano())
		for _, w := range store.Flush() {
			for _, e := range w.Edges {
				if e.Server.Name == LowTrafficService {
					wins = append(wins, e)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, wins)
	calls, slow := 0, 0
	for _, e := range wins {
		assert.Equal(t, "checkout", e.Client.Name)
		assert.Equal(t, "http", e.Conn.String())
		assert.LessOrEqual(t, e.Calls, uint64(2), "a handful of calls per window")
		calls += int(e.Calls)
		if e.Latency.P95 >= 9000 {
			slow++
		}
	}
	assert.InDelta(t, 15, calls, 3)
	assert.InDelta(t, 5, slow, 2, "the calls of the last six minutes take about 10 s")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type logRow struct {
	svc  string
	ts   time.Time
	sev  plog.SeverityNumber
	body string
	tid  [16]byte
	sid  [8]byte
}

type spanRow struct {
	svc        string
	tid        [16]byte
	sid        [8]byte
	parent     [8]byte
	kind       ptrace.SpanKind
	start, end time.Time
	attrs      map[string]any
	err        bool
}

type output struct {
	logs   []logRow
	spans  []spanRow
	chunks int
	stats  Stats
	// largest chunk
	maxLogs, maxSpans int
}

func collect(t *testing.T, sc Scenario, step time.Duration) output {
	t.Helper()
	var out output
	st, err := Run(sc, step, func(ch Chunk) error {
		out.chunks++
		out.maxLogs = max(out.maxLogs, ch.Logs.LogRecordCount())
		out.maxSpans = max(out.maxSpans, ch.Traces.SpanCount())
		for _, rl := range ch.Logs.ResourceLogs().All() {
			svc, _ := rl.Resource().Attributes().Get("service.name")
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					ts := lr.Timestamp().AsTime()
					if ts.Before(ch.Start) || !ts.Before(ch.End) {
						t.Errorf("log at %s outside its chunk [%s, %s)", ts, ch.Start, ch.End)
					}
					out.logs = append(out.logs, logRow{svc.Str(), ts, lr.SeverityNumber(), lr.Body().Str(), lr.TraceID(), lr.SpanID()})
				}
			}
		}
		for _, rs := range ch.Traces.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out.spans = append(out.spans, spanRow{
						svc: svc.Str(), tid: sp.TraceID(), sid: sp.SpanID(), parent: sp.ParentSpanID(), kind: sp.Kind(),
						start: sp.StartTimestamp().AsTime(), end: sp.EndTimestamp().AsTime(), attrs: sp.Attributes().AsRaw(),
						err: sp.Status().Code() == ptrace.StatusCodeError,
					})
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	out.stats = st
	return out
}

func mustScenario(t *testing.T, o Options) Scenario {
	t.Helper()
	sc, err := NewScenario(o)
	require.NoError(t, err)
	return sc
}

func TestDeterminism(t *testing.T) {
	run := func(seed uint64) []byte {
		sc := mustScenario(t, Options{Seed: seed, Duration: 40 * time.Second, Rate: 10, Fault: FaultMemoryPressure, FaultAt: 5 * time.Second})
		var buf bytes.Buffer
		var lm plog.ProtoMarshaler
		var tm ptrace.ProtoMarshaler
		_, err := Run(sc, time.Second, func(ch Chunk) error {
			b, err := lm.MarshalLogs(ch.Logs)
			require.NoError(t, err)
			buf.Write(b)
			b, err = tm.MarshalTraces(ch.Traces)
			require.NoError(t, err)
			buf.Write(b)
			return nil
		})
		require.NoError(t, err)
		return buf.Bytes()
	}
	a, b, c := run(7), run(7), run(8)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	t1, t2 := RandomTopology(3, 12), RandomTopology(3, 12)
	assert.Equal(t, t1, t2)
	s1, err := GenerateScenarios(EvalOptions{Count: 30, Seed: 5})
	require.NoError(t, err)
	s2, err := GenerateScenarios(EvalOptions{Count: 30, Seed: 5})
	require.NoError(t, err)
	assert.Equal(t, s1, s2)
}

func TestSpanStructure(t *testing.T) {
	for _, topo := range []*Topology{DefaultShop(), RandomTopology(11, 12)} {
		sc := mustScenario(t, Options{Topology: topo, Seed: 1, Duration: 30 * time.Second, Rate: 10})
		out := collect(t, sc, time.Second)
		require.NotEmpty(t, out.spans)
		byID := map[[8]byte]spanRow{}
		for _, sp := range out.spans {
			_, dup := byID[sp.sid]
			require.False(t, dup, "duplicate span id")
			byID[sp.sid] = sp
		}
		pairs, dbCalls, consumers := 0, 0, 0
		hasChild := map[[8]byte]bool{}
		for _, sp := range out.spans {
			n, ok := topo.Node(sp.svc)
			require.True(t, ok)
			require.Equal(t, KindService, n.Kind, "only services emit spans")
			assert.False(t, sp.end.Before(sp.start))
			if sp.parent == ([8]byte{}) {
				assert.Equal(t, topo.Entry, sp.svc, "roots are at the entry")
				assert.Equal(t, ptrace.SpanKindServer, sp.kind)
				continue
			}
			hasChild[sp.parent] = true
			p, ok := byID[sp.parent]
			require.True(t, ok, "parent span emitted")
			assert.Equal(t, sp.tid, p.tid)
			switch sp.kind {
			case ptrace.SpanKindServer:
				pairs++
				assert.Equal(t, ptrace.SpanKindClient, p.kind)
				assert.NotEqual(t, p.svc, sp.svc)
				assert.Equal(t, sp.svc, p.attrs["server.address"])
				assert.False(t, sp.start.Before(p.start))
			case ptrace.SpanKindConsumer:
				consumers++
				assert.Equal(t, ptrace.SpanKindProducer, p.kind)
				assert.Equal(t, sp.attrs["messaging.destination.name"], p.attrs["messaging.destination.name"])
			default:
				assert.Equal(t, p.svc, sp.svc, "client/producer spans are children of their own service's span")
			}
		}
		for _, sp := range out.spans {
			if sys, ok := sp.attrs["db.system.name"]; ok {
				dbCalls++
				assert.Equal(t, ptrace.SpanKindClient, sp.kind)
				assert.False(t, hasChild[sp.sid], "a database is a virtual peer: no server span")
				n, ok := topo.Node(sp.attrs["db.namespace"].(string))
				require.True(t, ok)
				assert.Equal(t, KindDatabase, n.Kind)
				assert.Equal(t, n.System, sys)
			}
		}
		assert.Positive(t, pairs)
		if topo.Entry == "frontend" && len(topo.Nodes) == len(DefaultShop().Nodes) {
			assert.Positive(t, dbCalls)
			assert.Positive(t, consumers)
		}
		for _, l := range out.logs {
			n, _ := topo.Node(l.svc)
			assert.Equal(t, KindService, n.Kind, "databases and queues have no logs")
		}
	}
}

func TestLogsCarryTraceContext(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 2, Duration: 60 * time.Second, Rate: 10, Fault: FaultBadDeploy, Target: "payment", FaultAt: 20 * time.Second})
	out := collect(t, sc, time.Second)
	spans := map[[8]byte]spanRow{}
	for _, sp := range out.spans {
		spans[sp.sid] = sp
	}
	withCtx := 0
	for _, l := range out.logs {
		assert.NotEqual(t, plog.SeverityNumberUnspecified, l.sev)
		if l.tid == ([16]byte{}) {
			continue
		}
		withCtx++
		sp, ok := spans[l.sid]
		require.True(t, ok, "log span id refers to an emitted span: %s", l.body)
		assert.Equal(t, sp.tid, l.tid)
		assert.Equal(t, sp.svc, l.svc)
		assert.False(t, l.ts.Before(sp.start))
	}
	assert.Greater(t, float64(withCtx), 0.9*float64(len(out.logs)))
}

// markers are the log texts that only a fault produces.
var markers = []string{
	"could not acquire connection", "slow query", "canceling statement", "timeout calling",
	"worker pool saturated", "handler panic", "deploying version", "GC overhead", "out of memory",
	"after restart", "connection refused", "call to ", "request failed", "cannot allocate",
}

func isMarker(body string) bool {
	for _, m := range markers {
		if strings.Contains(body, m) {
			return true
		}
	}
	return false
}

func TestFaults(t *testing.T) {
	type want struct {
		svc, text string
	}
	cases := []struct {
		o    Options
		want []want
	}{
		{Options{Fault: FaultDBPoolExhaustion, Target: "orders-db"}, []want{
			{"payment", "could not acquire connection from pool orders-db"}, {"checkout", "call to payment failed"}, {"frontend", "call to checkout failed"}}},
		{Options{Fault: FaultSlowQuery, Target: "inventory-db"}, []want{
			{"inventory", "slow query on inventory-db"}, {"inventory", "canceling statement"}}},
		{Options{Fault: FaultDependencyTimeout, Target: "payment"}, []want{
			{"payment", "worker pool saturated"}, {"checkout", "timeout calling payment"}, {"frontend", "timeout calling checkout"}}},
		{Options{Fault: FaultBadDeploy, Target: "inventory"}, []want{
			{"inventory", "handler panic"}, {"inventory", "deploying version"}, {"checkout", "call to inventory failed"}}},
		{Options{Fault: FaultMemoryPressure, Target: "user"}, []want{
			{"user", "GC overhead high"}, {"user", "out of memory"}, {"user", "after restart"}, {"checkout", "connection refused (calling user)"}}},
		{Options{Fault: FaultNetworkPartition, Target: "inventory", Peer: "checkout"}, []want{
			{"checkout", "connection refused (calling inventory)"}, {"frontend", "call to checkout failed"}}},
	}
	for _, tc := range cases {
		t.Run(string(tc.o.Fault), func(t *testing.T) {
			tc.o.Seed, tc.o.Duration, tc.o.Rate, tc.o.FaultAt = 3, 75*time.Second, 8, 25*time.Second
			sc := mustScenario(t, tc.o)
			f := sc.Faults[0]
			assert.Equal(t, tc.o.Target, f.RootCause())
			symptomatic := sc.Symptomatic(f)
			out := collect(t, sc, time.Second)
			first := map[string]time.Time{}
			for _, l := range out.logs {
				if !isMarker(l.body) {
					continue
				}
				require.False(t, l.ts.Before(f.Start), "fault symptom before the fault: %s %s", l.svc, l.body)
				assert.Contains(t, symptomatic, l.svc, "symptom outside the symptomatic services: %s", l.body)
				if _, ok := first[l.svc]; !ok {
					first[l.svc] = l.ts
				}
			}
			for _, w := range tc.want {
				found := false
				for _, l := range out.logs {
					if l.svc == w.svc && strings.Contains(l.body, w.text) {
						found = true
						break
					}
				}
				assert.True(t, found, "no %q in %s", w.text, w.svc)
			}
			// the nearest symptomatic service reacts within 30 s; upstream no earlier than it
			near, ok := first[symptomatic[0]]
			require.True(t, ok, "no symptom in %s", symptomatic[0])
			assert.Less(t, near.Sub(f.Start), 30*time.Second)
			if up, ok := first[sc.Topology.Entry]; ok && symptomatic[0] != sc.Topology.Entry {
				assert.False(t, up.Before(near), "upstream before the root cause's neighbour")
			}
			errSpans := 0
			for _, sp := range out.spans {
				if sp.err {
					require.False(t, sp.end.Before(f.Start), "error span before the fault")
					assert.Contains(t, symptomatic, sp.svc)
					errSpans++
				}
			}
			if f.Kind != FaultMemoryPressure || errSpans == 0 {
				assert.Positive(t, errSpans)
			}
		})
	}
}

func TestFaultsOnRandomTopologies(t *testing.T) {
	scs, err := GenerateScenarios(EvalOptions{Count: 13, Seed: 9, Duration: 45 * time.Second, Rate: 5, DefaultShopEvery: -1, FaultFreeEvery: 13})
	require.NoError(t, err)
	kinds := map[FaultKind]bool{}
	for _, sc := range scs {
		out := collect(t, sc, 2*time.Second)
		if len(sc.Faults) == 0 {
			kinds[FaultNone] = true
			for _, l := range out.logs {
				assert.False(t, isMarker(l.body), "%s: fault-free run has %q", sc.Name, l.body)
			}
			continue
		}
		f := sc.Faults[0]
		kinds[f.Kind] = true
		symptomatic := sc.Symptomatic(f)
		after := 0
		for _, l := range out.logs {
			if !isMarker(l.body) {
				continue
			}
			require.False(t, l.ts.Before(f.Start), "%s: symptom before the fault: %s", sc.Name, l.body)
			assert.Contains(t, symptomatic, l.svc, "%s: %s", sc.Name, l.body)
			after++
		}
		assert.Positive(t, after, "%s: no symptom", sc.Name)
	}
	assert.Len(t, kinds, len(FaultKinds())+1)
}

func TestFaultFreeIsBenign(t *testing.T) {
	for _, topo := range []*Topology{DefaultShop(), RandomTopology(4, 15)} {
		sc := mustScenario(t, Options{Topology: topo, Seed: 4, Duration: 60 * time.Second, Rate: 15})
		out := collect(t, sc, 5*time.Second)
		errs, warns := 0, 0
		for _, l := range out.logs {
			assert.False(t, isMarker(l.body), l.body)
			switch {
			case l.sev >= plog.SeverityNumberError:
				errs++
				assert.Contains(t, l.body, "client disconnected")
			case l.sev >= plog.SeverityNumberWarn:
				warns++
			}
		}
		for _, sp := range out.spans {
			assert.False(t, sp.err)
		}
		n := len(out.logs)
		assert.Positive(t, errs+warns, "some benign noise")
		assert.Less(t, float64(errs), 0.005*float64(n))
		assert.Less(t, float64(warns), 0.01*float64(n))
	}
}

func TestBoundedOutput(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 5, Duration: 30 * time.Second, Rate: 40, Fault: FaultDependencyTimeout, Target: "checkout"})
	out := collect(t, sc, time.Second)
	// one request of the shop: at most 14 spans and 20 lines, plus background lines
	perReq := float64(out.stats.Spans) / float64(out.stats.Requests)
	assert.Less(t, perReq, 14.0)
	assert.Less(t, float64(out.stats.Logs)/float64(out.stats.Requests), 20.0)
	assert.Less(t, out.maxSpans, 40*14*3)
	assert.Zero(t, out.stats.Dropped)
	assert.Len(t, out.spans, int(out.stats.Spans))
	assert.Len(t, out.logs, int(out.stats.Logs))
	// the run ends: chunks after the end only drain calls in flight (at most the 8 s hangs)
	assert.LessOrEqual(t, out.chunks, 30+10)

	big := RandomTopology(1, 10000)
	require.NoError(t, big.Validate())
	assert.LessOrEqual(t, len(big.Nodes), MaxNodes)
	for seed := range uint64(30) {
		topo := RandomTopology(seed, 2+int(seed))
		require.NoError(t, topo.Validate())
		visits := topo.Visits()
		for _, n := range topo.Nodes {
			assert.Positive(t, visits[n.Name], "%s unreachable", n.Name)
		}
		for _, svc := range topo.Services() {
			calls := 0
			for _, e := range topo.Callees(svc) {
				if e.Protocol != ProtoDatabase {
					calls++
				}
			}
			assert.LessOrEqual(t, calls, 4)
		}
	}
}

func TestScenarioValidation(t *testing.T) {
	noDB := &Topology{Entry: "a", Nodes: []Node{{Name: "a", Kind: KindService}, {Name: "b", Kind: KindService}},
		Edges: []Edge{{From: "a", To: "b", Protocol: ProtoHTTP, Probability: 1}}}
	_, err := NewScenario(Options{Topology: noDB, Fault: FaultSlowQuery})
	require.Error(t, err)
	_, err = NewScenario(Options{Fault: FaultBadDeploy, Target: "orders-db"})
	require.Error(t, err)
	_, err = NewScenario(Options{Fault: FaultNetworkPartition, Target: "payment", Peer: "frontend"})
	require.Error(t, err)
	_, err = NewScenario(Options{Rate: -1})
	require.Error(t, err)
	_, err = ParseFaultKind("meteor")
	require.Error(t, err)
	cyc := &Topology{Entry: "a", Nodes: noDB.Nodes, Edges: append(noDB.Edges, Edge{From: "b", To: "a", Protocol: ProtoRPC, Probability: 1})}
	require.Error(t, cyc.Validate())
	sc, err := NewScenario(Options{Topology: noDB, Fault: FaultNetworkPartition, Seed: 1})
	require.NoError(t, err)
	assert.Equal(t, "b", sc.Faults[0].Service)
	assert.Equal(t, "a", sc.Faults[0].Peer)
	assert.Equal(t, []string{"a"}, sc.Symptomatic(sc.Faults[0]))
	for _, k := range FaultKinds() {
		got, err := ParseFaultKind(string(k))
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	scs, err := GenerateScenarios(EvalOptions{Count: 60, Seed: 1})
	require.NoError(t, err)
	free := 0
	for _, sc := range scs {
		require.NoError(t, sc.Validate())
		if len(sc.Faults) == 0 {
			free++
		}
	}
	assert.Equal(t, 10, free)
}

func BenchmarkDefaultShop(b *testing.B) {
	sc, err := NewScenario(Options{Seed: 1, Duration: time.Minute, Rate: 50, Fault: FaultSlowQuery})
	require.NoError(b, err)
	var spans, logs int64
	for b.Loop() {
		st, err := Run(sc, time.Second, func(Chunk) error { return nil })
		require.NoError(b, err)
		spans, logs = st.Spans, st.Logs
	}
	b.ReportMetric(float64(spans+logs)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

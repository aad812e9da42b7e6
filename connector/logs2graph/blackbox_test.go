// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

// A black-box check of the connector against the simulator: the true edges of a run are computed
// from the emitted spans alone (every span joined with its parent by ids, knowing the kinds the
// simulator gave them), the same spans go through the connector in the simulator's arrival
// batches, and the edge records must give exactly the true edges (precision and recall 1.0) with
// exact call and error counts per edge.

// trueCall is one edge of the ground truth: client (the user node is "(user)"), server, connection.
type trueCall struct{ client, server, conn string }

type trueCount struct{ calls, errors int64 }

// simSpan is what the truth needs of a span, read from the pdata as the simulator wrote it.
type simSpan struct {
	svc    string
	kind   ptrace.SpanKind
	parent pcommon.SpanID
	failed bool
	peer   string // the callee named by a CLIENT or PRODUCER span
	conn   string // the protocol of a CLIENT or PRODUCER span
}

type spanKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// readSimSpan applies the documented failure rule independently of graphpdata: status ERROR, an
// HTTP status >= 500, or a gRPC server-failure code.
func readSimSpan(svc string, sp ptrace.Span) simSpan {
	a := sp.Attributes()
	get := a.Get
	s := simSpan{svc: svc, kind: sp.Kind(), parent: sp.ParentSpanID(), failed: sp.Status().Code() == ptrace.StatusCodeError}
	if v, ok := get("http.response.status_code"); ok && v.Int() >= 500 {
		s.failed = true
	}
	if v, ok := get("rpc.grpc.status_code"); ok {
		switch v.Int() {
		case 2, 4, 12, 13, 14, 15:
			s.failed = true
		}
	}
	str := func(k string) string {
		if v, ok := get(k); ok {
			return v.Str()
		}
		return ""
	}
	switch {
	case s.kind == ptrace.SpanKindProducer:
		s.conn, s.peer = "messaging", str("messaging.destination.name")
	case str("db.system.name") != "":
		s.conn, s.peer = "database", str("db.namespace")
	case str("rpc.system") != "":
		s.conn, s.peer = "rpc", str("server.address")
	case str("http.request.method") != "":
		s.conn, s.peer = "http", str("server.address")
	}
	return s
}

// truth computes the true edges: a root SERVER span is a call from the user; each CLIENT or
// PRODUCER span is a call to the service of each of its children in another service, or, without
// such a child, to the peer it names. A call fails when either side failed.
func truth(spans map[spanKey]simSpan) map[trueCall]trueCount {
	children := map[spanKey][]spanKey{}
	for k, s := range spans {
		if s.parent != (pcommon.SpanID{}) {
			p := spanKey{k.trace, s.parent}
			children[p] = append(children[p], k)
		}
	}
	out := map[trueCall]trueCount{}
	count := func(c trueCall, failed bool) {
		n := out[c]
		n.calls++
		if failed {
			n.errors++
		}
		out[c] = n
	}
	for k, s := range spans {
		switch s.kind {
		case ptrace.SpanKindServer:
			if s.parent == (pcommon.SpanID{}) {
				count(trueCall{"(user)", s.svc, "virtual"}, s.failed)
			}
		case ptrace.SpanKindClient, ptrace.SpanKindProducer:
			callee := false
			for _, ck := range children[k] {
				if c := spans[ck]; c.svc != s.svc {
					callee = true
					count(trueCall{s.svc, c.svc, s.conn}, s.failed || c.failed)
				}
			}
			if !callee {
				count(trueCall{s.svc, s.peer, s.conn}, s.failed)
			}
		}
	}
	return out
}

// emitted sums the connector's edge records per edge.
func emitted(t *testing.T, p *pipelines) map[trueCall]trueCount {
	t.Helper()
	out := map[trueCall]trueCount{}
	for _, lr := range records(p.edges) {
		if lr.EventName() != eventEdge {
			continue
		}
		s := summarize(lr)
		kind, _ := lr.Attributes().Get(attrClientKind)
		client := s.client
		if kind.Str() == "user" {
			client = "(user)"
		}
		if s.calls == 0 {
			continue
		}
		c := trueCall{client, s.server, s.conn}
		n := out[c]
		n.calls += s.calls
		n.errors += s.errors
		out[c] = n
	}
	return out
}

// variant changes how the spans reach the connector; the truth is always computed from the spans
// as the simulator emitted them.
type variant struct {
	name string
	// byStart > 0 re-batches the spans by start time (one request per byStart of span starts,
	// spans in start order), as exporters and replays that send spans in start-time order do:
	// long spans arrive before the calls that end earlier.
	byStart time.Duration
	// longSpan adds to the middle of every 12th start-time request (once a minute) a 40 s root
	// SERVER span of a service of its own (a pool timeout, a batch job), which starts with the
	// request's first span: the minimal case of issue 11 in a realistic stream.
	longSpan bool
	// mutate changes a span before it is sent (nil: unchanged).
	mutate func(sp ptrace.Span)
}

var variants = []variant{
	{name: "as emitted"},
	{name: "batched by start time", byStart: 20 * time.Second},
	{name: "batched by start time with 40 s spans", byStart: 5 * time.Second, longSpan: true},
	{
		// Java agents and hand-made tracers emit database calls as INTERNAL spans.
		name: "database spans without kind",
		mutate: func(sp ptrace.Span) {
			if _, ok := sp.Attributes().Get("db.system.name"); ok {
				sp.SetKind(ptrace.SpanKindInternal)
			}
		},
	},
	{
		// Tracers that record the HTTP or gRPC status code but no span status.
		name: "status codes without span status",
		mutate: func(sp ptrace.Span) {
			_, h := sp.Attributes().Get("http.response.status_code")
			_, g := sp.Attributes().Get("rpc.grpc.status_code")
			if h || g {
				sp.Status().SetCode(ptrace.StatusCodeUnset)
			}
		},
	},
}

// runBlackBox plays sc through the connector as v says and compares with the truth.
func runBlackBox(t *testing.T, sc sim.Scenario, v variant) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.IdleAdvance = 0
	p := newPipelines(t, cfg, nil, false)
	c := p.conn()
	ctx := context.Background()
	spans := map[spanKey]simSpan{}
	type startedSpan struct {
		res pcommon.Resource
		sp  ptrace.Span
	}
	var started []startedSpan
	_, err := sim.Run(sc, time.Second, func(ch sim.Chunk) error {
		for _, rs := range ch.Traces.ResourceSpans().All() {
			svcV, _ := rs.Resource().Attributes().Get("service.name")
			svc := svcV.Str()
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					spans[spanKey{sp.TraceID(), sp.SpanID()}] = readSimSpan(svc, sp)
					if v.mutate != nil {
						v.mutate(sp)
					}
					if v.byStart > 0 {
						res, cp := pcommon.NewResource(), ptrace.NewSpan()
						rs.Resource().CopyTo(res)
						sp.CopyTo(cp)
						started = append(started, startedSpan{res, cp})
					}
				}
			}
		}
		if v.byStart == 0 {
			if err := p.traces.ConsumeTraces(ctx, ch.Traces); err != nil {
				return err
			}
			c.tick(ctx)
		}
		return nil
	})
	require.NoError(t, err)
	if v.byStart > 0 {
		sort.SliceStable(started, func(i, j int) bool { return started[i].sp.StartTimestamp() < started[j].sp.StartTimestamp() })
		for i := 0; i < len(started); {
			// one request: the spans starting in one byStart period, one resource per span
			period := int64(started[i].sp.StartTimestamp()) / int64(v.byStart)
			td := ptrace.NewTraces()
			first := i
			for i < len(started) && int64(started[i].sp.StartTimestamp())/int64(v.byStart) == period {
				i++
			}
			for j := first; j < i; j++ {
				if v.longSpan && period%12 == 0 && j == (first+i)/2 {
					rs := td.ResourceSpans().AppendEmpty()
					rs.Resource().Attributes().PutStr("service.name", "batch-job")
					sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
					sp.SetTraceID(pcommon.TraceID{0xBA, 0x7C, byte(period >> 24), byte(period >> 16), byte(period >> 8), byte(period), 1})
					sp.SetSpanID(pcommon.SpanID{0xBA, 0x7C, 1})
					sp.SetKind(ptrace.SpanKindServer)
					sp.SetStartTimestamp(started[first].sp.StartTimestamp())
					sp.SetEndTimestamp(started[first].sp.StartTimestamp() + pcommon.Timestamp(40*time.Second))
					spans[spanKey{sp.TraceID(), sp.SpanID()}] = readSimSpan("batch-job", sp)
				}
				rs := td.ResourceSpans().AppendEmpty()
				started[j].res.CopyTo(rs.Resource())
				started[j].sp.CopyTo(rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty())
			}
			require.NoError(t, p.traces.ConsumeTraces(ctx, td))
			c.tick(ctx)
		}
	}
	p.shutdown(t)

	want := truth(spans)
	got := emitted(t, p)
	var tp, fp, fn int
	for k := range got {
		if _, ok := want[k]; ok {
			tp++
		} else {
			fp++
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			fn++
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	assert.InDelta(t, 1.0, precision, 0, "precision: edges that do not exist: %v", diffKeys(got, want))
	assert.InDelta(t, 1.0, recall, 0, "recall: edges missing: %v", diffKeys(want, got))
	for _, k := range sortedCalls(want) {
		assert.Equal(t, want[k], got[k], "calls and errors of %s -> %s (%s)", k.client, k.server, k.conn)
	}
	st := c.store.Stats()
	assert.Zero(t, st.DroppedTotal(), "dropped: %v", st.Dropped)
}

func diffKeys(a, b map[trueCall]trueCount) []string {
	var out []string
	for _, k := range sortedCalls(a) {
		if _, ok := b[k]; !ok {
			out = append(out, fmt.Sprintf("%s->%s(%s) %d calls", k.client, k.server, k.conn, a[k].calls))
		}
	}
	return out
}

func sortedCalls(m map[trueCall]trueCount) []trueCall {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.client != b.client {
			return a.client < b.client
		}
		if a.server != b.server {
			return a.server < b.server
		}
		return a.conn < b.conn
	})
	return keys
}

func TestBlackBoxAgainstSimulator(t *testing.T) {
	type tc struct {
		sc       sim.Scenario
		variants []variant
	}
	var cases []tc
	add := func(o sim.Options, vs []variant) {
		o.Duration, o.Rate, o.FaultAt = 2*time.Minute, 8, 40*time.Second
		sc, err := sim.NewScenario(o)
		require.NoError(t, err)
		cases = append(cases, tc{sc, vs})
	}
	for i, k := range sim.FaultKinds() {
		vs := variants[:3]
		if k == sim.FaultDBPoolExhaustion || k == sim.FaultDependencyTimeout {
			vs = variants
		}
		add(sim.Options{Seed: uint64(100 + i), Fault: k}, vs)
	}
	// Two generated topologies.
	add(sim.Options{Seed: 7, Topology: sim.RandomTopology(7, 10), Fault: sim.FaultMemoryPressure}, variants[:3])
	add(sim.Options{Seed: 8, Topology: sim.RandomTopology(8, 12), Fault: sim.FaultDependencyTimeout}, variants[:3])
	for _, c := range cases {
		for _, v := range c.variants {
			t.Run(c.sc.Name+"/"+v.name, func(t *testing.T) {
				runBlackBox(t, c.sc, v)
			})
		}
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadata"
)

// Realistic traffic for the benchmarks: 5 000 traces/s of event time. 4 in 5 traces are
// frontend -> checkout -> payment -> payments-db (postgres), with checkout -> cache (redis) and
// checkout -> orders topic -> shipping (kafka): 9 spans with semantic-convention attributes.
// The fifth is an INTERNAL-only gateway -> inventory -> pricing trace (3 spans). Each service
// exports its spans in batches of 100 traces, after its own delay (shipping 0.2 s, payment
// 0.5 s, checkout 1 s, frontend 2.5 s, ...), so children mostly arrive before their parents and
// the halves of a call are in different requests.
const (
	benchTracesPerSec = 5000
	benchChunk        = 100 // traces per export request of one service
	benchCycleTraces  = 20000
	benchEpoch        = int64(1_790_000_000) * 1e9 // event time of the first trace
)

type benchReq struct {
	td    ptrace.Traces
	spans int
	order float64
}

var benchLag = map[string]float64{ // seconds
	"shipping": 0.2, "payment": 0.5, "checkout": 1.0, "frontend": 2.5,
	"gateway": 0.3, "inventory": 0.6, "pricing": 0.1,
}

// genBenchRequests returns the export requests of benchCycleTraces traces in arrival order.
func genBenchRequests(seed uint64) []benchReq {
	rng := rand.New(rand.NewPCG(seed, 1)) //nolint:gosec // G404: reproducible benchmark traces
	type chunkKey struct {
		chunk int
		svc   string
	}
	reqs := map[chunkKey]*benchReq{}
	spansOf := func(chunk int, svc string) ptrace.SpanSlice {
		k := chunkKey{chunk, svc}
		r, ok := reqs[k]
		if !ok {
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			ra := rs.Resource().Attributes()
			ra.PutStr("service.name", svc)
			ra.PutStr("service.version", "1.4.2")
			ra.PutStr("service.instance.id", svc+"-7d9f8b6c5-x2k4p")
			ra.PutStr("host.name", "node-12")
			ra.PutStr("telemetry.sdk.language", "go")
			rs.ScopeSpans().AppendEmpty().Scope().SetName("go.opentelemetry.io/contrib/instrumentation")
			start := float64(chunk*benchChunk) / benchTracesPerSec
			r = &benchReq{td: td, order: start + benchLag[svc] + rng.Float64()*0.05}
			reqs[k] = r
		}
		r.spans++
		return r.td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	}
	for tr := 0; tr < benchCycleTraces; tr++ {
		chunk := tr / benchChunk
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[8:], uint64(tr)+1)
		binary.BigEndian.PutUint64(tid[:8], rng.Uint64())
		t := benchEpoch + int64(float64(tr)/benchTracesPerSec*1e9)
		id := uint64(0)
		add := func(svc string, parent pcommon.SpanID, kind ptrace.SpanKind, name string, at, dur int64, err bool, attrs ...string) pcommon.SpanID {
			id++
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], uint64(tr)<<8|id)
			sp := spansOf(chunk, svc).AppendEmpty()
			sp.SetTraceID(tid)
			sp.SetSpanID(sid)
			sp.SetParentSpanID(parent)
			sp.SetKind(kind)
			sp.SetName(name)
			sp.SetStartTimestamp(pcommon.Timestamp(t + at))
			sp.SetEndTimestamp(pcommon.Timestamp(t + at + dur))
			if err {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
			for i := 0; i+1 < len(attrs); i += 2 {
				sp.Attributes().PutStr(attrs[i], attrs[i+1])
			}
			return sid
		}
		ms := int64(time.Millisecond)
		if tr%5 == 4 {
			g := add("gateway", pcommon.SpanID{}, ptrace.SpanKindInternal, "route", 0, 30*ms, false)
			inv := add("inventory", g, ptrace.SpanKindInternal, "lookup", ms, 25*ms, false)
			add("pricing", inv, ptrace.SpanKindInternal, "price", 2*ms, 10*ms, false)
			continue
		}
		fail := rng.IntN(50) == 0
		root := add("frontend", pcommon.SpanID{}, ptrace.SpanKindServer, "GET /checkout", 0, 120*ms, fail,
			"http.request.method", "GET", "url.path", "/checkout", "http.route", "/checkout", "network.protocol.version", "1.1")
		fc := add("frontend", root, ptrace.SpanKindClient, "POST", ms, 110*ms, fail,
			"http.request.method", "POST", "server.address", "checkout", "server.port", "8080", "url.full", "http://checkout:8080/api/checkout")
		cs := add("checkout", fc, ptrace.SpanKindServer, "POST /api/checkout", 2*ms, 100*ms, fail,
			"http.request.method", "POST", "http.route", "/api/checkout", "url.path", "/api/checkout")
		add("checkout", cs, ptrace.SpanKindClient, "GET", 3*ms, 2*ms, false,
			"db.system.name", "redis", "server.address", "cache", "db.operation.name", "GET")
		pc := add("checkout", cs, ptrace.SpanKindClient, "payment.Payment/Charge", 6*ms, 60*ms, fail,
			"rpc.system", "grpc", "rpc.service", "payment.Payment", "rpc.method", "Charge", "server.address", "payment")
		ps := add("payment", pc, ptrace.SpanKindServer, "payment.Payment/Charge", 7*ms, 55*ms, fail,
			"rpc.system", "grpc", "rpc.service", "payment.Payment", "rpc.method", "Charge")
		add("payment", ps, ptrace.SpanKindClient, "INSERT payments", 8*ms, 20*ms, false,
			"db.system.name", "postgresql", "db.namespace", "payments", "server.address", "payments-db", "db.operation.name", "INSERT")
		pr := add("checkout", cs, ptrace.SpanKindProducer, "orders publish", 70*ms, 3*ms, false,
			"messaging.system", "kafka", "messaging.destination.name", "orders", "messaging.operation.type", "send")
		add("shipping", pr, ptrace.SpanKindConsumer, "orders process", 80*ms, 30*ms, false,
			"messaging.system", "kafka", "messaging.destination.name", "orders", "messaging.operation.type", "process")
	}
	out := make([]benchReq, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].order < out[j].order })
	return out
}

// mix64 is splitmix64's finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// shiftCycle rewrites trace ids and moves timestamps forward, so that each pass over the
// requests is new traffic that continues the previous pass in event time.
func shiftCycle(reqs []benchReq, cycle uint64) {
	d := pcommon.Timestamp(float64(benchCycleTraces) / benchTracesPerSec * 1e9)
	for _, r := range reqs {
		spans := r.td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for i := 0; i < spans.Len(); i++ {
			sp := spans.At(i)
			tid := sp.TraceID()
			binary.BigEndian.PutUint64(tid[:8], mix64(cycle<<40^binary.BigEndian.Uint64(tid[8:])))
			sp.SetTraceID(tid)
			if cycle > 0 {
				sp.SetStartTimestamp(sp.StartTimestamp() + d)
				sp.SetEndTimestamp(sp.EndTimestamp() + d)
			}
		}
	}
}

func benchConnector(b *testing.B, cfg *Config) (*tracesConnector, *graphConnector) {
	b.Helper()
	// The wall clock is far ahead of the event time (a replay), so no timestamp is re-stamped.
	clk := clockwork.NewFakeClockAt(time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour))
	f := newFactoryWith(clk)
	c, err := f.CreateTracesToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	tc := c.(*tracesConnector)
	b.Cleanup(func() { require.NoError(b, c.Shutdown(context.Background())) })
	return tc, tc.c
}

// BenchmarkConsumeTraces measures spans/s through the connector (pdata conversion, pairing,
// windows, and the periodic flush that builds and emits the edge records), one op per span.
func BenchmarkConsumeTraces(b *testing.B) {
	for _, tc := range []struct {
		name       string
		ttl        time.Duration
		maxPending int
	}{
		{"ttl=10s", 10 * time.Second, 1_000_000},
		{"ttl=2s", 2 * time.Second, 200_000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.PendingTTL = tc.ttl
			cfg.MaxPendingSpans = tc.maxPending
			reqs := genBenchRequests(1)
			tr, gc := benchConnector(b, cfg)
			ctx := context.Background()
			cycle := uint64(0)
			// Warm up to the steady-state pending size (3 passes = 12 s of event time).
			for ; cycle < 3; cycle++ {
				shiftCycle(reqs, cycle)
				for _, r := range reqs {
					require.NoError(b, tr.ConsumeTraces(ctx, r.td))
				}
				gc.tick(ctx)
			}
			b.ReportAllocs()
			b.ResetTimer()
			done, i, sinceFlush := 0, len(reqs), 0
			for done < b.N {
				if i == len(reqs) {
					b.StopTimer()
					shiftCycle(reqs, cycle)
					cycle++
					i = 0
					b.StartTimer()
				}
				require.NoError(b, tr.ConsumeTraces(ctx, reqs[i].td))
				done += reqs[i].spans
				sinceFlush += reqs[i].spans
				i++
				if sinceFlush >= 4096 {
					gc.tick(ctx)
					sinceFlush = 0
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "spans/s")
			gc.mu.Lock()
			st := gc.store.Stats()
			gc.mu.Unlock()
			b.ReportMetric(float64(st.Pending), "pending")
			if st.DroppedTotal() > 0 {
				b.Fatalf("dropped %v", st.Dropped)
			}
		})
	}
}

// BenchmarkFloodUniqueTraces sends spans that all have a fresh trace id and an unknown parent
// (nothing ever pairs): memory must stay bounded by max_pending_spans; the rest is dropped and
// counted. It reports the live heap after GC.
func BenchmarkFloodUniqueTraces(b *testing.B) {
	cfg := createDefaultConfig().(*Config)
	tr, gc := benchConnector(b, cfg)
	ctx := context.Background()
	const batch = 1000
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "flooder")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < batch; i++ {
		sp := spans.AppendEmpty()
		sp.SetKind(ptrace.SpanKindServer)
		sp.Attributes().PutStr("http.request.method", "GET")
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := uint64(0)
	for done := 0; done < b.N; done += batch {
		for i := 0; i < batch; i++ {
			n++
			sp := spans.At(i)
			var tid pcommon.TraceID
			binary.BigEndian.PutUint64(tid[:8], n*0x9e3779b97f4a7c15)
			binary.BigEndian.PutUint64(tid[8:], n)
			sp.SetTraceID(tid)
			sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
			sp.SetParentSpanID(pcommon.SpanID{8, 7, 6, 5, 4, 3, 2, 1})
			ts := pcommon.Timestamp(1e18 + n*1000) // 1 µs apart: TTL 10 s never expires in the run
			sp.SetStartTimestamp(ts)
			sp.SetEndTimestamp(ts + 500)
		}
		require.NoError(b, tr.ConsumeTraces(ctx, td))
		if n%(64*batch) == 0 {
			gc.tick(ctx)
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc.mu.Lock()
	st := gc.store.Stats()
	gc.mu.Unlock()
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(st.Pending), "pending")
	if st.Pending > cfg.MaxPendingSpans {
		b.Fatalf("pending %d above the bound %d", st.Pending, cfg.MaxPendingSpans)
	}
}

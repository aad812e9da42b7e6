// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

// TestMaxPendingSpansCountsSpans: a span whose parent has not arrived takes one unit of
// max_pending_spans (its parent's placeholder is not counted), and the gauge counts spans.
func TestMaxPendingSpansCountsSpans(t *testing.T) {
	const n = 100
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.MaxPendingSpans = n
	p := newPipelines(t, cfg, tel, false)
	c := p.conn()
	ctx := context.Background()
	// Not started: no flush loop, the test drives the telemetry.

	orphans := func(from, count int) ptrace.Traces {
		var spans []span
		for i := from; i < from+count; i++ {
			spans = append(spans, span{svc: "checkout", trace: byte(i), id: 2, parent: 1, kind: ptrace.SpanKindServer,
				at: time.Second, dur: time.Millisecond})
		}
		return makeTraces(spans...)
	}
	require.NoError(t, p.traces.ConsumeTraces(ctx, orphans(1, n)))
	c.recordStats(ctx)
	metadatatest.AssertEqualConnectorLogs2graphPendingSpans(t, tel, []metricdata.DataPoint[int64]{{Value: n}},
		metricdatatest.IgnoreTimestamp())
	_, err := tel.GetMetric("otelcol_connector_logs2graph_dropped")
	require.Error(t, err, "nothing dropped with n spans pending")

	require.NoError(t, p.traces.ConsumeTraces(ctx, orphans(n+1, 1)))
	c.recordStats(ctx)
	metadatatest.AssertEqualConnectorLogs2graphPendingSpans(t, tel, []metricdata.DataPoint[int64]{{Value: n}},
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorLogs2graphDropped(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "pending_full"))},
	}, metricdatatest.IgnoreTimestamp())
	c.mu.Lock()
	st := c.store.Stats()
	c.mu.Unlock()
	assert.Equal(t, n, st.Pending)
	assert.Equal(t, 2*n, st.Entries, "each held span has its parent's placeholder")
	p.shutdown(t)
}

// TestLongNamesAreBounded feeds edges between services with 1 MiB names (and 1 MiB peer
// names): every kept and emitted name is at most graph.MaxNameBytes, the same long name always
// maps to the same node, truncations are counted, and the heap does not keep the long names.
func TestLongNamesAreBounded(t *testing.T) {
	const (
		edges = 20
		mib   = 1 << 20
	)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p := newPipelines(t, createDefaultConfig().(*Config), tel, false)
	c := p.conn()
	ctx := context.Background()
	long := func(prefix string, i int) string {
		return fmt.Sprintf("%s-%03d-", prefix, i) + strings.Repeat("x", mib)
	}
	// Twice each edge, in separate requests: the second call must join the first one's edge.
	feed := func(round int) {
		for i := range edges {
			client, server, peer := long("client", i), long("server", i), long("peer", i)
			tr := byte(round*edges + i + 1)
			require.NoError(t, p.traces.ConsumeTraces(ctx, makeTraces(
				span{svc: client, trace: tr, id: 1, kind: ptrace.SpanKindClient, at: time.Second, dur: 10 * time.Millisecond,
					attrs: map[string]string{"server.address": peer}},
				span{svc: server, trace: tr, id: 2, parent: 1, kind: ptrace.SpanKindServer, at: time.Second + time.Millisecond, dur: 8 * time.Millisecond},
				span{svc: server, trace: tr, id: 3, parent: 2, kind: ptrace.SpanKindClient, at: time.Second + 2*time.Millisecond, dur: 5 * time.Millisecond,
					attrs: map[string]string{"peer.service": peer}}, // unmatched: a call to the peer at expiry
			)))
		}
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	feed(0)
	feed(1)
	runtime.GC()
	runtime.ReadMemStats(&after)
	// 40 requests of 3-5 MiB of names went through; a graph keeping them would hold 100+ MiB.
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, grown, int64(16<<20), "heap grew by %d bytes", grown)

	c.mu.Lock()
	snap := c.store.Snapshot()
	st := c.store.Stats()
	c.mu.Unlock()
	require.Len(t, snap, edges, "client -> server edges (the peer calls are still pending)")
	for _, e := range snap {
		assert.LessOrEqual(t, len(e.Client.Name), graph.MaxNameBytes)
		assert.LessOrEqual(t, len(e.Server.Name), graph.MaxNameBytes)
		assert.Contains(t, e.Client.Name, graph.TruncatedMarker)
		assert.Equal(t, uint64(2), e.Calls, "both rounds join on one edge")
	}
	assert.Equal(t, uint64(2*edges*3), st.Truncated[graph.FieldService])
	assert.Equal(t, uint64(2*edges*2), st.Truncated[graph.FieldPeer])

	p.shutdown(t) // expires the pending peer calls and emits everything
	got := totals(p.edges)
	require.Len(t, got, 2*edges)
	for k, e := range got {
		for _, name := range k[:2] {
			assert.LessOrEqual(t, len(name), graph.MaxNameBytes)
		}
		assert.Equal(t, int64(2), e.calls, "%s -> %s", k[0][:10], k[1][:10])
	}
	for _, lr := range records(p.edges) {
		for _, v := range lr.Attributes().All() {
			assert.LessOrEqual(t, len(v.AsString()), 4*graph.MaxNameBytes)
		}
	}
	metadatatest.AssertEqualConnectorLogs2graphNamesTruncated(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2 * edges * 3, Attributes: attribute.NewSet(attribute.String("field", "service"))},
		{Value: 2 * edges * 2, Attributes: attribute.NewSet(attribute.String("field", "peer"))},
	}, metricdatatest.IgnoreTimestamp())
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graphpdata

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

func TestAppendSpans(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(AttrServiceName, "payment")
	spans := rs.ScopeSpans().AppendEmpty().Spans()

	client := spans.AppendEmpty()
	client.SetTraceID(pcommon.TraceID{1})
	client.SetSpanID(pcommon.SpanID{2})
	client.SetParentSpanID(pcommon.SpanID{3})
	client.SetKind(ptrace.SpanKindClient)
	client.SetStartTimestamp(100)
	client.SetEndTimestamp(500)
	client.Status().SetCode(ptrace.StatusCodeError)
	client.Attributes().PutStr("db.system.name", "postgresql")
	client.Attributes().PutStr("db.namespace", "orders")

	internal := spans.AppendEmpty()
	internal.SetKind(ptrace.SpanKindInternal)
	internal.SetStartTimestamp(1000)
	internal.SetEndTimestamp(2000)
	internal.Attributes().PutStr("peer.service", "ignored-for-internal-spans")

	got := AppendSpans(nil, td, 1500)
	require.Len(t, got, 2)
	c := got[0]
	assert.Equal(t, "payment", c.Service)
	assert.Equal(t, graph.KindClient, c.Kind)
	assert.Equal(t, graph.TraceID{1}, c.TraceID)
	assert.Equal(t, graph.SpanID{3}, c.ParentSpanID)
	assert.True(t, c.Error)
	assert.Equal(t, "orders", c.Peer.Name)
	assert.Equal(t, "postgresql", c.Peer.System)
	assert.Equal(t, graph.PeerDatabase, c.Peer.Kind)
	assert.Equal(t, int64(100), c.Start)

	in := got[1]
	assert.Empty(t, in.Peer.Name, "only client, producer and server spans carry a peer")
	assert.Equal(t, int64(1500), in.End, "a future end is clamped to the limit")
	assert.Equal(t, int64(500), in.Start, "keeping the duration")
}

func TestURLHost(t *testing.T) {
	assert.Equal(t, "api.example.com", URLHost("https://api.example.com:8443/v1/items?x=1"))
	assert.Empty(t, URLHost("relative/path"))
}

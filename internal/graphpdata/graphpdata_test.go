// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graphpdata

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
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
	internal.Attributes().PutStr("server.address", "not-a-kindless-client")

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
	assert.Empty(t, in.Peer.Name, "an internal span with only server.address is not a client")
	assert.Equal(t, int64(1500), in.End, "a future end is clamped to the limit")
	assert.Equal(t, int64(500), in.Start, "keeping the duration")
}

func TestURLHost(t *testing.T) {
	assert.Equal(t, "api.example.com", URLHost("https://api.example.com:8443/v1/items?x=1"))
	assert.Empty(t, URLHost("relative/path"))
}

// failing builds one span of the given kind, status and attributes and returns its Error.
func failing(t *testing.T, kind ptrace.SpanKind, statusErr bool, attrs map[string]any) bool {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(AttrServiceName, "svc")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetKind(kind)
	sp.SetStartTimestamp(1)
	sp.SetEndTimestamp(2)
	if statusErr {
		sp.Status().SetCode(ptrace.StatusCodeError)
	}
	require.NoError(t, sp.Attributes().FromRaw(attrs))
	got := AppendSpans(nil, td, 0)
	require.Len(t, got, 1)
	return got[0].Error
}

func TestErrorRules(t *testing.T) {
	server, client, internal := ptrace.SpanKindServer, ptrace.SpanKindClient, ptrace.SpanKindInternal
	tests := []struct {
		name      string
		kind      ptrace.SpanKind
		statusErr bool
		attrs     map[string]any
		want      bool
	}{
		{"status ERROR", server, true, nil, true},
		{"no status, no code", server, false, nil, false},
		{"HTTP 500 without status", server, false, map[string]any{"http.response.status_code": 500}, true},
		{"HTTP 503 on a client without status", client, false, map[string]any{"http.response.status_code": int64(503)}, true},
		{"legacy http.status_code 502", server, false, map[string]any{"http.status_code": 502}, true},
		{"HTTP status as a string", server, false, map[string]any{"http.response.status_code": "504"}, true},
		{"HTTP status as a double", server, false, map[string]any{"http.response.status_code": 500.0}, true},
		{"HTTP 404 on a server", server, false, map[string]any{"http.response.status_code": 404}, false},
		{"HTTP 200", server, false, map[string]any{"http.response.status_code": 200}, false},
		{"client ERROR because of a 404: the caller's error", client, true, map[string]any{"http.response.status_code": 404}, false},
		{"client ERROR without a response (timeout)", client, true, map[string]any{"http.request.method": "GET"}, true},
		{"server ERROR with a 404 is the server's choice", server, true, map[string]any{"http.response.status_code": 404}, true},
		{"gRPC UNAVAILABLE", client, false, map[string]any{"rpc.grpc.status_code": 14}, true},
		{"gRPC UNKNOWN", server, false, map[string]any{"rpc.grpc.status_code": 2}, true},
		{"gRPC DEADLINE_EXCEEDED", server, false, map[string]any{"rpc.grpc.status_code": 4}, true},
		{"gRPC UNIMPLEMENTED", server, false, map[string]any{"rpc.grpc.status_code": 12}, true},
		{"gRPC INTERNAL", server, false, map[string]any{"rpc.grpc.status_code": 13}, true},
		{"gRPC DATA_LOSS", server, false, map[string]any{"rpc.grpc.status_code": 15}, true},
		{"gRPC NOT_FOUND", server, false, map[string]any{"rpc.grpc.status_code": 5}, false},
		{"gRPC OK", server, false, map[string]any{"rpc.grpc.status_code": 0}, false},
		{"client ERROR with gRPC INVALID_ARGUMENT", client, true, map[string]any{"rpc.grpc.status_code": 3}, false},
		{"internal span with HTTP 500", internal, false, map[string]any{"http.status_code": 500}, true},
		{"not a number", server, false, map[string]any{"http.response.status_code": "five hundred"}, false},
		{"negative", server, false, map[string]any{"http.response.status_code": -500}, false},
		{"a bool", server, false, map[string]any{"http.response.status_code": true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failing(t, tt.kind, tt.statusErr, tt.attrs))
		})
	}
}

func TestKindlessClientPeers(t *testing.T) {
	tests := []struct {
		name  string
		kind  ptrace.SpanKind
		attrs map[string]any
		want  graph.Peer
	}{
		{"db.system and db.name", ptrace.SpanKindUnspecified, map[string]any{"db.system": "mysql", "db.name": "orders"},
			graph.Peer{Name: "orders", Kind: graph.PeerDatabase, System: "mysql"}},
		{"db.namespace alone", ptrace.SpanKindInternal, map[string]any{"db.namespace": "ledger"},
			graph.Peer{Name: "ledger", Kind: graph.PeerDatabase}},
		{"db.system.name alone (named after the system)", ptrace.SpanKindInternal, map[string]any{"db.system.name": "redis"},
			graph.Peer{Kind: graph.PeerDatabase, System: "redis"}},
		{"peer.service", ptrace.SpanKindUnspecified, map[string]any{"peer.service": "legacy", "http.request.method": "GET"},
			graph.Peer{Name: "legacy", Kind: graph.PeerHTTP}},
		{"messaging with a destination", ptrace.SpanKindInternal, map[string]any{"messaging.system": "kafka", "messaging.destination.name": "orders"},
			graph.Peer{Name: "orders", Kind: graph.PeerMessaging, System: "kafka"}},
		{"messaging without a destination", ptrace.SpanKindInternal, map[string]any{"messaging.system": "kafka"}, graph.Peer{}},
		{"http attributes only", ptrace.SpanKindUnspecified, map[string]any{"url.full": "http://x/y", "server.address": "x"}, graph.Peer{}},
		{"consumer spans name no peer", ptrace.SpanKindConsumer, map[string]any{"messaging.system": "kafka", "messaging.destination.name": "orders"}, graph.Peer{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr(AttrServiceName, "svc")
			sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			sp.SetKind(tt.kind)
			require.NoError(t, sp.Attributes().FromRaw(tt.attrs))
			got := AppendSpans(nil, td, 0)
			require.Len(t, got, 1)
			assert.Equal(t, tt.want, got[0].Peer)
		})
	}
}

func TestAppendLogRefsKeepsObservedTime(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(AttrServiceName, "api")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	a := lrs.AppendEmpty()
	a.SetTimestamp(100)
	a.SetObservedTimestamp(200)
	b := lrs.AppendEmpty()
	b.SetObservedTimestamp(300)
	got := AppendLogRefs(nil, ld, 0)
	require.Len(t, got, 2)
	assert.Equal(t, graph.LogRef{Service: "api", Time: 100, Observed: 200}, got[0])
	assert.Equal(t, graph.LogRef{Service: "api", Time: 300, Observed: 300}, got[1], "no timestamp: the observed time")
}

// TestLongURLHostIsCopied: the host of a long URL does not share memory with the URL, which a
// pending span would otherwise keep alive for the whole pending TTL.
func TestLongURLHostIsCopied(t *testing.T) {
	short := "https://api.example.com/v1/items"
	assert.Equal(t, "api.example.com", hostOf(short))
	assert.Same(t, unsafe.StringData(short[8:]), unsafe.StringData(hostOf(short)), "short URLs: no copy")

	long := "https://api.example.com/" + strings.Repeat("x", 4096)
	h := hostOf(long)
	assert.Equal(t, "api.example.com", h)
	assert.NotSame(t, unsafe.StringData(long[8:]), unsafe.StringData(h))

	m := pcommon.NewMap()
	m.PutStr("url.full", long)
	assert.Equal(t, "api.example.com", PeerOf(m).Name)
}

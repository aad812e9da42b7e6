// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

// toGraphSpan reduces a span as the logs2graph adapter does (docs/graph.md).
func toGraphSpan(svc string, sp ptrace.Span) graph.Span {
	a := sp.Attributes()
	get := func(k string) string {
		if v, ok := a.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	var p graph.Peer
	for _, k := range []string{"peer.service", "server.address", "db.namespace", "messaging.destination.name", "rpc.service"} {
		if p.Name = get(k); p.Name != "" {
			break
		}
	}
	switch {
	case get("db.system.name") != "":
		p.Kind, p.System = graph.PeerDatabase, get("db.system.name")
	case get("messaging.system") != "":
		p.Kind, p.System = graph.PeerMessaging, get("messaging.system")
	case get("rpc.system") != "":
		p.Kind, p.System = graph.PeerRPC, get("rpc.system")
	case get("http.request.method") != "":
		p.Kind = graph.PeerHTTP
	}
	return graph.Span{
		TraceID: graph.TraceID(sp.TraceID()), SpanID: graph.SpanID(sp.SpanID()), ParentSpanID: graph.SpanID(sp.ParentSpanID()),
		Service: svc, Kind: graph.SpanKind(sp.Kind()), Start: int64(sp.StartTimestamp()), End: int64(sp.EndTimestamp()),
		Error: sp.Status().Code() == ptrace.StatusCodeError, Peer: p,
	}
}

// TestGraphFromTraces checks that the graph store rebuilds the topology from the simulated
// traces, with the database as a virtual node whose edge carries the fault's errors.
func TestGraphFromTraces(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 6, Duration: 40 * time.Second, Rate: 10, Fault: FaultDBPoolExhaustion, Target: "orders-db", FaultAt: 20 * time.Second})
	store, err := graph.New(graph.DefaultConfig())
	require.NoError(t, err)
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
		return nil
	})
	require.NoError(t, err)
	store.FlushAll()
	edges := map[string]graph.Edge{}
	for _, e := range store.Snapshot() {
		edges[fmt.Sprintf("%s -> %s (%s)", e.Client.Name, e.Server.Name, e.Conn)] = e
	}
	want := []string{
		"frontend -> checkout (http)", "checkout -> user (rpc)", "checkout -> inventory (rpc)",
		"checkout -> payment (rpc)", "payment -> orders-db (database)", "inventory -> inventory-db (database)",
		"checkout -> shipping (messaging)",
	}
	for _, w := range want {
		assert.Contains(t, edges, w)
	}
	for k, e := range edges {
		assert.NotEqual(t, "inferred", e.Conn.String(), k)
		assert.NotEqual(t, "direct", e.Conn.String(), k)
	}
	db := edges["payment -> orders-db (database)"]
	assert.Equal(t, "database", db.Server.Kind.String())
	assert.Equal(t, "postgresql", db.Server.System)
	assert.Positive(t, db.Errors, "pool exhaustion shows as errors on the edge into the database")
	assert.Zero(t, edges["inventory -> inventory-db (database)"].Errors)
}

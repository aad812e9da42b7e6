// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"time"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Errors on inferred edges, and kind-less spans that name a peer (issue 11).
func TestInferredErrorsAndKindlessClients(t *testing.T) {
	ordersDB := Peer{Name: "orders-db", Kind: PeerDatabase, System: "postgresql"}
	tests := []struct {
		name  string
		ops   []op
		want  map[string]agg
		check func(t *testing.T, s Stats)
	}{
		{
			name: "failing CLIENT parent, kind-less callee: the call failed",
			ops: []op{spans(
				sp{1, 1, 0, "a", KindClient, 0, 10, true, httpPeer("b")},
				sp{1, 2, 1, "b", KindUnspecified, 1, 9, false, Peer{}},
			)},
			want: map[string]agg{"a->b/inferred": {1, 1, 0, "traces"}},
		},
		{
			name: "failing PRODUCER parent, INTERNAL consumer side, child first",
			ops: []op{
				spans(sp{1, 2, 1, "b", KindInternal, 11, 19, false, Peer{}}),
				spans(sp{1, 1, 0, "a", KindProducer, 0, 10, true, mqPeer}),
			},
			want: map[string]agg{"a->b/inferred": {1, 1, 0, "traces"}},
		},
		{
			name: "a failing SERVER parent is not a failed call into its child",
			ops: []op{spans(
				sp{1, 1, 0, "a", KindServer, 0, 10, true, Peer{}},
				sp{1, 2, 1, "b", KindInternal, 1, 9, false, Peer{}},
			)},
			want: map[string]agg{"user->a/virtual": {1, 1, 0, "traces"}, "a->b/inferred": {1, 0, 0, "traces"}},
		},
		{
			name: "failing kind-less client parent (peer.service) and kind-less callee",
			ops: []op{spans(
				sp{1, 1, 0, "a", KindUnspecified, 0, 10, true, Peer{Name: "b"}},
				sp{1, 2, 1, "b", KindUnspecified, 1, 9, false, Peer{}},
			)},
			want: map[string]agg{"a->b/inferred": {1, 1, 0, "traces"}},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Zero(t, s.VirtualCalls, "a cross-service child makes it one inferred call, not also a virtual one")
			},
		},
		{
			name: "kind-less database span without a child: a call to the database",
			ops: []op{spans(
				sp{1, 1, 0, "a", KindServer, 0, 10, false, Peer{}},
				sp{1, 2, 1, "a", KindInternal, 1, 5, true, ordersDB},
				sp{1, 3, 1, "a", KindUnspecified, 6, 8, false, ordersDB},
			)},
			want: map[string]agg{"user->a/virtual": {1, 0, 0, "traces"}, "a->orders-db/database": {2, 1, 0, "traces"}},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(2), s.VirtualCalls)
				assert.Zero(t, s.UnpairedExpired, "kind-less spans are not call halves")
			},
		},
		{
			name: "kind-less database span inside another: the inner span is the call",
			ops: []op{spans(
				sp{1, 1, 0, "a", KindInternal, 0, 10, false, ordersDB},
				sp{1, 2, 1, "a", KindClient, 1, 9, false, ordersDB},
			)},
			want: map[string]agg{"a->orders-db/database": {1, 0, 0, "traces"}},
		},
		{
			name: "kind-less span naming an instrumented service, whose span was sampled out",
			ops: []op{
				spans(sp{1, 1, 0, "a", KindClient, 0, 10, false, httpPeer("b")}, sp{1, 2, 1, "b", KindServer, 1, 9, false, Peer{}}),
				spans(sp{2, 1, 0, "a", KindUnspecified, 0, 10, false, Peer{Name: "b"}}),
			},
			want: map[string]agg{"a->b/http": {2, 0, 0, "traces"}},
		},
		{
			name: "INTERNAL span without peer attributes is no call",
			ops:  []op{spans(sp{1, 1, 0, "a", KindInternal, 0, 10, true, Peer{Kind: PeerHTTP}})},
			want: map[string]agg{},
		},
		{
			name: "log inside a kind-less database span waits for its call",
			ops: []op{
				spans(sp{1, 2, 1, "a", KindInternal, 1, 5, false, ordersDB}),
				logOp(lg{1, 2, "a", 4, true, Peer{}}),
			},
			want: map[string]agg{"a->orders-db/database": {1, 0, 1, "both"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, nil)
			feed(st, tt.ops)
			ws := st.FlushAll()
			assert.Equal(t, tt.want, summarize(st.Snapshot()))
			assert.Equal(t, tt.want, windowTotals(ws))
			if tt.check != nil {
				tt.check(t, st.Stats())
			}
		})
	}
}

// A call's gap splits into its request leg (the caller's span start to its first call's start)
// and its response leg (its last call's end to the caller's span end), averaged over the window.
func TestGapLegs(t *testing.T) {
	st := newStore(t, nil)
	feed(st, []op{
		// b's kind-less span 0-20 ms calls c twice (2-5 and 8-12): request leg 2, response 8
		spans(sp{1, 1, 0, "b", KindInternal, 0, 20, false, Peer{}}, sp{1, 2, 1, "c", KindInternal, 2, 5, false, Peer{}},
			sp{1, 3, 1, "c", KindInternal, 8, 12, false, Peer{}}),
		// and once more 0-10 ms around 6-7: request 6, response 3
		spans(sp{2, 1, 0, "b", KindInternal, 0, 10, false, Peer{}}, sp{2, 2, 1, "c", KindInternal, 6, 7, false, Peer{}}),
		// a span with children on two edges has no gap, and no legs
		spans(sp{3, 1, 0, "b", KindInternal, 0, 50, false, Peer{}}, sp{3, 2, 1, "c", KindInternal, 1, 2, false, Peer{}},
			sp{3, 3, 1, "d", KindInternal, 40, 45, false, Peer{}}),
	})
	ws := st.FlushAll()
	require.Len(t, ws, 1)
	byKey := edgesByKey(ws[0])
	bc := byKey["b->c/inferred"]
	assert.Equal(t, uint64(2), bc.GapCalls)
	assert.InDelta(t, 4.0, bc.GapRequest, 1e-9, "mean of 2 and 6 ms")
	assert.InDelta(t, 5.5, bc.GapResponse, 1e-9, "mean of 8 and 3 ms")
	bd := byKey["b->d/inferred"]
	assert.Zero(t, bd.GapCalls)
	assert.Zero(t, bd.GapRequest)
	assert.Zero(t, bd.GapResponse)
}

// Window edges carry client-side and server-side percentiles where the side exists.
func TestClientAndServerSideLatency(t *testing.T) {
	st := newStore(t, nil)
	feed(st, []op{
		// a -> b pairs: client 40 ms, server 10 ms (30 ms spent between them)
		spans(sp{1, 1, 0, "a", KindClient, 0, 40, false, httpPeer("b")}, sp{1, 2, 1, "b", KindServer, 15, 25, false, Peer{}}),
		spans(sp{2, 1, 0, "a", KindClient, 0, 40, false, httpPeer("b")}, sp{2, 2, 1, "b", KindServer, 15, 25, false, Peer{}}),
		// a -> b call whose server span was sampled out: client side only
		spans(sp{3, 1, 0, "a", KindClient, 0, 80, false, httpPeer("b")}),
		// inferred b -> c, 7 ms; user -> d, 3 ms; d -> db 2 ms
		spans(sp{4, 1, 0, "b", KindInternal, 0, 9, false, Peer{}}, sp{4, 2, 1, "c", KindInternal, 1, 8, false, Peer{}}),
		spans(sp{5, 1, 0, "d", KindServer, 0, 3, false, Peer{}}, sp{5, 2, 1, "d", KindClient, 0, 2, false, dbPeer}),
	})
	ws := st.FlushAll()
	require.Len(t, ws, 1)
	byKey := edgesByKey(ws[0])
	ab := byKey["a->b/http"]
	assert.Equal(t, uint64(3), ab.Calls)
	assert.Equal(t, uint64(3), ab.ClientSideCalls)
	assert.Equal(t, uint64(2), ab.ServerSideCalls)
	assert.InDelta(t, 80.0, ab.ClientSide.P95, 1e-9)
	assert.InDelta(t, 10.0, ab.ServerSide.P95, 1e-9)
	assert.InDelta(t, 80.0, ab.Latency.P95, 1e-9, "the call latency is the client's, as before")
	assert.InEpsilon(t, 40.0, ab.Latency.P50, 0.0625)
	assert.Equal(t, uint64(2), ab.GapCalls, "the call without a server span has no gap")
	assert.InEpsilon(t, 30.0, ab.Gap.P50, 0.0625, "40 ms client span around a 10 ms server span")
	assert.InDelta(t, 15.0, ab.GapRequest, 1e-9, "the server span starts 15 ms after the client's")
	assert.InDelta(t, 15.0, ab.GapResponse, 1e-9, "and ends 15 ms before it")

	bc := byKey["b->c/inferred"]
	assert.Zero(t, bc.ClientSideCalls)
	assert.Equal(t, Latency{}, bc.ClientSide)
	assert.Equal(t, uint64(1), bc.ServerSideCalls)
	assert.InDelta(t, 7.0, bc.ServerSide.P95, 1e-9)
	assert.InDelta(t, 7.0, bc.Latency.P95, 1e-9)
	assert.Equal(t, uint64(1), bc.GapCalls, "a kind-less span whose one child is in c is a call to c")
	assert.InEpsilon(t, 2.0, bc.Gap.P50, 0.0625)
	assert.InDelta(t, 1.0, bc.GapRequest, 1e-9)
	assert.InDelta(t, 1.0, bc.GapResponse, 1e-9)

	ud := byKey["user->d/virtual"]
	assert.Zero(t, ud.ClientSideCalls)
	assert.Zero(t, ud.GapCalls)
	assert.InDelta(t, 3.0, ud.ServerSide.P95, 1e-9)

	db := byKey["d->orders-db/database"]
	assert.Equal(t, uint64(1), db.ClientSideCalls)
	assert.Zero(t, db.ServerSideCalls)
	assert.InDelta(t, 2.0, db.ClientSide.P95, 1e-9)
	assert.Zero(t, db.GapCalls, "a call to an uninstrumented peer has no callee span to measure a gap against")

	// The sketches go back to the pool: a window costs nothing once closed.
	assert.Len(t, st.skPool, 3+2+1+1, "a->b used a client, a server and a gap sketch, b->c a server and a gap sketch; the other edges one each")
	for _, e := range st.Snapshot() {
		assert.Zero(t, e.ClientSideCalls, "snapshots carry no per-side percentiles")
	}
}

func TestSketchMerge(t *testing.T) {
	var a, b, empty sketch
	for v := int64(1); v <= 100; v++ {
		a.add(v * 1e6)
	}
	b.add(500e6)
	m := a
	m.merge(&b)
	assert.Equal(t, uint64(101), m.n)
	assert.Equal(t, int64(1e6), m.min)
	assert.Equal(t, int64(500e6), m.max)
	assert.InDelta(t, 500e6, m.quantile(1), 0)
	m2 := empty
	m2.merge(&b)
	assert.Equal(t, b, m2)
	m3 := b
	m3.merge(&empty)
	assert.Equal(t, b, m3)
}

// With SpanClock, when every request fails at the one service that still has spans (its
// callees get none: a partition behind it), the other services' log records confirm event time
// logConfirmLag behind them, so windows keep closing. Their records never move it further: a
// logs pipeline running ahead of the traces' by less than that changes nothing.
func TestIdleServicesLogsConfirmEventTime(t *testing.T) {
	run := func(withLogs bool) (*Store, int64) {
		st := newStore(t, nil)
		st.SpanClock()
		var ops []op
		for k := range uint32(60) { // a calls b for a minute
			at := int64(k) * 1000
			ops = append(ops, spans(sp{k + 1, 1, 0, "a", KindInternal, at, at + 20, false, Peer{}},
				sp{k + 1, 2, 1, "b", KindInternal, at + 5, at + 15, false, Peer{}}))
		}
		for k := range uint32(240) { // then a alone for four minutes; b only logs
			at := 60_000 + int64(k)*1000
			ops = append(ops, spans(sp{1000 + k, 1, 0, "a", KindInternal, at, at + 2, true, Peer{}}))
			if withLogs {
				ops = append(ops, logOp(lg{0, 0, "b", at + 500, false, Peer{}}))
			}
		}
		feed(st, ops)
		return st, st.Watermark()
	}
	_, stuck := run(false)
	assert.Less(t, stuck, t0+61*int64(time.Second), "spans of one service alone do not move event time")
	st, wm := run(true)
	assert.GreaterOrEqual(t, wm, t0+300*int64(time.Second)-int64(logConfirmLag)-int64(time.Second),
		"b's records confirm a's progress, logConfirmLag behind them")
	assert.LessOrEqual(t, wm, t0+300*int64(time.Second)-int64(logConfirmLag)+int64(time.Second))
	ws := st.Flush()
	require.NotEmpty(t, ws)
	assert.Greater(t, ws[len(ws)-1].End, t0+200*int64(time.Second), "a's windows of the four minutes close")
}

// edgesByKey indexes a window's edges by key (client->server/conn).
func edgesByKey(w Window) map[string]Edge {
	m := map[string]Edge{}
	for _, e := range w.Edges {
		m[key(e)] = e
	}
	return m
}

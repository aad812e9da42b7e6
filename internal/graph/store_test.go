// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	httpPeer = func(name string) Peer { return Peer{Name: name, Kind: PeerHTTP} }
	dbPeer   = Peer{Name: "orders-db", Kind: PeerDatabase, System: "postgresql"}
	mqPeer   = Peer{Name: "orders", Kind: PeerMessaging, System: "kafka"}
)

func TestScenarios(t *testing.T) {
	// A call tree: frontend SERVER(1) -> CLIENT(2) -> checkout SERVER(3).
	fe := sp{1, 1, 0, "frontend", KindServer, 0, 100, false, Peer{Kind: PeerHTTP}}
	feCli := sp{1, 2, 1, "frontend", KindClient, 10, 90, false, httpPeer("checkout")}
	coSrv := sp{1, 3, 2, "checkout", KindServer, 12, 88, false, Peer{Kind: PeerHTTP}}

	tests := []struct {
		name      string
		cfg       func(*Config)
		ops       []op
		want      map[string]agg
		wantNodes map[string]NodeKind
		check     func(t *testing.T, s Stats)
	}{
		{
			name: "client/server in order, one batch",
			ops:  []op{spans(fe, feCli, coSrv)},
			want: map[string]agg{
				"user->frontend/virtual":  {1, 0, 0, "traces"},
				"frontend->checkout/http": {1, 0, 0, "traces"},
			},
			wantNodes: map[string]NodeKind{"user": NodeUser, "frontend": NodeService, "checkout": NodeService},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.Pairs)
				assert.Equal(t, uint64(1), s.UserCalls)
				assert.Zero(t, s.UnpairedExpired)
				assert.Zero(t, s.VirtualCalls)
			},
		},
		{
			name: "server half first, client in a later batch after other traffic",
			ops: []op{
				spans(coSrv),
				spans(sp{9, 1, 0, "other", KindInternal, 2000, 3000, false, Peer{}}),
				spans(feCli),
				spans(fe),
			},
			want: map[string]agg{
				"user->frontend/virtual":  {1, 0, 0, "traces"},
				"frontend->checkout/http": {1, 0, 0, "traces"},
			},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.Pairs)
				assert.Zero(t, s.UnpairedExpired)
			},
		},
		{
			name: "client first, server in a later batch",
			ops:  []op{spans(fe), spans(feCli), advance(5000), spans(coSrv)},
			want: map[string]agg{
				"user->frontend/virtual":  {1, 0, 0, "traces"},
				"frontend->checkout/http": {1, 0, 0, "traces"},
			},
		},
		{
			name: "halves further apart than the TTL do not pair",
			cfg:  func(c *Config) { c.PendingTTL = time.Second },
			ops:  []op{spans(coSrv), advance(5000), spans(feCli)},
			want: map[string]agg{
				// the server half expired first and counts from the user node; the client half
				// then expires unmatched towards its peer, the known service checkout.
				"user->checkout/virtual":  {1, 0, 0, "traces"},
				"frontend->checkout/http": {1, 0, 0, "traces"},
			},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Zero(t, s.Pairs)
				assert.Equal(t, uint64(2), s.UnpairedExpired)
				assert.Equal(t, uint64(1), s.VirtualCalls)
				assert.Equal(t, uint64(1), s.UserCalls)
			},
		},
		{
			// b's SERVER span fills a placeholder early in arrival order, then waits for its
			// parent a; it expires first (unlinked from a's placeholder) and counts from the user.
			// When a arrives it finds no waiting child and later expires towards its peer.
			name: "waiting child expires before its parent's placeholder",
			cfg:  func(c *Config) { c.PendingTTL = time.Second },
			ops: []op{
				spans(sp{1, 3, 2, "b", KindInternal, 10, 100, false, Peer{}}),
				spans(sp{1, 2, 1, "b", KindServer, 5, 200, false, Peer{}}),
				advance(1150),
				spans(sp{1, 1, 0, "a", KindClient, 0, 300, false, Peer{Name: "b"}}),
			},
			want: map[string]agg{
				"user->b/virtual": {1, 0, 0, "traces"},
				"a->b/direct":     {1, 0, 0, "traces"},
			},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Zero(t, s.Pairs)
				assert.Equal(t, uint64(2), s.UnpairedExpired)
			},
		},
		{
			name: "rpc hint from the server side only",
			ops: []op{spans(
				sp{1, 2, 0, "a", KindClient, 0, 10, false, Peer{}},
				sp{1, 3, 2, "b", KindServer, 1, 9, false, Peer{Kind: PeerRPC}},
			)},
			want: map[string]agg{"a->b/rpc": {1, 0, 0, "traces"}},
		},
		{
			name: "no hint is a direct connection",
			ops: []op{spans(
				sp{1, 3, 2, "b", KindServer, 1, 9, false, Peer{}},
				sp{1, 2, 0, "a", KindClient, 0, 10, false, Peer{}},
			)},
			want: map[string]agg{"a->b/direct": {1, 0, 0, "traces"}},
		},
		{
			name: "producer/consumer, consumer first",
			ops: []op{
				spans(sp{1, 5, 4, "shipping", KindConsumer, 50, 80, false, Peer{}}),
				spans(sp{1, 4, 0, "checkout", KindProducer, 0, 5, false, mqPeer}),
			},
			want:      map[string]agg{"checkout->shipping/messaging": {1, 0, 0, "traces"}},
			wantNodes: map[string]NodeKind{"checkout": NodeService, "shipping": NodeService},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.Pairs)
			},
		},
		{
			name:      "producer without consumer goes to a messaging node",
			ops:       []op{spans(sp{1, 4, 0, "checkout", KindProducer, 0, 5, false, mqPeer})},
			want:      map[string]agg{"checkout->orders/messaging": {1, 0, 0, "traces"}},
			wantNodes: map[string]NodeKind{"orders": NodeMessaging},
		},
		{
			name:      "uninstrumented database becomes a virtual node",
			ops:       []op{spans(sp{1, 2, 1, "payment", KindClient, 0, 5, true, dbPeer})},
			want:      map[string]agg{"payment->orders-db/database": {1, 1, 0, "traces"}},
			wantNodes: map[string]NodeKind{"orders-db": NodeDatabase},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.VirtualCalls)
				assert.Equal(t, uint64(1), s.UnpairedExpired)
			},
		},
		{
			name:      "database without a name is named after its system",
			ops:       []op{spans(sp{1, 2, 0, "payment", KindClient, 0, 5, false, Peer{Kind: PeerDatabase, System: "postgresql"}})},
			want:      map[string]agg{"payment->postgresql/database": {1, 0, 0, "traces"}},
			wantNodes: map[string]NodeKind{"postgresql": NodeDatabase},
		},
		{
			name:      "external http peer is a virtual node",
			ops:       []op{spans(sp{1, 2, 0, "payment", KindClient, 0, 5, false, httpPeer("api.bank.example")})},
			want:      map[string]agg{"payment->api.bank.example/virtual": {1, 0, 0, "traces"}},
			wantNodes: map[string]NodeKind{"api.bank.example": NodeVirtual},
		},
		{
			name: "unmatched client without a peer yields nothing",
			ops:  []op{spans(sp{1, 2, 0, "payment", KindClient, 0, 5, false, Peer{Kind: PeerHTTP}})},
			want: map[string]agg{},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.UnpairedExpired)
				assert.Zero(t, s.VirtualCalls)
			},
		},
		{
			name: "root server spans come from the user node",
			ops: []op{spans(
				sp{1, 1, 0, "frontend", KindServer, 0, 10, false, Peer{}},
				sp{2, 1, 0, "frontend", KindServer, 0, 10, true, Peer{}},
			)},
			want:      map[string]agg{"user->frontend/virtual": {2, 1, 0, "traces"}},
			wantNodes: map[string]NodeKind{"user": NodeUser},
		},
		{
			name: "configurable user name; server whose parent never arrives",
			cfg:  func(c *Config) { c.UserName = "internet" },
			ops:  []op{spans(sp{1, 3, 99, "frontend", KindServer, 0, 10, false, Peer{}})},
			want: map[string]agg{"internet->frontend/virtual": {1, 0, 0, "traces"}},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.UnpairedExpired)
				assert.Equal(t, uint64(1), s.UserCalls)
			},
		},
		{
			name: "internal-only trace, parents first",
			ops: []op{spans(
				sp{1, 1, 0, "gateway", KindInternal, 0, 100, false, Peer{}},
				sp{1, 2, 1, "inventory", KindInternal, 1, 90, true, Peer{}},
				sp{1, 3, 2, "inventory", KindInternal, 2, 80, false, Peer{}},
				sp{1, 4, 3, "pricing", KindUnspecified, 3, 70, false, Peer{}},
			)},
			want: map[string]agg{
				"gateway->inventory/inferred": {1, 1, 0, "traces"},
				"inventory->pricing/inferred": {1, 0, 0, "traces"},
			},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(2), s.Inferred)
			},
		},
		{
			name: "internal-only trace, children first, separate batches",
			ops: []op{
				spans(sp{1, 4, 3, "pricing", KindUnspecified, 3, 70, false, Peer{}}),
				spans(sp{1, 3, 2, "inventory", KindInternal, 2, 80, false, Peer{}}),
				spans(sp{1, 2, 1, "inventory", KindInternal, 1, 90, false, Peer{}}),
				spans(sp{1, 1, 0, "gateway", KindInternal, 0, 100, false, Peer{}}),
			},
			want: map[string]agg{
				"gateway->inventory/inferred": {1, 0, 0, "traces"},
				"inventory->pricing/inferred": {1, 0, 0, "traces"},
			},
		},
		{
			name: "client/server pair is not also inferred; server children are not edges",
			ops: []op{spans(
				sp{1, 2, 0, "a", KindClient, 0, 10, false, httpPeer("b")},
				sp{1, 3, 2, "b", KindServer, 1, 9, false, Peer{}},
				sp{1, 4, 3, "b", KindInternal, 2, 8, false, Peer{}},
			)},
			want: map[string]agg{"a->b/http": {1, 0, 0, "traces"}},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.Pairs)
				assert.Zero(t, s.Inferred)
				assert.Zero(t, s.VirtualCalls)
			},
		},
		{
			name: "client with an internal child in another service: inferred, not virtual",
			ops: []op{spans(
				sp{1, 2, 0, "a", KindClient, 0, 10, false, httpPeer("b")},
				sp{1, 3, 2, "b", KindInternal, 1, 9, false, Peer{}},
			)},
			want: map[string]agg{"a->b/inferred": {1, 0, 0, "traces"}},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Zero(t, s.VirtualCalls)
				assert.Zero(t, s.UnpairedExpired)
			},
		},
		{
			name: "unmatched client to a known service reuses the existing edge",
			ops: []op{
				spans(
					sp{1, 2, 0, "a", KindClient, 0, 10, false, httpPeer("b")},
					sp{1, 3, 2, "b", KindServer, 1, 9, false, Peer{}},
				),
				spans(sp{2, 2, 0, "a", KindClient, 0, 10, true, Peer{Name: "b"}}), // server half sampled out
			},
			want: map[string]agg{"a->b/http": {2, 1, 0, "traces"}},
		},
		{
			name: "errors on either side count once per call",
			ops: []op{spans(
				sp{1, 2, 0, "a", KindClient, 0, 10, true, Peer{}},
				sp{1, 3, 2, "b", KindServer, 1, 9, false, Peer{}},
				sp{2, 2, 0, "a", KindClient, 0, 10, false, Peer{}},
				sp{2, 3, 2, "b", KindServer, 1, 9, true, Peer{}},
				sp{3, 2, 0, "a", KindClient, 0, 10, true, Peer{}},
				sp{3, 3, 2, "b", KindServer, 1, 9, true, Peer{}},
				sp{4, 2, 0, "a", KindClient, 0, 10, false, Peer{}},
				sp{4, 3, 2, "b", KindServer, 1, 9, false, Peer{}},
			)},
			want: map[string]agg{"a->b/direct": {4, 3, 0, "traces"}},
		},
		{
			name: "self-calls are dropped and do not become virtual edges",
			ops: []op{spans(
				sp{1, 2, 0, "a", KindClient, 0, 10, false, Peer{Name: "a"}},
				sp{1, 3, 2, "a", KindServer, 1, 9, false, Peer{}},
				sp{2, 2, 0, "a", KindClient, 0, 10, false, Peer{Name: "a"}}, // unmatched, peer is itself
			)},
			want: map[string]agg{},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(2), s.Dropped[DropSelfCall])
			},
		},
		{
			name: "log by span id on a resolved server span",
			ops: []op{
				spans(fe, feCli, coSrv),
				logOp(lg{1, 3, "checkout", 50, true, Peer{}}),
				logOp(lg{1, 3, "checkout", 51, false, Peer{}}),
			},
			want: map[string]agg{
				"user->frontend/virtual":  {1, 0, 0, "traces"},
				"frontend->checkout/http": {1, 0, 1, "both"},
			},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(2), s.LogsAttributed)
			},
		},
		{
			name: "log before its span waits for it",
			ops: []op{
				logOp(lg{1, 3, "checkout", 50, true, Peer{}}),
				spans(coSrv),
				spans(fe, feCli),
			},
			want: map[string]agg{
				"user->frontend/virtual":  {1, 0, 0, "traces"},
				"frontend->checkout/http": {1, 0, 1, "both"},
			},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.LogsAttributed)
			},
		},
		{
			name: "log of an internal span goes to its service's incoming edge, even before pairing",
			ops: []op{
				spans(sp{1, 4, 3, "checkout", KindInternal, 20, 60, false, Peer{}}),
				logOp(lg{1, 4, "checkout", 30, true, Peer{}}),
				spans(coSrv),
				spans(feCli, fe),
				logOp(lg{1, 4, "checkout", 31, true, Peer{}}),
			},
			want: map[string]agg{
				"user->frontend/virtual":  {1, 0, 0, "traces"},
				"frontend->checkout/http": {1, 0, 2, "both"},
			},
		},
		{
			name: "log of a client span goes to its outgoing edge",
			ops: []op{
				spans(sp{1, 2, 1, "payment", KindClient, 0, 5, false, dbPeer}),
				logOp(lg{1, 2, "payment", 4, true, Peer{}}), // waits for the virtual edge
			},
			want: map[string]agg{"payment->orders-db/database": {1, 0, 1, "both"}},
		},
		{
			name: "log whose span never arrives is unattributed",
			ops:  []op{logOp(lg{7, 7, "checkout", 30, true, Peer{}})},
			want: map[string]agg{},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.LogsUnattributed)
				assert.Zero(t, s.LogsAttributed)
			},
		},
		{
			name: "log with a peer adds an edge from its service",
			ops: []op{
				logOp(lg{0, 0, "billing", 10, true, Peer{Name: "ledger-db", Kind: PeerDatabase, System: "mysql"}}),
				logOp(lg{0, 0, "billing", 11, false, Peer{Name: "ledger-db", Kind: PeerDatabase}}),
			},
			want:      map[string]agg{"billing->ledger-db/database": {0, 0, 1, "logs"}},
			wantNodes: map[string]NodeKind{"billing": NodeService, "ledger-db": NodeDatabase},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(2), s.LogsPeer)
			},
		},
		{
			name: "log with a peer confirms an edge known from traces",
			ops: []op{
				spans(feCli, coSrv),
				logOp(lg{1, 2, "frontend", 95, true, Peer{Name: "checkout", Kind: PeerHTTP}}),
				logOp(lg{0, 0, "frontend", 96, true, Peer{Name: "checkout"}}),
			},
			want: map[string]agg{"frontend->checkout/http": {1, 0, 2, "both"}},
		},
		{
			name: "log without ids or peer",
			ops:  []op{logOp(lg{0, 0, "frontend", 1, true, Peer{}})},
			want: map[string]agg{},
			check: func(t *testing.T, s Stats) {
				t.Helper()
				assert.Equal(t, uint64(1), s.LogsUnattributed)
				assert.Zero(t, s.DroppedTotal())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, tt.cfg)
			feed(st, tt.ops)
			ws := st.FlushAll()
			snap := st.Snapshot()
			assert.Equal(t, tt.want, summarize(snap), "snapshot")
			assert.Equal(t, tt.want, windowTotals(ws), "windows")
			if tt.wantNodes != nil {
				got := map[string]NodeKind{}
				for _, e := range snap {
					got[e.Client.Name], got[e.Server.Name] = e.Client.Kind, e.Server.Kind
				}
				for n, k := range tt.wantNodes {
					assert.Equal(t, k.String(), got[n].String(), "kind of node %q", n)
				}
			}
			s := st.Stats()
			assert.Zero(t, s.Pending, "FlushAll leaves nothing pending")
			// Every log is accounted for once.
			assert.Equal(t, s.LogsIn, s.LogsAttributed+s.LogsPeer+s.LogsUnattributed+s.LogsDropped)
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestLatencies(t *testing.T) {
	st := newStore(t, nil)
	// 100 calls a->b: client 10..109 ms, server 5 ms shorter.
	for i := range 100 {
		c := sp{uint32(i + 1), 2, 0, "a", KindClient, 0, int64(10 + i), false, Peer{}}
		s := sp{uint32(i + 1), 3, 2, "b", KindServer, 1, int64(6 + i), false, Peer{}}
		feed(st, []op{spans(c, s)})
	}
	// one inferred call b->c of 3 ms.
	feed(st, []op{spans(sp{200, 1, 0, "b", KindInternal, 0, 10, false, Peer{}}, sp{200, 2, 1, "c", KindInternal, 1, 4, false, Peer{}})})
	st.FlushAll()
	snap := st.Snapshot()
	require.Len(t, snap, 2)
	ab := snap[0]
	require.Equal(t, "a->b/direct", key(ab))
	assert.InEpsilon(t, 59.0, ab.Latency.P50, 0.0625)
	assert.InEpsilon(t, 104.0, ab.Latency.P95, 0.0625)
	assert.InEpsilon(t, 108.0, ab.Latency.P99, 0.0625)
	assert.LessOrEqual(t, ab.Latency.P99, 109.0, "clamped to the max")

	assert.Equal(t, DefaultLatencyBuckets(), ab.ClientLatency.Bounds)
	assert.Equal(t, uint64(100), ab.ClientLatency.Count)
	assert.Equal(t, uint64(100), ab.ServerLatency.Count)
	// client 10..109 ms: (8,10]: 10; (10,50]: 11..50; (50,100]: 51..100; (100,200]: 101..109
	assert.Equal(t, []uint64{0, 0, 0, 0, 1, 40, 50, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ab.ClientLatency.Counts)
	assert.InDelta(t, float64(100*10+99*100/2)/1000, ab.ClientLatency.Sum, 1e-9)
	// server 5..104 ms
	assert.Equal(t, []uint64{0, 0, 2, 2, 2, 40, 50, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ab.ServerLatency.Counts)

	bc := snap[1]
	require.Equal(t, "b->c/inferred", key(bc))
	assert.InEpsilon(t, 3.0, bc.Latency.P50, 1e-9, "a single value is exact")
	assert.Zero(t, bc.ClientLatency.Count, "inferred edges have no client side")
	assert.Equal(t, uint64(1), bc.ServerLatency.Count)
}

// A service named like the user node ("user", as in many shops) is a node of its own: the entry
// edge comes from the user node, the call into the service goes to the service.
func TestServiceNamedLikeTheUserNode(t *testing.T) {
	st, err := New(DefaultConfig())
	require.NoError(t, err)
	feed(st, []op{spans(
		sp{1, 1, 0, "frontend", KindServer, 0, 100, false, Peer{Kind: PeerHTTP}},
		sp{1, 2, 1, "frontend", KindClient, 10, 90, false, httpPeer("user")},
		sp{1, 3, 2, "user", KindServer, 12, 88, false, Peer{Kind: PeerHTTP}},
	)})
	edges := st.Snapshot()
	require.Len(t, edges, 2)
	kinds := map[string][2]NodeKind{}
	for _, e := range edges {
		kinds[key(e)] = [2]NodeKind{e.Client.Kind, e.Server.Kind}
	}
	assert.Equal(t, map[string][2]NodeKind{
		"user->frontend/virtual": {NodeUser, NodeService},
		"frontend->user/http":    {NodeService, NodeService},
	}, kinds)
	assert.Equal(t, 3, st.Stats().Nodes, "user node, frontend and the user service")

	// the distinction survives a snapshot round trip
	b, err := st.MarshalBinary()
	require.NoError(t, err)
	st2, err := New(DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, st2.UnmarshalBinary(b))
	assert.Equal(t, 3, st2.Stats().Nodes)
	kinds2 := map[string][2]NodeKind{}
	for _, e := range st2.Snapshot() {
		kinds2[key(e)] = [2]NodeKind{e.Client.Kind, e.Server.Kind}
	}
	assert.Equal(t, kinds, kinds2)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkInvariants verifies the store's internal bookkeeping.
func checkInvariants(t *testing.T, st *Store) {
	t.Helper()
	s := st.Stats()
	require.LessOrEqual(t, s.Pending, st.cfg.MaxPending)
	require.LessOrEqual(t, s.Entries, 2*st.cfg.MaxPending)
	require.Equal(t, s.Entries, st.fifo.n, "every pending entry is in the FIFO once")
	require.Equal(t, int(st.nslots)-len(st.freeSlot), s.Entries)
	counted := 0
	for i := range st.nslots {
		if e := st.slot(i); e.flags&fCounted != 0 {
			counted++
			require.NotEqual(t, -1, st.index.find(st.index.hash(&e.key), &e.key, st.pages), "counted entries are live")
		}
	}
	require.Equal(t, s.Pending, counted, "Pending counts the entries flagged as counted")
	require.LessOrEqual(t, s.Edges, st.cfg.MaxEdges)
	require.LessOrEqual(t, s.Nodes, st.cfg.MaxNodes)
	refs := make([]int32, len(st.nodes))
	live := 0
	for i := range st.edges {
		e := &st.edges[i]
		if !e.live {
			continue
		}
		live++
		refs[e.key.client]++
		refs[e.key.server]++
		require.LessOrEqual(t, e.errors, e.calls)
		require.LessOrEqual(t, e.firstSeen, e.lastSeen)
		require.Equal(t, int32(i), st.edgeIdx[e.key])
	}
	require.Equal(t, s.Edges, live)
	require.Len(t, st.edgeIdx, live)
	require.GreaterOrEqual(t, st.arrival, st.watermark)
	last := int64(math.MinInt64)
	for i := range st.fifo.n {
		el := st.fifo.buf[(st.fifo.head+i)&(len(st.fifo.buf)-1)]
		require.GreaterOrEqual(t, el.expire, last, "the FIFO is in expiry order")
		last = el.expire
		e := st.slot(el.slot)
		require.Equal(t, el.slot, st.index.find(el.h, &e.key, st.pages), "indexed")
		if e.svc >= 0 {
			refs[e.svc]++
		}
	}
	nodes := 0
	for i := range st.nodes {
		if st.nodes[i].live {
			nodes++
			require.Equal(t, refs[i], st.nodes[i].refs, "refs of node %q", st.nodes[i].name)
			require.Equal(t, int32(i), st.nodeIdx[nodeKey(st.nodes[i].name, st.nodes[i].kind)])
		}
	}
	require.Equal(t, s.Nodes, nodes)
}

// FuzzOps runs arbitrary sequences of spans, logs, advances, flushes and persistence
// round trips over a tiny id space (so that ids collide, repeat and form cycles): the store
// never panics, stays within its bounds and keeps its bookkeeping consistent.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23})
	f.Add([]byte{3, 9, 3, 0, 200, 7, 3, 9, 1, 1, 3, 9, 3, 9, 1, 0, 5, 5, 5, 5, 250, 251, 252, 253})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps"))
	f.Fuzz(runOps)
}

var (
	fuzzServices = []string{"", "a", "b", "c", "user", "d"}
	fuzzPeers    = []Peer{{}, {Name: "a"}, {Name: "db", Kind: PeerDatabase}, {Kind: PeerMessaging, System: "kafka"}, {Name: "x", Kind: PeerHTTP}}
)

func runOps(t *testing.T, in []byte) {
	services, peers := fuzzServices, fuzzPeers
	{
		st := newStore(t, func(c *Config) {
			c.MaxPending, c.MaxEdges, c.MaxNodes = 12, 6, 5
			c.PendingTTL, c.FlushInterval, c.AllowedLateness, c.EdgeTTL = 50*time.Millisecond, 100*time.Millisecond, 30*time.Millisecond, time.Second
		})
		now := int64(0)
		// Spans with bit 0x20 wait in a batch, stamped against a wall clock near event time and
		// added with AddSpans before the next other operation.
		var batch []Span
		flushBatch := func(wall int64) {
			if len(batch) > 0 {
				st.StampSpans(batch, wall)
				st.AddSpans(batch)
				batch = batch[:0]
			}
		}
		for len(in) >= 4 {
			op, a, b, c := in[0], in[1], in[2], in[3]
			in = in[4:]
			if op%8 > 3 || op&0x20 == 0 {
				flushBatch(t0 + (now+int64(c%4)*30_000)*ms)
			}
			switch op % 8 {
			case 0, 1, 2, 3: // a span
				x := sp{uint32(a%3 + 1), uint32(b % 6), uint32(c % 6), services[int(a/3)%len(services)],
					SpanKind(op / 8 % 7), now + int64(c%20) - 10, now + int64(b%30), op&0x40 != 0, peers[int(c/6)%len(peers)]}.span()
				if x.Start < t0 { // keep timestamps valid most of the time, invalid sometimes
					x.Start = t0
				}
				if b == 0 {
					x.Start = 0
				}
				if op&0x20 != 0 {
					batch = append(batch, x)
				} else {
					st.AddSpan(&x)
				}
			case 4: // a log
				l := lg{uint32(a % 4), uint32(b % 6), services[int(c)%len(services)], now + int64(b%30), op&0x40 != 0, Peer{}}
				if c&0x80 != 0 {
					l.peer = peers[int(a)%len(peers)]
				}
				r := l.ref()
				st.AddLog(&r)
			case 5:
				now += int64(a)
				st.Advance(t0 + now*ms)
			case 6:
				st.Flush()
				if a%4 == 0 {
					st.FlushAll()
				}
			case 7:
				data, err := st.MarshalBinary()
				require.NoError(t, err)
				switch a % 4 {
				case 0:
					st.FlushAll()
					require.NoError(t, st.UnmarshalBinary(data))
				case 2: // restored at a wall clock that may be far behind the saved event time
					st.FlushAll()
					_, err := st.Restore(data, t0+int64(b)*int64(time.Second))
					require.NoError(t, err)
				}
			}
			checkInvariants(t, st)
		}
		flushBatch(t0 + now*ms)
		st.FlushAll()
		checkInvariants(t, st)
		s := st.Stats()
		require.Zero(t, s.Pending)
		require.Equal(t, s.LogsIn, s.LogsAttributed+s.LogsPeer+s.LogsUnattributed+s.LogsDropped)
		require.Empty(t, st.deferred)
	}
}

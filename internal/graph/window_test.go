// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pair returns a CLIENT a -> SERVER b call of trace tr ending at endMs.
func pair(tr uint32, endMs int64, err bool) []sp {
	return []sp{
		{tr, 2, 0, "a", KindClient, endMs - 10, endMs, err, Peer{}},
		{tr, 3, 2, "b", KindServer, endMs - 9, endMs - 1, false, Peer{}},
	}
}

func TestWindowsCloseByWatermarkAndLateness(t *testing.T) {
	st := newStore(t, func(c *Config) {
		c.FlushInterval = 10 * time.Second
		c.AllowedLateness = 5 * time.Second
		c.PendingTTL = time.Second
	})
	feed(st, []op{spans(pair(1, 1000, false)...), spans(pair(2, 12_000, true)...)})
	assert.Empty(t, st.Flush(), "window [0s,10s) closes at 15s, watermark is 12s")

	st.Advance(t0 + 14_999*ms)
	assert.Empty(t, st.Flush())
	st.Advance(t0 + 15_000*ms)
	ws := st.Flush()
	require.Len(t, ws, 1)
	assert.Equal(t, t0, ws[0].Start)
	assert.Equal(t, t0+10_000*ms, ws[0].End)
	require.Len(t, ws[0].Edges, 1)
	e := ws[0].Edges[0]
	assert.Equal(t, "a->b/direct", key(e))
	assert.Equal(t, uint64(1), e.Calls)
	assert.Equal(t, uint64(0), e.Errors)
	assert.Equal(t, t0+1000*ms, e.FirstSeen)
	assert.Equal(t, t0+1000*ms, e.LastSeen)
	assert.InDelta(t, 10.0, e.Latency.P50, 1e-9)
	assert.Empty(t, e.ClientLatency.Counts, "windows carry no histograms")
	assert.Empty(t, st.Flush(), "a window is emitted once")

	// A call of the closed window arriving late is counted in the first open window.
	feed(st, []op{spans(pair(3, 3000, false)...)})
	assert.Equal(t, uint64(1), st.Stats().LateEvents)

	st.Advance(t0 + 25_000*ms)
	ws = st.Flush()
	require.Len(t, ws, 1)
	assert.Equal(t, t0+10_000*ms, ws[0].Start)
	require.Len(t, ws[0].Edges, 1)
	e = ws[0].Edges[0]
	assert.Equal(t, uint64(2), e.Calls)
	assert.Equal(t, uint64(1), e.Errors)
	assert.Equal(t, t0+1000*ms, e.FirstSeen, "first seen is the edge's")
	assert.Equal(t, t0+12_000*ms, e.LastSeen)
	assert.Equal(t, uint64(2), st.Stats().WindowsEmitted)

	// Cumulative view.
	snap := st.Snapshot()
	require.Len(t, snap, 1)
	assert.Equal(t, uint64(3), snap[0].Calls)
}

func TestExpiredHalvesReachTheirWindow(t *testing.T) {
	// Default lateness (15s) >= TTL (10s): a client whose server never comes is counted in the
	// window of its own end time.
	st := newStore(t, nil)
	feed(st, []op{spans(sp{1, 2, 0, "a", KindClient, 1000, 2000, false, dbPeer})})
	var ws []Window
	for m := int64(3000); m <= 60_000; m += 1000 {
		st.Advance(t0 + m*ms)
		ws = append(ws, st.Flush()...)
	}
	require.Len(t, ws, 1)
	assert.Equal(t, t0, ws[0].Start)
	assert.Equal(t, "a->orders-db/database", key(ws[0].Edges[0]))
	assert.Zero(t, st.Stats().LateEvents)
}

func TestFlushAllClosesCurrentWindow(t *testing.T) {
	st := newStore(t, nil)
	feed(st, []op{spans(pair(1, 1000, false)...)})
	ws := st.FlushAll()
	require.Len(t, ws, 1)
	assert.Empty(t, st.FlushAll())
	// Data for the flushed window now lands in the next one.
	feed(st, []op{spans(pair(2, 2000, false)...)})
	ws = st.FlushAll()
	require.Len(t, ws, 1)
	assert.Equal(t, t0+15*int64(time.Second), ws[0].Start)
	assert.Equal(t, uint64(1), st.Stats().LateEvents)
}

func TestEdgeTTL(t *testing.T) {
	st := newStore(t, func(c *Config) { c.EdgeTTL = time.Minute })
	feed(st, []op{spans(pair(1, 1000, false)...)})
	st.Advance(t0 + 60_999*ms)
	st.Flush()
	require.Len(t, st.Snapshot(), 1)
	assert.Equal(t, 2, st.Stats().Nodes)

	st.Advance(t0 + 61_000*ms)
	assert.Empty(t, st.Snapshot(), "expired edges are hidden before the next Flush")
	st.Flush()
	s := st.Stats()
	assert.Equal(t, uint64(1), s.EdgesExpired)
	assert.Equal(t, 0, s.Edges)
	assert.Equal(t, 0, s.Nodes)
	assert.Equal(t, uint64(2), s.NodesExpired)

	// A later call recreates the edge from scratch.
	feed(st, []op{spans(pair(2, 70_000, false)...)})
	st.FlushAll()
	snap := st.Snapshot()
	require.Len(t, snap, 1)
	assert.Equal(t, uint64(1), snap[0].Calls)
	assert.Equal(t, t0+70_000*ms, snap[0].FirstSeen)
}

func TestBounds(t *testing.T) {
	t.Run("max pending", func(t *testing.T) {
		st := newStore(t, func(c *Config) { c.MaxPending = 4; c.PendingTTL = time.Second })
		for i := range 5 {
			feed(st, []op{spans(sp{uint32(i + 1), 1, 0, "a", KindInternal, 0, 10, false, Peer{}})})
		}
		s := st.Stats()
		assert.Equal(t, 4, s.Pending)
		assert.Equal(t, uint64(1), s.Dropped[DropPendingFull])
		// A child of an unknown parent counts once: its parent's placeholder is not counted.
		st.Advance(t0 + 1010*ms)
		feed(st, []op{spans(sp{10, 1, 0, "a", KindInternal, 1000, 1010, false, Peer{}})})
		feed(st, []op{spans(sp{10, 1, 0, "a", KindInternal, 1000, 1010, false, Peer{}})})
		require.Equal(t, 1, st.Stats().Pending)
		for i := range 2 {
			feed(st, []op{spans(sp{uint32(20 + i), 2, 1, "a", KindInternal, 1000, 1010, false, Peer{}})})
		}
		s = st.Stats()
		assert.Equal(t, 3, s.Pending)
		assert.Equal(t, 5, s.Entries, "two placeholders for the parents")
		assert.Equal(t, uint64(1), s.Dropped[DropPendingFull])
		assert.Equal(t, uint64(1), s.Dropped[DropDuplicate])
		// A parent filling its placeholder counts once (it was not counted as a placeholder).
		feed(st, []op{spans(sp{20, 1, 0, "a", KindInternal, 1000, 1010, false, Peer{}})})
		s = st.Stats()
		assert.Equal(t, 4, s.Pending)
		assert.Equal(t, 5, s.Entries)
		// Logs for unknown spans need a counted entry; a span filling it is not counted again.
		st.Advance(t0 + 2020*ms)
		require.Equal(t, 0, st.Stats().Pending)
		feed(st, []op{logOp(lg{30, 1, "a", 2010, true, Peer{}})})
		require.Equal(t, 1, st.Stats().Pending)
		for i := range 3 {
			feed(st, []op{spans(sp{uint32(40 + i), 1, 0, "a", KindInternal, 2000, 2010, false, Peer{}})})
		}
		feed(st, []op{logOp(lg{31, 1, "a", 2010, true, Peer{}})})
		s = st.Stats()
		assert.Equal(t, 4, s.Pending)
		assert.Equal(t, uint64(2), s.Dropped[DropPendingFull])
		assert.Equal(t, uint64(1), s.LogsDropped)
		feed(st, []op{spans(sp{30, 1, 0, "a", KindInternal, 2000, 2010, false, Peer{}})})
		s = st.Stats()
		assert.Equal(t, 4, s.Pending, "the span fills the log's placeholder")
		assert.Equal(t, uint64(2), s.Dropped[DropPendingFull])
	})
	t.Run("max edges", func(t *testing.T) {
		st := newStore(t, func(c *Config) { c.MaxEdges = 1 })
		feed(st, []op{
			spans(pair(1, 100, false)...),
			spans(sp{2, 2, 0, "c", KindClient, 0, 10, false, Peer{}}, sp{2, 3, 2, "d", KindServer, 1, 9, false, Peer{}}),
			spans(pair(3, 200, false)...),
			logOp(lg{0, 0, "e", 300, true, Peer{Name: "f"}}),
		})
		st.FlushAll()
		assert.Equal(t, map[string]agg{"a->b/direct": {2, 0, 0, "traces"}}, summarize(st.Snapshot()))
		s := st.Stats()
		assert.Equal(t, uint64(2), s.Dropped[DropEdgesFull])
		assert.Equal(t, uint64(1), s.LogsDropped)
		assert.Equal(t, 1, s.Edges)
	})
	t.Run("max nodes", func(t *testing.T) {
		st := newStore(t, func(c *Config) { c.MaxNodes = 2 })
		feed(st, []op{
			spans(sp{1, 1, 0, "a", KindInternal, 0, 10, false, Peer{}}, sp{1, 2, 1, "b", KindInternal, 1, 9, false, Peer{}}),
			spans(sp{2, 1, 0, "c", KindInternal, 0, 10, false, Peer{}}),        // third service
			spans(sp{3, 1, 0, "a", KindClient, 0, 10, false, Peer{Name: "x"}}), // third node at expiry
			spans(sp{4, 1, 0, "a", KindServer, 0, 10, false, Peer{}}),          // user node
		})
		st.FlushAll()
		assert.Equal(t, map[string]agg{"a->b/inferred": {1, 0, 0, "traces"}}, summarize(st.Snapshot()))
		s := st.Stats()
		assert.Equal(t, uint64(3), s.Dropped[DropNodesFull])
		assert.Equal(t, 2, s.Nodes)
	})
}

func TestFloodOfUniqueTracesStaysBounded(t *testing.T) {
	const maxPending = 1000
	st := newStore(t, func(c *Config) { c.MaxPending = maxPending })
	for i := range 100_000 {
		// Every span has an unknown parent (two entries, counted once) and a fresh trace id.
		x := sp{uint32(i + 1), 2, 1, "svc", KindServer, int64(i / 1000), int64(i/1000 + 1), false, Peer{}}.span()
		st.AddSpan(&x)
		if i%1000 == 0 {
			l := lg{uint32(i + 1_000_000), 5, "svc", int64(i / 1000), true, Peer{}}.ref()
			st.AddLog(&l)
		}
		require.LessOrEqual(t, st.Stats().Pending, maxPending)
	}
	s := st.Stats()
	assert.Positive(t, s.Dropped[DropPendingFull])
	assert.LessOrEqual(t, int(st.nslots), 2*maxPending, "a span and its parent's placeholder")
	assert.LessOrEqual(t, len(st.peers), maxPending)
	assert.LessOrEqual(t, len(st.fifo.buf), 2048)
	assert.LessOrEqual(t, len(st.deferred), maxPending)
	// Entries expire as event time moves on; the store keeps working.
	st.Advance(t0 + 200*int64(time.Second))
	assert.Equal(t, 0, st.Stats().Pending)
	feed(st, []op{spans(sp{1, 2, 0, "a", KindClient, 200_001, 200_010, false, Peer{}}, sp{1, 3, 2, "b", KindServer, 200_002, 200_009, false, Peer{}})})
	assert.Equal(t, uint64(1), st.Stats().Pairs)
}

func TestBadInput(t *testing.T) {
	good := sp{1, 2, 0, "a", KindInternal, 0, 10, false, Peer{}}.span()
	tests := []struct {
		name   string
		mutate func(*Span)
		reason DropReason
	}{
		{"zero trace id", func(s *Span) { s.TraceID = TraceID{} }, DropInvalidID},
		{"zero span id", func(s *Span) { s.SpanID = SpanID{} }, DropInvalidID},
		{"span is its own parent", func(s *Span) { s.ParentSpanID = s.SpanID }, DropInvalidID},
		{"no service", func(s *Span) { s.Service = "" }, DropMissingService},
		{"no start", func(s *Span) { s.Start = 0 }, DropMissingTime},
		{"no end", func(s *Span) { s.End = 0 }, DropMissingTime},
		{"negative start", func(s *Span) { s.Start = -5 }, DropMissingTime},
		{"end before start", func(s *Span) { s.End = s.Start - 1 }, DropMissingTime},
		{"end in the far future", func(s *Span) { s.End = math.MaxInt64 }, DropMissingTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, nil)
			x := good
			tt.mutate(&x)
			st.AddSpan(&x)
			s := st.Stats()
			assert.Equal(t, uint64(1), s.Dropped[tt.reason])
			assert.Equal(t, uint64(1), s.DroppedTotal())
			assert.Equal(t, 0, s.Pending)
			assert.Zero(t, s.Watermark, "a dropped span does not move the watermark")
		})
	}
	t.Run("nil inputs, duplicates, unknown kind, bad logs and advances", func(t *testing.T) {
		st := newStore(t, nil)
		st.AddSpan(nil)
		st.AddLog(nil)
		x := good
		st.AddSpan(&x)
		st.AddSpan(&x)
		y := sp{1, 3, 2, "b", SpanKind(42), 1, 9, false, Peer{}}.span()
		st.AddSpan(&y) // treated as unspecified: inferred a->b
		st.AddLog(&LogRef{Service: "a", Time: 0})
		st.AddLog(&LogRef{Time: t0, Error: true})
		st.AddLog(&LogRef{Service: "a", Time: t0, Peer: Peer{Name: "a"}})
		st.Advance(-1)
		st.Advance(math.MaxInt64)
		assert.Equal(t, t0+10*ms, st.Watermark())
		st.FlushAll()
		s := st.Stats()
		assert.Equal(t, uint64(2), s.Dropped[DropInvalidID])
		assert.Equal(t, uint64(1), s.Dropped[DropDuplicate])
		assert.Equal(t, uint64(1), s.Dropped[DropMissingTime])
		assert.Equal(t, uint64(1), s.Dropped[DropMissingService])
		assert.Equal(t, uint64(1), s.Dropped[DropSelfCall])
		assert.Equal(t, uint64(4), s.LogsDropped)
		assert.Equal(t, map[string]agg{"a->b/inferred": {1, 0, 0, "traces"}}, summarize(st.Snapshot()))
	})
	t.Run("cyclic parents do not loop", func(t *testing.T) {
		st := newStore(t, nil)
		feed(st, []op{
			spans(sp{1, 1, 2, "a", KindInternal, 0, 10, false, Peer{}}),
			spans(sp{1, 2, 1, "a", KindInternal, 0, 10, false, Peer{}}),
			logOp(lg{1, 1, "a", 5, true, Peer{}}),
		})
		st.FlushAll()
		s := st.Stats()
		assert.Equal(t, uint64(1), s.LogsUnattributed)
		assert.Empty(t, st.Snapshot())
	})
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate())
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ttl", func(c *Config) { c.PendingTTL = 0 }, "pending TTL must be positive"},
		{"interval", func(c *Config) { c.FlushInterval = -1 }, "flush interval must be positive"},
		{"lateness", func(c *Config) { c.AllowedLateness = -1 }, "allowed lateness must not be negative"},
		{"edge ttl", func(c *Config) { c.EdgeTTL = 0 }, "edge TTL must be positive"},
		{"huge duration", func(c *Config) { c.EdgeTTL = math.MaxInt64 }, "exceeds the maximum"},
		{"pending", func(c *Config) { c.MaxPending = 1 }, "max pending must be at least 2"},
		{"edges", func(c *Config) { c.MaxEdges = 0 }, "max edges must be in"},
		{"nodes", func(c *Config) { c.MaxNodes = 1 }, "max nodes must be in"},
		{"user", func(c *Config) { c.UserName = "" }, "user name must not be empty"},
		{"user too long", func(c *Config) { c.UserName = strings.Repeat("u", MaxNameBytes+1) }, "user name must be at most 256 bytes long"},
		{"no buckets", func(c *Config) { c.LatencyBuckets = nil }, "need 1 to 256 bounds"},
		{"unsorted buckets", func(c *Config) { c.LatencyBuckets = []float64{1, 0.5} }, "strictly increasing"},
		{"nan bucket", func(c *Config) { c.LatencyBuckets = []float64{math.NaN()} }, "positive finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			_, err := New(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

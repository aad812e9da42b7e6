// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The minimal case of issue 11: one request holds service a's CLIENT span, an unrelated 40 s root
// SERVER span of x, then b's SERVER child of a's span, 1 ms apart. A watermark that advanced per
// span expired a's span at x's end: a->b became a virtual call and b a phantom call from the user.
func TestLongSpanInTheBatchDoesNotExpireItsNeighbours(t *testing.T) {
	long := func(kind SpanKind) sp { return sp{2, 1, 0, "x", kind, 1, 40_001, false, Peer{}} }
	client := func(kind SpanKind, peer Peer) sp { return sp{1, 1, 0, "a", kind, 0, 5, false, peer} }
	server := func(kind SpanKind) sp { return sp{1, 2, 1, "b", kind, 2, 4, false, Peer{}} }
	kinded := []sp{client(KindClient, httpPeer("b")), long(KindServer), server(KindServer)}
	kindless := []sp{client(KindUnspecified, Peer{}), long(KindUnspecified), server(KindUnspecified)}
	wantKinded := map[string]agg{"a->b/http": {1, 0, 0, "traces"}, "user->x/virtual": {1, 0, 0, "traces"}}
	// Kind-less roots that name no peer are requests from outside (a and x).
	wantKindless := map[string]agg{"a->b/inferred": {1, 0, 0, "traces"}, "user->a/virtual": {1, 0, 0, "traces"}, "user->x/virtual": {1, 0, 0, "traces"}}
	y := sp{3, 1, 0, "y", KindServer, 1, 40_002, false, Peer{}} // a second service confirming 40 s
	tests := []struct {
		name    string
		batches [][]sp
		want    map[string]agg
	}{
		{"one request", [][]sp{kinded}, wantKinded},
		{"kind-less spans", [][]sp{kindless}, wantKindless},
		{"the server half in the next request", [][]sp{kinded[:2], kinded[2:]}, wantKinded},
		{"kind-less, the child in the next request", [][]sp{kindless[:2], kindless[2:]}, wantKindless},
		{"long span first", [][]sp{{kinded[1], kinded[0], kinded[2]}}, wantKinded},
		{
			"two services confirm 40 s in the same request",
			[][]sp{{kinded[0], kinded[1], y, kinded[2]}},
			map[string]agg{"a->b/http": {1, 0, 0, "traces"}, "user->x/virtual": {1, 0, 0, "traces"}, "user->y/virtual": {1, 0, 0, "traces"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, nil)
			var ws []Window
			for _, b := range tt.batches {
				batch := make([]Span, len(b))
				for i, x := range b {
					batch[i] = x.span()
				}
				st.AddSpans(batch)
				ws = append(ws, st.Flush()...)
			}
			assert.Less(t, st.Watermark(), t0+time.Second.Nanoseconds()+40_000*ms, "one long span does not move event time")
			ws = append(ws, st.FlushAll()...)
			assert.Equal(t, tt.want, summarize(st.Snapshot()))
			assert.Equal(t, tt.want, windowTotals(ws))
			s := st.Stats()
			assert.Zero(t, s.VirtualCalls, "a->b is not a virtual call")
			assert.Zero(t, s.UnpairedExpired)
		})
	}
}

// A single service cannot move event time: with the default quorum of two, the store's event
// time is the progress of the second most advanced service.
func TestOneServiceCannotMoveEventTime(t *testing.T) {
	st := newStore(t, nil)
	st.AddSpans([]Span{
		sp{1, 1, 0, "a", KindInternal, 0, 1000, false, Peer{}}.span(),
		sp{2, 1, 0, "b", KindInternal, 0, 2000, false, Peer{}}.span(),
	})
	assert.Equal(t, t0+1000*ms, st.Watermark())
	x := sp{3, 1, 0, "a", KindInternal, 0, 600_000, false, Peer{}}.span() // a's clock runs 10 min ahead
	st.AddSpan(&x)
	assert.Equal(t, t0+2000*ms, st.Watermark(), "b's progress")
	st.AddLog(&LogRef{Service: "c", Time: t0 + 3000*ms})
	assert.Equal(t, t0+3000*ms, st.Watermark(), "logs are sources too")
	st.Advance(t0 + 5000*ms)
	assert.Equal(t, t0+5000*ms, st.Watermark(), "Advance raises event time without data")
	assert.Equal(t, 3, st.clock.Sources())

	t.Run("quorum of one", func(t *testing.T) {
		st := newStore(t, func(c *Config) { c.Clock.Quorum = 1 })
		st.AddSpan(&x)
		assert.Equal(t, x.End, st.Watermark())
	})
	t.Run("sources are bounded without eviction", func(t *testing.T) {
		st := newStore(t, func(c *Config) { c.Clock.MaxSources = 2 })
		for i := range 5 {
			l := LogRef{Service: fmt.Sprintf("s%d", i), Time: t0 + int64(i+1)*int64(time.Second)}
			st.AddLog(&l)
		}
		assert.Equal(t, 2, st.clock.Sources())
		assert.Equal(t, t0+int64(time.Second), st.Watermark(), "new services beyond the bound are not followed")
	})
}

// traffic returns one request per second of event time for n seconds: user -> frontend ->
// checkout -> payment -> orders-db, each trace's spans in one batch, the calls 200 ms into the
// second. The first batch is at second `from`.
func traffic(from, n int) [][]Span {
	var out [][]Span
	for k := from; k < from+n; k++ {
		at := int64(k)*1000 + 200
		tr := uint32(k + 1)
		out = append(out, []Span{
			sp{tr, 1, 0, "frontend", KindServer, at, at + 50, false, Peer{Kind: PeerHTTP}}.span(),
			sp{tr, 2, 1, "frontend", KindClient, at + 1, at + 45, false, httpPeer("checkout")}.span(),
			sp{tr, 3, 2, "checkout", KindServer, at + 2, at + 40, false, Peer{Kind: PeerHTTP}}.span(),
			sp{tr, 4, 3, "checkout", KindClient, at + 3, at + 30, k%7 == 0, Peer{Name: "payment", Kind: PeerRPC}}.span(),
			sp{tr, 5, 4, "payment", KindServer, at + 4, at + 25, k%7 == 0, Peer{Kind: PeerRPC}}.span(),
			sp{tr, 6, 5, "payment", KindClient, at + 5, at + 15, false, dbPeer}.span(),
		})
	}
	return out
}

// run feeds the batches, stamping each against wall(k), flushing after each, and returns the
// windows and the ClosedUpTo after each batch.
func runTraffic(t *testing.T, batches [][]Span, wall func(k int) int64, mutate func(k int, b []Span)) ([]Window, []int64, Stats) {
	t.Helper()
	st := newStore(t, nil)
	var ws []Window
	var closed []int64
	for k, b := range batches {
		b = append([]Span(nil), b...)
		if mutate != nil {
			mutate(k, b)
		}
		st.StampSpans(b, wall(k))
		st.AddSpans(b)
		ws = append(ws, st.Flush()...)
		closed = append(closed, st.ClosedUpTo())
	}
	ws = append(ws, st.FlushAll()...)
	return ws, closed, st.Stats()
}

// Several services warmed up, one span of one service stamped 10 minutes ahead and one 80 years
// ahead, then normal traffic: windows still close on time and no edge is lost or moved.
func TestSkewedSpansDoNotMoveEventTime(t *testing.T) {
	batches := traffic(0, 90)
	skew := func(k int, b []Span) {
		switch k {
		case 35: // window [30 s, 45 s): payment's server span from a clock 10 minutes ahead
			b[4].Start += int64(10 * time.Minute)
			b[4].End += int64(10 * time.Minute)
		case 52: // window [45 s, 60 s): checkout's server span 80 years ahead
			d := int64(80 * 365 * 24 * time.Hour)
			b[2].Start += d
			b[2].End += d
		}
	}
	t.Run("live", func(t *testing.T) {
		// The wall clock follows the traffic: each batch arrives 700 ms after its calls began.
		wall := func(k int) int64 { return t0 + int64(k)*int64(time.Second) + 900*ms }
		want, wantClosed, _ := runTraffic(t, batches, wall, nil)
		got, gotClosed, s := runTraffic(t, batches, wall, skew)
		assert.Equal(t, wantClosed, gotClosed, "windows close on time")
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, want[i].Start, got[i].Start)
			assert.Equal(t, summarize(want[i].Edges), summarize(got[i].Edges), "window %d", i)
			for j := range want[i].Edges {
				assert.Equal(t, want[i].Edges[j].ServerSide, got[i].Edges[j].ServerSide, "durations are kept")
			}
		}
		assert.Equal(t, uint64(1), s.TimeFixedAhead)
		assert.Equal(t, uint64(1), s.TimeFixedImpossible)
		assert.Zero(t, s.LateEvents)
	})
	t.Run("replay", func(t *testing.T) {
		// Replayed a year later: the 10-minute skew cannot be told from the data (it is kept), the
		// 80-year one is impossible (re-stamped to event time). Event time still follows the
		// other services: windows close as without the skew, and every call is counted once.
		wall := func(int) int64 { return t0 + int64(365*24*time.Hour) }
		want, wantClosed, _ := runTraffic(t, batches, wall, nil)
		got, gotClosed, s := runTraffic(t, batches, wall, skew)
		assert.Equal(t, wantClosed, gotClosed, "windows close on time")
		assert.Equal(t, windowTotals(want), windowTotals(got), "no call lost or counted twice")
		assert.Zero(t, s.TimeFixedAhead, "replays are never re-stamped for skew")
		assert.Equal(t, uint64(1), s.TimeFixedImpossible)
		// The one call with the skewed server span counts at its later end, 10 minutes on.
		last := got[len(got)-1]
		assert.Equal(t, t0+int64(10*time.Minute)+30*int64(time.Second), last.Start)
		assert.Equal(t, map[string]agg{"checkout->payment/rpc": {1, 1, 0, "traces"}}, summarize(last.Edges))
	})
}

func TestStampSpansAndLogs(t *testing.T) {
	wall := t0 + int64(time.Hour)
	st := newStore(t, nil)
	spans := []Span{
		sp{1, 1, 0, "a", KindInternal, 3_600_000, 3_600_010, false, Peer{}}.span(),                     // on time
		sp{2, 1, 0, "a", KindInternal, 3_600_000 + 120_000, 3_600_010 + 120_000, false, Peer{}}.span(), // 2 min ahead
		{TraceID: tid(3), SpanID: sid(1), Service: "a", Start: 1000, End: 2000},                        // 1970
		{TraceID: tid(4), SpanID: sid(1), Service: "a", Start: 0, End: 0},                              // no time: left to drop
		{TraceID: tid(5), SpanID: sid(1), Service: "a", Start: wall, End: math.MaxInt64},               // end beyond any clock
	}
	st.StampSpans(spans, wall)
	assert.Equal(t, t0+3_600_010*ms, spans[0].End, "kept")
	assert.Equal(t, wall, spans[1].End, "live and 2 min ahead: the wall clock")
	assert.Equal(t, 10*ms, spans[1].End-spans[1].Start, "duration kept")
	assert.Equal(t, wall, spans[2].End, "impossible, no event time yet: the wall clock")
	assert.Equal(t, int64(1000), spans[2].End-spans[2].Start)
	assert.Equal(t, int64(0), spans[3].End)
	s := st.Stats()
	assert.Equal(t, uint64(1), s.TimeFixedAhead)
	assert.Equal(t, uint64(2), s.TimeFixedImpossible)
	st.AddSpans(spans)
	s = st.Stats()
	assert.Equal(t, uint64(2), s.Dropped[DropMissingTime], "no time; and an end far beyond its start")

	logs := []LogRef{
		{Service: "a", Time: wall + int64(10*time.Minute), Observed: wall - 5*ms}, // skewed: the observed time
		{Service: "a", Time: wall + int64(10*time.Minute)},                        // skewed, no observed time: the wall clock
		{Service: "a", Time: 0, Observed: 0},                                      // no time at all: event time
		{Service: "a", Time: wall - 3*ms, Observed: wall},                         // kept
	}
	st.StampLogs(logs, wall)
	assert.Equal(t, wall-5*ms, logs[0].Time)
	assert.Equal(t, wall, logs[1].Time)
	assert.Equal(t, st.Watermark(), logs[2].Time)
	assert.Equal(t, wall-3*ms, logs[3].Time)
	s = st.Stats()
	assert.Equal(t, uint64(3), s.TimeFixedAhead)
	assert.Equal(t, uint64(3), s.TimeFixedImpossible)
}

func TestRestoreDoesNotRestoreAPoisonedClock(t *testing.T) {
	src := newStore(t, nil)
	feed(src, []op{spans(pair(1, 1000, false)...)})
	src.Advance(t0 + int64(24*time.Hour)) // a poisoned watermark (a day ahead), as an older version could save
	src.Flush()
	data, err := src.MarshalBinary()
	require.NoError(t, err)
	require.Positive(t, src.ClosedUpTo())

	st := newStore(t, nil)
	discarded, err := st.Restore(data, t0+int64(time.Hour))
	require.NoError(t, err)
	assert.True(t, discarded)
	assert.Zero(t, st.Watermark())
	assert.Zero(t, st.ClosedUpTo())
	assert.Equal(t, map[string]agg{"a->b/direct": {1, 0, 0, "traces"}}, summarize(st.Snapshot()), "the edges are restored")
	// New data closes windows again.
	feed(st, []op{spans(pair(2, 3_600_000, false)...)})
	st.Advance(t0 + 3_700_000*ms)
	ws := st.Flush()
	require.Len(t, withEdges(ws), 1)
	assert.Equal(t, uint64(2), summarize(st.Snapshot())["a->b/direct"].Calls)

	t.Run("a sane watermark is restored", func(t *testing.T) {
		src := newStore(t, nil)
		feed(src, []op{spans(pair(1, 1000, false)...)})
		src.Advance(t0 + 40_000*ms)
		src.Flush()
		data, err := src.MarshalBinary()
		require.NoError(t, err)
		st := newStore(t, nil)
		discarded, err := st.Restore(data, t0+int64(time.Hour))
		require.NoError(t, err)
		assert.False(t, discarded)
		assert.Equal(t, src.Watermark(), st.Watermark())
		assert.Equal(t, src.ClosedUpTo(), st.ClosedUpTo())
		// The restored event time holds: older data is late.
		feed(st, []op{spans(pair(2, 1000, false)...)})
		st.FlushAll()
		assert.Equal(t, uint64(1), st.Stats().LateEvents)
	})
	t.Run("corrupt data", func(t *testing.T) {
		_, err := newStore(t, nil).Restore([]byte("nope"), t0)
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

func TestClosedUpTo(t *testing.T) {
	st := newStore(t, nil) // 15 s windows, 15 s lateness
	assert.Zero(t, st.ClosedUpTo())
	st.Flush()
	assert.Zero(t, st.ClosedUpTo(), "no event time yet")
	feed(st, []op{spans(pair(1, 1000, false)...)})
	st.Flush()
	assert.Equal(t, t0-15*int64(time.Second), st.ClosedUpTo(), "event time 1 s: windows up to t0-15 s are closed")
	st.Advance(t0 + 44_999*ms)
	ws := st.Flush()
	require.Len(t, ws, 1, "[0 s, 15 s) closes at 30 s")
	assert.Equal(t, t0+15*int64(time.Second), st.ClosedUpTo())
	st.Advance(t0 + 45_000*ms)
	assert.Empty(t, st.Flush(), "[15 s, 30 s) has no data")
	assert.Equal(t, t0+30*int64(time.Second), st.ClosedUpTo(), "and is closed all the same")
	require.Equal(t, uint64(1), st.Stats().WindowsEmitted)
	st.FlushAll()
	assert.Equal(t, t0+60*int64(time.Second), st.ClosedUpTo(), "FlushAll closes the current window [45 s, 60 s)")
}

// withEdges returns the windows that have edges (a window may hold only services' own time).
func withEdges(ws []Window) []Window {
	var out []Window
	for _, w := range ws {
		if len(w.Edges) > 0 {
			out = append(out, w)
		}
	}
	return out
}

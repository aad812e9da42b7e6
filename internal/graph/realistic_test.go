// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRealisticTracesAnyArrivalOrder(t *testing.T) {
	const n = 3000
	// 45 s of traces: pending spans expire and windows close while the stream runs.
	arrival := genSpans(n, 15*time.Millisecond, 7)
	byEnd := slices.Clone(arrival)
	sort.SliceStable(byEnd, func(a, b int) bool { return byEnd[a].End < byEnd[b].End })
	reversed := slices.Clone(byEnd)
	slices.Reverse(reversed)
	// Shuffled in blocks of 500 spans (batches mixed up across services and traces).
	shuffled := slices.Clone(arrival)
	rng := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // G404: reproducible shuffle
	for i := 0; i < len(shuffled); i += 500 {
		blk := shuffled[i:min(i+500, len(shuffled))]
		rng.Shuffle(len(blk), func(a, b int) { blk[a], blk[b] = blk[b], blk[a] })
	}
	want := genExpected(n)
	for name, in := range map[string][]Span{"arrival": arrival, "end time": byEnd, "reversed": reversed, "shuffled": shuffled} {
		t.Run(name, func(t *testing.T) {
			st := newStore(t, nil)
			var ws []Window
			for i := 0; i < len(in); i += 100 {
				st.AddSpans(in[i:min(i+100, len(in))])
				ws = append(ws, st.Flush()...)
			}
			if name != "reversed" { // reversed: the watermark starts at the end, everything is late
				require.NotEmpty(t, ws, "windows close during the stream")
			}
			ws = append(ws, st.FlushAll()...)
			assert.Equal(t, want, summarize(st.Snapshot()))
			assert.Equal(t, want, windowTotals(ws))
			s := st.Stats()
			assert.Zero(t, s.DroppedTotal())
			if name == "arrival" || name == "end time" {
				assert.Zero(t, s.LateEvents)
			}
			assert.Equal(t, uint64(len(in)), s.SpansIn)
			assert.Equal(t, uint64(n/5*4*3), s.Pairs) // per normal trace: 3 pairs
		})
	}
}

func TestDeterminism(t *testing.T) {
	in := genSpans(2000, 100*time.Microsecond, 11)
	run := func() ([]Window, []byte, Stats) {
		st := newStore(t, nil)
		var ws []Window
		for i := range in {
			st.AddSpan(&in[i])
			if i%700 == 0 {
				l := LogRef{Service: in[i].Service, TraceID: in[i].TraceID, SpanID: in[i].SpanID, Time: in[i].End, Error: i%1400 == 0}
				st.AddLog(&l)
				ws = append(ws, st.Flush()...)
			}
		}
		ws = append(ws, st.FlushAll()...)
		b, err := st.MarshalBinary()
		require.NoError(t, err)
		return ws, b, st.Stats()
	}
	w1, b1, s1 := run()
	w2, b2, s2 := run()
	require.NotEmpty(t, w1)
	assert.Equal(t, w1, w2)
	assert.Equal(t, b1, b2)
	assert.Equal(t, s1, s2)
	for _, w := range w1 {
		assert.True(t, slices.IsSortedFunc(w.Edges, func(a, b Edge) int {
			if key(a) < key(b) {
				return -1
			}
			return 1
		}))
	}
}

func TestSketchAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: reproducible sample
	var sk sketch
	vals := make([]float64, 0, 20000)
	for range 20000 {
		v := int64(math.Exp(rng.NormFloat64()*1.5+math.Log(20e6))) + 1 // log-normal around 20 ms
		sk.add(v)
		vals = append(vals, float64(v))
	}
	sort.Float64s(vals)
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		assert.InEpsilon(t, exact, sk.quantile(q), 0.0625, "q=%v", q)
	}
	assert.Zero(t, (&sketch{}).quantile(0.5))
	assert.Equal(t, Latency{}, (*sketch)(nil).latency())

	t.Run("extremes", func(t *testing.T) {
		var s sketch
		for _, v := range []int64{-5, 0, 1, 1023, 1024, 1 << 41, 1 << 50, math.MaxInt64} {
			s.add(v)
		}
		assert.Equal(t, uint64(8), s.n)
		assert.Equal(t, int64(0), s.min)
		assert.InDelta(t, float64(math.MaxInt64), s.quantile(1), 0) // exactly the maximum
		assert.Zero(t, s.quantile(0))
	})
	t.Run("overflowing bucket halves the counts", func(t *testing.T) {
		var s sketch
		s.add(5e6)
		s.add(50e6)
		s.counts[skIndex(5e6)] = math.MaxUint32
		s.n = math.MaxUint32 + 1
		s.add(5e6)
		assert.Equal(t, uint32(math.MaxUint32/2+2), s.counts[skIndex(5e6)]) // ceil(max/2) + 1
		assert.Equal(t, uint32(1), s.counts[skIndex(50e6)], "non-empty buckets stay non-empty")
		assert.InEpsilon(t, 5e6, s.quantile(0.5), 0.0625)
	})
	t.Run("every bucket maps back to itself", func(t *testing.T) {
		for i := 1; i < skBuckets; i++ {
			assert.Equal(t, i, skIndex(int64(skValue(i))), "bucket %d", i)
		}
	})
}

func TestStrings(t *testing.T) {
	assert.Equal(t, []string{"unspecified", "internal", "server", "client", "producer", "consumer", "unspecified"},
		[]string{KindUnspecified.String(), KindInternal.String(), KindServer.String(), KindClient.String(),
			KindProducer.String(), KindConsumer.String(), SpanKind(9).String()})
	assert.Equal(t, []string{"unknown", "http", "rpc", "database", "messaging"},
		[]string{PeerUnknown.String(), PeerHTTP.String(), PeerRPC.String(), PeerDatabase.String(), PeerMessaging.String()})
	var conns []string
	for c := range numConnTypes + 1 {
		conns = append(conns, c.String())
	}
	assert.Equal(t, []string{"direct", "http", "rpc", "database", "messaging", "virtual", "inferred", "invalid"}, conns)
	var kinds []string
	for k := range numNodeKinds + 1 {
		kinds = append(kinds, k.String())
	}
	assert.Equal(t, []string{"virtual", "user", "database", "messaging", "service", "invalid"}, kinds)
	assert.Equal(t, []string{"", "traces", "logs", "both"},
		[]string{Source(0).String(), SourceTraces.String(), SourceLogs.String(), (SourceTraces | SourceLogs).String()})
	var reasons []string
	for r := range NumDropReasons + 1 {
		reasons = append(reasons, r.String())
	}
	assert.Equal(t, []string{"invalid_id", "missing_service", "missing_time", "duplicate", "self_call",
		"pending_full", "edges_full", "nodes_full", "invalid"}, reasons)
}

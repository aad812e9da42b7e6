// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleStore is a store with trace edges, log edges, errors and log errors.
func sampleStore(tb testing.TB, mod func(*Config)) *Store {
	tb.Helper()
	st := newStore(tb, mod)
	for _, x := range genSpans(300, time.Millisecond, 1) {
		st.AddSpan(&x)
	}
	feed(st, []op{
		logOp(lg{0, 0, "billing", 400, true, Peer{Name: "ledger-db", Kind: PeerDatabase, System: "mysql"}}),
		logOp(lg{0, 0, "frontend", 401, true, Peer{Name: "checkout"}}),
	})
	st.FlushAll()
	return st
}

func TestPersistRoundTrip(t *testing.T) {
	src := sampleStore(t, nil)
	data, err := src.MarshalBinary()
	require.NoError(t, err)

	dst := newStore(t, nil)
	require.NoError(t, dst.UnmarshalBinary(data))
	want := src.Snapshot()
	require.NotEmpty(t, want)
	assert.Equal(t, want, dst.Snapshot())
	assert.Equal(t, src.Watermark(), dst.Watermark())
	assert.Equal(t, src.Stats().Edges, dst.Stats().Edges)
	assert.Equal(t, src.Stats().Nodes, dst.Stats().Nodes)

	again, err := dst.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, data, again, "encoding is deterministic and lossless")

	// The restored store keeps counting on the same edges, in windows after the restored ones.
	x := genSpans(1, time.Millisecond, 2)
	for i := range x {
		x[i].TraceID[0] = 0xEE
		dst.AddSpan(&x[i])
	}
	dst.FlushAll()
	got := summarize(dst.Snapshot())["frontend->checkout/http"]
	assert.Equal(t, agg{241, 0, 1, "both"}, got, "240 restored calls + 1, and the log error")

	t.Run("empty store", func(t *testing.T) {
		empty := newStore(t, nil)
		b, err := empty.MarshalBinary()
		require.NoError(t, err)
		other := newStore(t, nil)
		require.NoError(t, other.UnmarshalBinary(b))
		assert.Empty(t, other.Snapshot())
	})
}

func TestPersistAcrossConfigChanges(t *testing.T) {
	src := sampleStore(t, nil)
	data, err := src.MarshalBinary()
	require.NoError(t, err)

	t.Run("other buckets reset the histograms", func(t *testing.T) {
		dst := newStore(t, func(c *Config) { c.LatencyBuckets = []float64{0.1, 1} })
		require.NoError(t, dst.UnmarshalBinary(data))
		for _, e := range dst.Snapshot() {
			assert.Zero(t, e.ClientLatency.Count)
			assert.Zero(t, e.ServerLatency.Count)
			assert.Len(t, e.ClientLatency.Counts, 3)
		}
		assert.Equal(t, summarize(src.Snapshot()), summarize(dst.Snapshot()))
	})
	t.Run("fewer edges keeps the most recent", func(t *testing.T) {
		dst := newStore(t, func(c *Config) { c.MaxEdges = 2 })
		require.NoError(t, dst.UnmarshalBinary(data))
		snap := dst.Snapshot()
		require.Len(t, snap, 2)
		all := src.Snapshot()
		assert.Equal(t, uint64(len(all)-2), dst.Stats().Dropped[DropEdgesFull])
		for _, e := range snap {
			for _, o := range all {
				if key(o) != key(e) {
					assert.LessOrEqual(t, o.LastSeen, e.LastSeen+int64(time.Second), "kept edges are among the freshest")
				}
			}
		}
	})
	t.Run("expired edges are not restored", func(t *testing.T) {
		dst := newStore(t, func(c *Config) { c.EdgeTTL = time.Nanosecond })
		require.NoError(t, dst.UnmarshalBinary(data))
		// Only edges seen at or after the watermark (the second most advanced service's
		// progress) are younger than 1ns.
		var young int
		for _, e := range src.Snapshot() {
			if e.LastSeen >= src.Watermark() {
				young++
			}
		}
		require.Positive(t, young)
		snap := dst.Snapshot()
		require.Len(t, snap, young)
		for _, e := range snap {
			assert.GreaterOrEqual(t, e.LastSeen, dst.Watermark())
		}
		assert.Equal(t, uint64(len(src.Snapshot())-young), dst.Stats().EdgesExpired)
	})
}

func TestPersistCorruptData(t *testing.T) {
	data, err := sampleStore(t, nil).MarshalBinary()
	require.NoError(t, err)

	// The target holds a different graph that must survive every failed load.
	target := newStore(t, nil)
	feed(target, []op{spans(pair(1, 1000, false)...)})
	target.FlushAll()
	before, err := target.MarshalBinary()
	require.NoError(t, err)
	unchanged := func(t *testing.T) {
		t.Helper()
		now, err := target.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, before, now)
	}

	t.Run("every truncation", func(t *testing.T) {
		for n := range len(data) {
			err := target.UnmarshalBinary(data[:n])
			require.ErrorIs(t, err, ErrCorrupt, "length %d", n)
		}
		unchanged(t)
	})
	t.Run("every corrupted byte", func(t *testing.T) {
		for i := range data {
			bad := append([]byte(nil), data...)
			bad[i] ^= 0x5A
			require.Error(t, target.UnmarshalBinary(bad), "byte %d", i)
		}
		unchanged(t)
	})
	t.Run("unknown version", func(t *testing.T) {
		bad := append([]byte(nil), data...)
		binary.BigEndian.PutUint16(bad[4:], 2)
		err := target.UnmarshalBinary(bad)
		require.ErrorIs(t, err, ErrVersion)
		require.NotErrorIs(t, err, ErrCorrupt)
		unchanged(t)
	})
	t.Run("valid checksum, invalid content", func(t *testing.T) {
		withCRC := func(body []byte) []byte {
			return binary.BigEndian.AppendUint32(body, crc32.ChecksumIEEE(body))
		}
		// head encodes the header, watermark, closed mark and one bucket bound.
		head := func(watermark int64) []byte {
			b := append([]byte(persistMagic), 0, 1)
			b = binary.AppendVarint(b, watermark)
			b = binary.AppendVarint(b, math.MinInt64)
			b = binary.AppendUvarint(b, 1)
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(1))
		}
		twoNodes := func() []byte {
			b := binary.AppendUvarint(head(t0), 2)
			b = append(appendString(b, "a"), byte(NodeService))
			b = appendString(b, "")
			b = append(appendString(b, "b"), byte(NodeService))
			return appendString(b, "")
		}
		edge := func(client, server uint64, calls, errs uint64) []byte {
			b := binary.AppendUvarint(twoNodes(), 1)
			b = binary.AppendUvarint(b, client)
			b = binary.AppendUvarint(b, server)
			b = append(b, byte(ConnDirect), byte(SourceTraces))
			b = binary.AppendUvarint(b, calls)
			b = binary.AppendUvarint(b, errs)
			b = binary.AppendUvarint(b, 0)
			b = binary.AppendVarint(b, t0)
			b = binary.AppendVarint(b, t0)
			return append(b, 0, 0, 0) // empty sketch, no histograms
		}
		ok := withCRC(edge(0, 1, 1, 0))
		require.NoError(t, newStore(t, nil).UnmarshalBinary(ok), "the crafted baseline is valid")
		cases := map[string][]byte{
			"huge node count":        withCRC(binary.AppendUvarint(head(t0), 1<<40)),
			"negative watermark":     withCRC(binary.AppendUvarint(binary.AppendUvarint(head(-5), 0), 0)),
			"unknown node":           withCRC(edge(0, 7, 1, 0)),
			"self edge":              withCRC(edge(1, 1, 1, 0)),
			"more errors than calls": withCRC(edge(0, 1, 1, 2)),
			"trailing bytes":         withCRC(append(append([]byte(nil), data[:len(data)-4]...), 0)),
		}
		for name, bad := range cases {
			err := target.UnmarshalBinary(bad)
			require.ErrorIs(t, err, ErrCorrupt, name)
		}
		unchanged(t)
	})
}

// FuzzUnmarshalBinary: arbitrary input never panics; a rejected input leaves the store as it
// was; an accepted input round-trips.
func FuzzUnmarshalBinary(f *testing.F) {
	data, err := sampleStore(f, nil).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(persistMagic))
	f.Add(data[:len(data)/2])
	f.Fuzz(func(t *testing.T, in []byte) {
		st := newStore(t, nil)
		feed(st, []op{spans(pair(1, 1000, false)...)})
		st.FlushAll()
		before, _ := st.MarshalBinary()
		if err := st.UnmarshalBinary(in); err != nil {
			after, _ := st.MarshalBinary()
			require.Equal(t, before, after)
			return
		}
		out, err := st.MarshalBinary()
		require.NoError(t, err)
		again := newStore(t, nil)
		require.NoError(t, again.UnmarshalBinary(out))
		assert.Equal(t, st.Snapshot(), again.Snapshot())
	})
}

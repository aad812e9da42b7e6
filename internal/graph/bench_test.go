// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkAddSpan feeds realistic traces (frontend -> checkout -> payment -> database, a
// queue producer/consumer, a cache, and INTERNAL-only traces; ~9.6 spans per trace) in
// arrival order, where each service exports after its own delay so that the halves of a
// call arrive in different batches and mostly child before parent. Flush runs every 4096
// spans as the connector's ticker would. One op is one span. "one" calls AddSpan per span;
// "batch" calls AddSpans with 512 spans, as an adapter converting a batch would.
func BenchmarkAddSpan(b *testing.B) {
	const traces = 20_000
	const gap = 200 * time.Microsecond // 5000 traces/s, ~48k spans/s of event time
	data := genSpans(traces, gap, 42)
	period := int64(traces) * int64(gap) // a continuous stream: pass p+1 follows pass p
	for _, ttl := range []time.Duration{10 * time.Second, 2 * time.Second} {
		for _, batch := range []int{1, 512} {
			name := fmt.Sprintf("ttl=%v/one", ttl)
			if batch > 1 {
				name = fmt.Sprintf("ttl=%v/batch=%d", ttl, batch)
			}
			b.Run(name, func(b *testing.B) {
				st := newStore(b, func(c *Config) { c.PendingTTL = ttl; c.MaxPending = 2_000_000 })
				// Warm up for TTL + one pass of event time, so that the pending store is at its
				// steady-state size and the timed loop measures throughput, not growth.
				warm := uint32((int64(ttl)+period-1)/period) + 1
				for p := range warm {
					for _, x := range data {
						binary.BigEndian.PutUint32(x.TraceID[4:8], p)
						x.Start += int64(p) * period
						x.End += int64(p) * period
						st.AddSpan(&x)
					}
					st.Flush()
				}
				buf := make([]Span, 0, batch)
				pass, i := warm, 0
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					x := data[i]
					binary.BigEndian.PutUint32(x.TraceID[4:8], pass)
					shift := int64(pass) * period
					x.Start += shift
					x.End += shift
					if batch == 1 {
						st.AddSpan(&x)
					} else if buf = append(buf, x); len(buf) == batch || n == b.N-1 {
						st.AddSpans(buf)
						buf = buf[:0]
					}
					if n&4095 == 4095 {
						st.Flush()
					}
					if i++; i == len(data) {
						i = 0
						pass++
					}
				}
				b.StopTimer()
				s := st.Stats()
				if s.DroppedTotal() != 0 || s.SpansIn != uint64(b.N)+uint64(warm)*uint64(len(data)) {
					b.Fatalf("spans in %d of %d, dropped %v", s.SpansIn, b.N, s.Dropped)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
				b.ReportMetric(float64(s.Pending), "pending")
			})
		}
	}
}

// BenchmarkFloodUniqueTraces floods the store with spans of unique trace ids whose parents
// never arrive (each needs two pending entries), plus logs for unknown spans, with event
// time moving slowly: the pending store fills to MaxPending, then drops and counts. It
// reports the live heap after the flood, which stays flat as b.N grows.
func BenchmarkFloodUniqueTraces(b *testing.B) {
	st := newStore(b, nil) // MaxPending 200000
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		var x Span
		binary.BigEndian.PutUint64(x.TraceID[:8], uint64(n)+1)
		x.TraceID[15] = 1
		x.SpanID[0], x.ParentSpanID[0] = 1, 2
		x.Service, x.Kind = "svc", KindServer
		x.Start = t0 + int64(n)*int64(time.Microsecond)
		x.End = x.Start + int64(time.Millisecond)
		st.AddSpan(&x)
		if n%16 == 0 {
			l := LogRef{Service: "svc", TraceID: x.TraceID, SpanID: SpanID{9}, Time: x.End, Error: true}
			st.AddLog(&l)
		}
	}
	b.StopTimer()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := st.Stats()
	b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(s.Pending), "pending")
	b.ReportMetric(float64(s.Dropped[DropPendingFull]), "dropped")
	runtime.KeepAlive(st)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// t0 is a window-aligned base time (a multiple of 15 s) for readable tests.
const t0 = int64(1_700_000_010) * int64(time.Second)

const ms = int64(time.Millisecond)

func tid(n uint32) TraceID {
	var t TraceID
	binary.BigEndian.PutUint32(t[:4], n)
	t[15] = 0xAA
	return t
}

func sid(n uint32) SpanID {
	var s SpanID
	if n == 0 {
		return s
	}
	binary.BigEndian.PutUint32(s[:4], n)
	s[7] = 0x55
	return s
}

// sp is a compact span description: trace, id, parent, service, kind, start/end in ms after t0.
type sp struct {
	tr, id, parent uint32
	svc            string
	kind           SpanKind
	start, end     int64
	err            bool
	peer           Peer
}

func (p sp) span() Span {
	return Span{
		TraceID: tid(p.tr), SpanID: sid(p.id), ParentSpanID: sid(p.parent), Service: p.svc, Kind: p.kind,
		Start: t0 + p.start*ms, End: t0 + p.end*ms, Error: p.err, Peer: p.peer,
	}
}

// lg is a compact log description.
type lg struct {
	tr, id uint32
	svc    string
	at     int64 // ms after t0
	err    bool
	peer   Peer
}

func (l lg) ref() LogRef {
	r := LogRef{Service: l.svc, Time: t0 + l.at*ms, Error: l.err, Peer: l.peer}
	if l.tr != 0 {
		r.TraceID = tid(l.tr)
	}
	r.SpanID = sid(l.id)
	return r
}

// op is one step fed to a store: spans, a log, or an Advance (ms after t0).
type op struct {
	spans   []sp
	log     *lg
	advance int64
}

func spans(s ...sp) op { return op{spans: s} }
func logOp(l lg) op    { return op{log: &l} }
func advance(m int64) op {
	return op{advance: m}
}

func feed(st *Store, ops []op) {
	for _, o := range ops {
		for _, s := range o.spans {
			x := s.span()
			st.AddSpan(&x)
		}
		if o.log != nil {
			r := o.log.ref()
			st.AddLog(&r)
		}
		if o.advance != 0 {
			st.Advance(t0 + o.advance*ms)
		}
	}
}

// agg is what the table tests compare per edge.
type agg struct {
	Calls, Errors, LogErrors uint64
	Source                   string
}

func key(e Edge) string {
	return fmt.Sprintf("%s->%s/%s", e.Client.Name, e.Server.Name, e.Conn)
}

func summarize(edges []Edge) map[string]agg {
	out := map[string]agg{}
	for _, e := range edges {
		out[key(e)] = agg{e.Calls, e.Errors, e.LogErrors, e.Source.String()}
	}
	return out
}

// windowTotals sums the per-window edges and merges their sources.
func windowTotals(ws []Window) map[string]agg {
	out := map[string]agg{}
	src := map[string]Source{}
	for _, w := range ws {
		for _, e := range w.Edges {
			a := out[key(e)]
			a.Calls += e.Calls
			a.Errors += e.Errors
			a.LogErrors += e.LogErrors
			src[key(e)] |= e.Source
			out[key(e)] = a
		}
	}
	for k, s := range src {
		a := out[k]
		a.Source = s.String()
		out[k] = a
	}
	return out
}

func newStore(tb testing.TB, mod func(*Config)) *Store {
	tb.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	st, err := New(cfg)
	require.NoError(tb, err)
	return st
}

// --- realistic trace generator (tests and benchmarks) ---

// genSpans returns the spans of n traces in arrival order: every service exports its spans
// after its own delay plus jitter, so the halves of a call arrive in different batches and
// often child before parent. 1 trace in 5 comes from an INTERNAL-only tracer. Trace i starts
// at t0 + i*gap.
func genSpans(n int, gap time.Duration, seed uint64) []Span {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // G404: reproducible test traces
	type arriving struct {
		at int64
		sp Span
	}
	delay := map[string]int64{
		"frontend": 200 * ms, "checkout": 800 * ms, "payment": 1500 * ms, "shipping": 2500 * ms,
		"gateway": 300 * ms, "inventory": 1000 * ms, "pricing": 600 * ms,
	}
	var all []arriving
	add := func(s Span) {
		at := s.End + delay[s.Service] + rng.Int64N(500*ms)
		all = append(all, arriving{at, s})
	}
	for i := range n {
		tr := tid(uint32(i + 1))
		tr[8] = byte(rng.Uint32())
		base := t0 + int64(i)*int64(gap)
		j := rng.Int64N(2 * ms) // jitter of durations
		mk := func(id, parent uint32, svc string, kind SpanKind, s, e int64, peer Peer) Span {
			return Span{TraceID: tr, SpanID: sid(id), ParentSpanID: sid(parent), Service: svc, Kind: kind,
				Start: base + s*ms, End: base + e*ms + j, Peer: peer}
		}
		if i%5 == 4 {
			add(mk(1, 0, "gateway", KindInternal, 0, 30, Peer{}))
			add(mk(2, 1, "inventory", KindInternal, 1, 29, Peer{}))
			add(mk(3, 2, "inventory", KindInternal, 2, 20, Peer{}))
			add(mk(4, 3, "pricing", KindUnspecified, 3, 19, Peer{}))
			continue
		}
		add(mk(1, 0, "frontend", KindServer, 0, 40, Peer{Kind: PeerHTTP}))
		add(mk(2, 1, "frontend", KindInternal, 1, 39, Peer{}))
		add(mk(3, 2, "frontend", KindClient, 2, 38, Peer{Name: "checkout", Kind: PeerHTTP}))
		add(mk(4, 3, "checkout", KindServer, 3, 37, Peer{Kind: PeerHTTP}))
		add(mk(5, 4, "checkout", KindClient, 4, 20, Peer{Name: "payment", Kind: PeerRPC, System: "grpc"}))
		pay := mk(6, 5, "payment", KindServer, 5, 19, Peer{Kind: PeerRPC})
		pay.Error = i%100 == 7
		add(pay)
		add(mk(7, 6, "payment", KindClient, 6, 15, Peer{Name: "payments-db", Kind: PeerDatabase, System: "postgresql"}))
		add(mk(8, 4, "checkout", KindProducer, 21, 23, Peer{Name: "orders", Kind: PeerMessaging, System: "kafka"}))
		add(mk(9, 8, "shipping", KindConsumer, 30, 45, Peer{}))
		add(mk(10, 9, "shipping", KindInternal, 31, 44, Peer{}))
		add(mk(11, 4, "checkout", KindClient, 24, 26, Peer{Kind: PeerDatabase, System: "redis"}))
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].at < all[b].at })
	out := make([]Span, len(all))
	for i, a := range all {
		out[i] = a.sp
	}
	return out
}

// genExpected is the edge summary of genSpans(n, ...) after FlushAll.
func genExpected(n int) map[string]agg {
	legacy := uint64(0)
	for i := range n {
		if i%5 == 4 {
			legacy++
		}
	}
	normal := uint64(n) - legacy
	payErr := uint64(0)
	for i := range n {
		if i%5 != 4 && i%100 == 7 {
			payErr++
		}
	}
	out := map[string]agg{
		"user->frontend/virtual":        {normal, 0, 0, "traces"},
		"frontend->checkout/http":       {normal, 0, 0, "traces"},
		"checkout->payment/rpc":         {normal, payErr, 0, "traces"},
		"payment->payments-db/database": {normal, 0, 0, "traces"},
		"checkout->shipping/messaging":  {normal, 0, 0, "traces"},
		"checkout->redis/database":      {normal, 0, 0, "traces"},
		"gateway->inventory/inferred":   {legacy, 0, 0, "traces"},
		"inventory->pricing/inferred":   {legacy, 0, 0, "traces"},
	}
	for k, v := range out {
		if v.Calls == 0 {
			delete(out, k)
		}
	}
	return out
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Own time per service: a's SERVER span (100 ms) calls b through a CLIENT span (80 ms); b's SERVER
// span (60 ms) has a kind-less child in service c (20 ms) and a kind-less database call (10 ms).
// a's own time is 100 - 80 = 20 ms, its egress 80 - 60 = 20 ms; b's own time 60 - 20 - 10 = 30 ms;
// the database call has no callee span, so its 10 ms are the database's own time; c's own time
// is 20 ms.
func TestServiceOwnTime(t *testing.T) {
	for _, order := range []string{"parents first", "children first"} {
		t.Run(order, func(t *testing.T) {
			st := newStore(t, nil)
			all := []sp{
				{tr: 1, id: 1, svc: "a", kind: KindServer, start: 1000, end: 1100},
				{tr: 1, id: 2, parent: 1, svc: "a", kind: KindClient, start: 1010, end: 1090, peer: Peer{Name: "b", Kind: PeerHTTP}},
				{tr: 1, id: 3, parent: 2, svc: "b", kind: KindServer, start: 1020, end: 1080, err: true},
				{tr: 1, id: 4, parent: 3, svc: "c", kind: KindUnspecified, start: 1030, end: 1050},
				{tr: 1, id: 5, parent: 3, svc: "b", kind: KindUnspecified, start: 1055, end: 1065, peer: Peer{System: "mysql", Kind: PeerDatabase}},
			}
			if order == "children first" {
				for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
					all[i], all[j] = all[j], all[i]
				}
			}
			feed(st, []op{spans(all...)})
			ws := st.FlushAll()
			got := map[string]ServiceWindow{}
			for _, w := range ws {
				for _, s := range w.Services {
					got[s.Service] = s
				}
			}
			require.Len(t, got, 4, "no node for the user")
			assert.Equal(t, ServiceWindow{Service: "a", Spans: 1, SelfNs: 20 * ms, EgressSpans: 1, EgressNs: 20 * ms}, got["a"])
			assert.Equal(t, ServiceWindow{Service: "b", Spans: 1, Errors: 1, SelfNs: 30 * ms}, got["b"])
			assert.Equal(t, ServiceWindow{Service: "mysql", Spans: 1, SelfNs: 10 * ms}, got["mysql"])
			assert.Equal(t, ServiceWindow{Service: "c", Spans: 1, SelfNs: 20 * ms}, got["c"])
		})
	}
}

// Children running in parallel can sum to more than their parent: own time is never negative.
func TestServiceOwnTimeParallelChildren(t *testing.T) {
	st := newStore(t, nil)
	feed(st, []op{spans(
		sp{tr: 1, id: 1, svc: "a", kind: KindUnspecified, start: 1000, end: 1050},
		sp{tr: 1, id: 2, parent: 1, svc: "b", kind: KindUnspecified, start: 1001, end: 1049},
		sp{tr: 1, id: 3, parent: 1, svc: "c", kind: KindUnspecified, start: 1001, end: 1049},
	)})
	for _, w := range st.FlushAll() {
		for _, s := range w.Services {
			if s.Service == "a" {
				assert.Zero(t, s.SelfNs)
				assert.Equal(t, uint64(1), s.Spans)
			}
		}
	}
}

// Spans whose other half never comes expire after PendingTTL into a virtual or user call in the
// window of their end, whatever the batching: a window stays open while spans ending in it wait.
// The same spans fed one request per second and seven seconds at a time give the same windows.
func TestExpiryLandsInItsWindowWhateverTheBatching(t *testing.T) {
	var all []Span
	for i := range 120 {
		at := int64(i) * 500 // ms
		all = append(all,
			sp{tr: uint32(i + 1), id: 1, svc: "api", kind: KindServer, start: at, end: at + 40}.span(),
			sp{tr: uint32(i + 1), id: 2, parent: 1, svc: "api", kind: KindClient, start: at + 5, end: at + 35, peer: Peer{System: "mysql", Kind: PeerDatabase}}.span(),
			sp{tr: uint32(i + 1000), id: 1, svc: "web", kind: KindServer, start: at + 100, end: at + 130}.span(),
		)
	}
	run := func(batch time.Duration) ([]Window, Stats) {
		st := newStore(t, nil)
		var out []Window
		for lo := 0; lo < len(all); {
			hi := lo
			for hi < len(all) && all[hi].End < all[lo].End+int64(batch) {
				hi++
			}
			st.AddSpans(append([]Span(nil), all[lo:hi]...))
			out = append(out, st.Flush()...)
			lo = hi
		}
		out = append(out, st.FlushAll()...)
		return out, st.Stats()
	}
	a, sa := run(time.Second)
	b, sb := run(7 * time.Second)
	assert.Equal(t, windowTotals(a), windowTotals(b))
	assert.Equal(t, a, b, "the same windows, edges and own times")
	assert.Zero(t, sa.LateEvents)
	assert.Zero(t, sb.LateEvents)
}

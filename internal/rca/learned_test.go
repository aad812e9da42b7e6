// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// learnFeed is a day part of the shop: edges with latency, errors and call gaps, every service's
// own time, and from faultAt a CPU-starved payment (its own time and its callers' latency up,
// a few error lines). Everything is a function of the window index.
type learnFeed struct {
	faultAt int64 // window index
	faultN  int64 // windows of fault
}

func (f *learnFeed) feed(e *Engine, i int64) []incident.Incident {
	start := t0 + i*10*sec
	end := start + 10*sec
	fault := i >= f.faultAt && i < f.faultAt+f.faultN
	r := lvRand(uint64(i)*2654435761 + 1)
	for _, l := range shop {
		calls := int64(90 + 20*r.next())
		if i%12 == 0 {
			calls *= 2 // a burst of requests now and then
		}
		p95 := 20 + 10*r.next()
		if fault && (l.server == "payment" || l.client == "frontend" && l.server == "checkout") {
			p95 *= 4
		}
		e.AddEdge(EdgeWindow{Client: l.client, Server: l.server, ClientKind: l.ck, ServerKind: l.sk, ConnType: "rpc",
			Calls: calls, Errors: int64(2 * r.next()), LogErrors: int64(3 * r.next()), P50: p95 / 2, P95: p95, P99: p95 * 1.2,
			GapCalls: calls, GapP50: 1 + r.next(), GapLegs: true, GapRequestMs: 0.5 + r.next()/2, GapResponseMs: 0.5 + r.next()/2,
			WindowStart: start, WindowEnd: end})
	}
	for _, svc := range []string{"frontend", "checkout", "users", "payment", "inventory"} {
		self := 3 + r.next()
		if fault && svc == "payment" {
			self *= 5
		}
		e.AddServiceWindow(ServiceWindow{Service: svc, Spans: 100, SelfMs: self, EgressSpans: 50, EgressMs: 0.3 + r.next()/10,
			WindowStart: start, WindowEnd: end})
	}
	if fault && (i-f.faultAt)%3 == 0 {
		e.AddAnomaly(Anomaly{Service: "payment", Time: start + sec, Score: 0.8, Type: "error_burst", TemplateID: "t1",
			Template: "request <*> timed out", Line: "request 42 timed out"})
	}
	return e.Advance(end)
}

// run feeds windows [from, to) and returns the incidents emitted, as JSON for comparison.
func (f *learnFeed) run(t *testing.T, e *Engine, from, to int64) []string {
	var out []string
	for i := from; i < to; i++ {
		for _, inc := range f.feed(e, i) {
			b, err := json.Marshal(inc)
			require.NoError(t, err)
			out = append(out, string(b))
		}
	}
	return out
}

func restored(t *testing.T, e *Engine) *Engine {
	t.Helper()
	snap, err := e.MarshalBinary()
	require.NoError(t, err)
	r, err := New(e.cfg)
	require.NoError(t, err)
	require.NoError(t, r.UnmarshalBinary(snap))
	return r
}

// TestRestoredEngineJudgesLikeTheRunningOne: an engine restored from a snapshot emits, from then
// on, exactly what the engine that kept running emits (same incidents, versions, scores and
// ranking), whether it stopped before the fault or while its incident was open. An engine that
// starts without the learned state does not: the test sees what the learned state changes.
func TestRestoredEngineJudgesLikeTheRunningOne(t *testing.T) {
	const total = 150
	f := &learnFeed{faultAt: 100, faultN: 18}
	running, err := New(DefaultConfig())
	require.NoError(t, err)
	want := f.run(t, running, 0, total)
	require.NotEmpty(t, want, "the fault opens an incident")

	for _, stop := range []int64{90, 106} { // before the fault; while its incident is open
		e, err := New(DefaultConfig())
		require.NoError(t, err)
		before := f.run(t, e, 0, stop)
		after := f.run(t, restored(t, e), stop, total)
		assert.Equal(t, want, append(before, after...), "stopped and restored at window %d", stop)
	}

	// Without the learned state (a version 1 snapshot: incidents and knowledge base only) the
	// rest of the run differs.
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	before := f.run(t, e, 0, 106)
	snap, err := e.MarshalBinary()
	require.NoError(t, err)
	v1 := withoutLearned(t, snap)
	r, err := New(DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, r.UnmarshalBinary(v1))
	assert.NotEqual(t, want, append(before, f.run(t, r, 106, total)...))
}

// withoutLearned rewrites a snapshot as version 1 (no learned state).
func withoutLearned(t *testing.T, snap []byte) []byte {
	t.Helper()
	payload, err := unframe(snap, engineMagic, engineVersion, "engine")
	require.NoError(t, err)
	var st engineState
	require.NoError(t, json.Unmarshal(payload, &st))
	st.Learned = nil
	b, err := json.Marshal(&st)
	require.NoError(t, err)
	return frame(engineMagic, engineVersionV1, b)
}

// TestLearnedStateRejectsInvalidHistories: a snapshot whose learned state is out of range is
// rejected as a whole and changes nothing.
func TestLearnedStateRejectsInvalidHistories(t *testing.T) {
	f := &learnFeed{faultAt: 1 << 40}
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	f.run(t, e, 0, 30)
	for name, mut := range map[string]func(*learnedSnap){
		"negative count":     func(s *learnedSnap) { s.Edges[0].Base.RecentN = -1 },
		"history too long":   func(s *learnedSnap) { s.Own[0].Self.Vals = make([]float64, ownHistory+1) },
		"ring index outside": func(s *learnedSnap) { s.Gaps[0].S.Next = ownHistory },
		"edge without names": func(s *learnedSnap) { s.Edges[0].Client = "" },
	} {
		t.Run(name, func(t *testing.T) {
			data, err := e.encodeLearned()
			require.NoError(t, err)
			st := decodeGob(t, data)
			mut(st)
			fresh, err := New(DefaultConfig())
			require.NoError(t, err)
			_, err = fresh.decodeLearned(encodeGob(t, st))
			require.Error(t, err)
		})
	}
}

// TestLearnedStateKeepsTheBounds: a snapshot with more edges (and gap histories) than max_edges
// and more services than max_services keeps what the bounds allow and counts the rest.
func TestLearnedStateKeepsTheBounds(t *testing.T) {
	f := &learnFeed{faultAt: 1 << 40}
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	f.run(t, e, 0, 5)
	snap, err := e.MarshalBinary()
	require.NoError(t, err)
	gaps := len(e.gaps)
	require.Greater(t, gaps, 2)
	require.Len(t, e.own, 5)
	cfg := DefaultConfig()
	cfg.MaxEdges = 2
	cfg.MaxServices = 3
	small, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, small.UnmarshalBinary(snap))
	assert.Len(t, small.g.edges, 2)
	assert.Len(t, small.gaps, 2)
	assert.Len(t, small.own, 3)
	assert.Equal(t, uint64(len(shop)-2+gaps-2), small.Stats().DroppedEdgesFull, "edges and gap histories")
	assert.Equal(t, uint64(5-3), small.Stats().DroppedServicesFull)
}

func decodeGob(t *testing.T, data []byte) *learnedSnap {
	t.Helper()
	var st learnedSnap
	require.NoError(t, gob.NewDecoder(bytes.NewReader(data)).Decode(&st))
	return &st
}

func encodeGob(t *testing.T, st *learnedSnap) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, gob.NewEncoder(&buf).Encode(st))
	return buf.Bytes()
}

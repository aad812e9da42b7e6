// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"bytes"
	"cmp"
	"encoding/gob"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// The engine's learned state: what it knows of normal behaviour, kept in engine snapshots
// (version 2) beside the open incidents, so that a restarted engine judges the next windows as
// the running one would have, instead of warming up again (a warm-up changes scores and the
// ranking's order, and every such change is a new incident version). It holds the graph with
// every edge's baseline (error rate, latency history, burst memory, low-volume judge), the
// services' own-time histories, the call gaps' histories, the entry load, and the
// service and gap windows still waiting for the watermark. Gob, because the histories hold
// values JSON cannot (infinities); the snapshot's frame carries the checksum.

type learnedSnap struct {
	Edges   []edgeSnap
	Nodes   []nodeSnap
	Own     []ownSnap
	Gaps    []gapSnap
	Load    seriesSnap
	Entry   []entrySnap
	SvcWins []ServiceWindow
	GapWins []gapObsSnap
}

type edgeSnap struct {
	Client, Server, Conn string
	LastSeen             int64
	Base                 baselineSnap
	LastCalls, Win       int64
	Stopped              bool
}

type baselineSnap struct {
	N                          int
	ErrRate, ErrDev, P95, P95D float64
	LatN                       int
	LogErr, LogErrDv           float64
	Low                        lowVolumeSnap
	Recent                     [latHistory]float64
	RecentN, LatRun            int
	LatStart                   int64
	RunVals                    [8]float64
	LatRunEnded                int
	Calls                      [latHistory]float64
	CallsN                     int
	Bursts                     [8]float64
	BurstsN                    int
}

// lowVolumeSnap mirrors lowVolume for gob (exported fields).
type lowVolumeSnap struct {
	N                 int
	ErrRate           float64
	LatN              int
	LogLat, LogLatDev float64
	LatRun, ErrRun    int
	LastEnd           int64
}

type nodeSnap struct {
	Name, Kind string
	Ends       [8]int64
	EndsN      int
}

type seriesSnap struct {
	Vals     []float64
	Next     int
	Run      int
	Strong   int
	RunMax   float64
	RunStart int64
}

type ownSnap struct {
	Service string
	Self    seriesSnap
	Last    int64
}

type gapSnap struct {
	Client, Server  string
	S, Req, Resp    seriesSnap
	Last            int64
	Med, Val        float64
	LegsNow         bool
	ReqNow, RespNow float64
}

type gapObsSnap struct {
	Client, Server string
	Calls          int64
	P50            float64
	Legs           bool
	Req, Resp      float64
	Start, End     int64
}

type entrySnap struct{ End, Calls int64 }

func snapSeries(s *ownSeries) seriesSnap {
	return seriesSnap{Vals: slices.Clone(s.vals), Next: s.next, Run: s.run, Strong: s.strong, RunMax: s.runMax, RunStart: s.runStart}
}

func (s *seriesSnap) series() (ownSeries, error) {
	if len(s.Vals) > ownHistory || s.Next < 0 || s.Next >= ownHistory || (len(s.Vals) < ownHistory && s.Next != 0) || s.Run < 0 || s.Strong < 0 || s.Strong > s.Run {
		return ownSeries{}, errors.New("rca: invalid history in engine snapshot")
	}
	return ownSeries{vals: slices.Clone(s.Vals), next: s.Next, run: s.Run, strong: s.Strong, runMax: s.RunMax, runStart: s.RunStart}, nil
}

// encodeLearned writes the learned state (maps in sorted order, so equal states encode equally).
func (e *Engine) encodeLearned() ([]byte, error) {
	var st learnedSnap
	keys := slices.SortedFunc(maps.Keys(e.g.edges), func(a, b edgeKey) int {
		return cmp.Or(cmp.Compare(a.client, b.client), cmp.Compare(a.server, b.server), cmp.Compare(a.conn, b.conn))
	})
	for _, k := range keys {
		ed := e.g.edges[k]
		b := &ed.base
		st.Edges = append(st.Edges, edgeSnap{Client: k.client, Server: k.server, Conn: k.conn, LastSeen: ed.lastSeen,
			LastCalls: ed.lastCalls, Win: ed.win, Stopped: ed.stopped, Base: baselineSnap{
				N: b.n, ErrRate: b.errRate, ErrDev: b.errDev, P95: b.p95, P95D: b.p95Dev, LatN: b.latN,
				LogErr: b.logErr, LogErrDv: b.logErrDv, Low: lowVolumeSnap{N: b.low.n, ErrRate: b.low.errRate,
					LatN: b.low.latN, LogLat: b.low.logLat, LogLatDev: b.low.logLatDev, LatRun: b.low.latRun,
					ErrRun: b.low.errRun, LastEnd: b.low.lastEnd},
				Recent: b.recent, RecentN: b.recentN, LatRun: b.latRun, LatStart: b.latStart, RunVals: b.runVals,
				LatRunEnded: b.latRunEnded, Calls: b.calls, CallsN: b.callsN, Bursts: b.bursts, BurstsN: b.burstsN}})
	}
	for _, name := range slices.Sorted(maps.Keys(e.g.nodes)) {
		n := e.g.nodes[name]
		st.Nodes = append(st.Nodes, nodeSnap{Name: name, Kind: n.kind, Ends: n.ends, EndsN: n.endsN})
	}
	for _, svc := range slices.Sorted(maps.Keys(e.own)) {
		o := e.own[svc]
		st.Own = append(st.Own, ownSnap{Service: svc, Self: snapSeries(&o.self), Last: o.last})
	}
	gks := slices.SortedFunc(maps.Keys(e.gaps), func(a, b gapKey) int {
		return cmp.Or(cmp.Compare(a.client, b.client), cmp.Compare(a.server, b.server))
	})
	for _, k := range gks {
		g := e.gaps[k]
		st.Gaps = append(st.Gaps, gapSnap{Client: k.client, Server: k.server, S: snapSeries(&g.s), Req: snapSeries(&g.req),
			Resp: snapSeries(&g.resp), Last: g.last, Med: g.med, Val: g.val, LegsNow: g.legsNow, ReqNow: g.reqNow, RespNow: g.respNow})
	}
	st.Load = snapSeries(&e.load)
	for _, end := range slices.Sorted(maps.Keys(e.entry)) {
		st.Entry = append(st.Entry, entrySnap{End: end, Calls: e.entry[end]})
	}
	st.SvcWins = slices.Clone(e.svcWins)
	for _, w := range e.gapWins {
		st.GapWins = append(st.GapWins, gapObsSnap{Client: w.client, Server: w.server, Calls: w.calls, P50: w.p50,
			Legs: w.legs, Req: w.req, Resp: w.resp, Start: w.start, End: w.end})
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
		return nil, fmt.Errorf("rca: encoding learned state: %w", err)
	}
	return buf.Bytes(), nil
}

// learned is a decoded, validated learned state, ready to replace the engine's.
type learned struct {
	g               *depGraph
	own             map[string]*ownState
	gaps            map[gapKey]*gapState
	load            ownSeries
	entry           map[int64]int64
	svcWins         []ServiceWindow
	gapWins         []gapObs
	droppedEdges    uint64 // edges and gap histories beyond max_edges
	droppedServices uint64 // own-time histories beyond max_services
}

// decodeLearned decodes and checks a learned state within the engine's bounds; nothing of the
// engine changes.
func (e *Engine) decodeLearned(data []byte) (*learned, error) {
	var st learnedSnap
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return nil, fmt.Errorf("rca: decoding learned state: %w", err)
	}
	bad := func(what string) error { return fmt.Errorf("rca: invalid %s in engine snapshot", what) }
	l := &learned{g: newDepGraph(), own: map[string]*ownState{}, gaps: map[gapKey]*gapState{}, entry: map[int64]int64{}}
	for _, n := range st.Nodes {
		if n.EndsN < 0 {
			return nil, bad("node")
		}
		nd := l.g.node(n.Name)
		nd.kind, nd.ends, nd.endsN = n.Kind, n.Ends, n.EndsN
	}
	for i := range st.Edges {
		w := &st.Edges[i]
		b := &w.Base
		if b.N < 0 || b.LatN < 0 || b.RecentN < 0 || b.LatRun < 0 || b.LatRunEnded < 0 || b.CallsN < 0 || b.BurstsN < 0 ||
			b.Low.N < 0 || b.Low.LatN < 0 || b.Low.LatRun < 0 || b.Low.ErrRun < 0 || w.Client == "" || w.Server == "" {
			return nil, bad("edge")
		}
		k := edgeKey{w.Client, w.Server, w.Conn}
		if _, dup := l.g.edges[k]; dup {
			return nil, bad("edge (twice)")
		}
		if len(l.g.edges) >= e.cfg.MaxEdges {
			l.droppedEdges++
			continue
		}
		l.g.edges[k] = &edge{key: k, lastSeen: w.LastSeen, lastCalls: w.LastCalls, win: w.Win, stopped: w.Stopped,
			base: baseline{n: b.N, errRate: b.ErrRate, errDev: b.ErrDev, p95: b.P95, p95Dev: b.P95D, latN: b.LatN,
				logErr: b.LogErr, logErrDv: b.LogErrDv, low: lowVolume{n: b.Low.N, errRate: b.Low.ErrRate,
					latN: b.Low.LatN, logLat: b.Low.LogLat, logLatDev: b.Low.LogLatDev, latRun: b.Low.LatRun,
					errRun: b.Low.ErrRun, lastEnd: b.Low.LastEnd},
				recent: b.Recent, recentN: b.RecentN, latRun: b.LatRun, latStart: b.LatStart, runVals: b.RunVals,
				latRunEnded: b.LatRunEnded, calls: b.Calls, callsN: b.CallsN, bursts: b.Bursts, burstsN: b.BurstsN}}
		l.g.node(k.client).out[k.server]++
		l.g.node(k.server).in[k.client]++
	}
	// Nodes are kept only with an edge, as expire leaves them.
	for name, nd := range l.g.nodes {
		if len(nd.in) == 0 && len(nd.out) == 0 {
			delete(l.g.nodes, name)
		}
	}
	for i := range st.Own {
		o := &st.Own[i]
		s, err := o.Self.series()
		if err != nil {
			return nil, err
		}
		if len(l.own) >= e.cfg.MaxServices {
			l.droppedServices++
			continue
		}
		l.own[o.Service] = &ownState{self: s, last: o.Last}
	}
	for i := range st.Gaps {
		g := &st.Gaps[i]
		s, err1 := g.S.series()
		req, err2 := g.Req.series()
		resp, err3 := g.Resp.series()
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, err
		}
		if len(l.gaps) >= e.cfg.MaxEdges {
			l.droppedEdges++
			continue
		}
		l.gaps[gapKey{g.Client, g.Server}] = &gapState{s: s, req: req, resp: resp, last: g.Last, med: g.Med, val: g.Val,
			legsNow: g.LegsNow, reqNow: g.ReqNow, respNow: g.RespNow}
	}
	var err error
	if l.load, err = st.Load.series(); err != nil {
		return nil, err
	}
	// The same bounds as AddServiceWindow, addGap and AddEdge's entry counts.
	if len(st.Entry) > maxEntryWindows || len(st.SvcWins) > e.cfg.MaxServices*4 || len(st.GapWins) > e.cfg.MaxEdges*4 {
		return nil, bad("pending windows (too many)")
	}
	for _, p := range st.Entry {
		l.entry[p.End] = p.Calls
	}
	for _, w := range st.SvcWins {
		if w.Service == "" || w.WindowEnd <= 0 || w.WindowStart > w.WindowEnd || w.Spans < 0 || w.EgressSpans < 0 ||
			!finite(w.SelfMs, w.EgressMs) {
			return nil, bad("service window")
		}
	}
	l.svcWins = slices.Clone(st.SvcWins)
	for _, w := range st.GapWins {
		l.gapWins = append(l.gapWins, gapObs{client: w.Client, server: w.Server, calls: w.Calls, p50: w.P50, legs: w.Legs,
			req: w.Req, resp: w.Resp, start: w.Start, end: w.End})
	}
	return l, nil
}

// apply replaces the engine's learned state.
func (e *Engine) apply(l *learned) {
	e.g, e.own, e.gaps, e.load, e.entry = l.g, l.own, l.gaps, l.load, l.entry
	e.svcWins, e.gapWins = l.svcWins, l.gapWins
	e.stats.DroppedEdgesFull += l.droppedEdges
	e.stats.DroppedServicesFull += l.droppedServices
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

const sec = int64(time.Second)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).UnixNano()

type link struct {
	client, server, ck, sk string
}

// shop is frontend -> checkout -> payment -> orders-db, checkout -> inventory, frontend -> users.
var shop = []link{
	{"user", "frontend", "user", "service"},
	{"frontend", "checkout", "service", "service"},
	{"frontend", "users", "service", "service"},
	{"checkout", "payment", "service", "service"},
	{"checkout", "inventory", "service", "service"},
	{"payment", "orders-db", "service", "database"},
}

// edgeFault overrides one edge's window values from a time on.
type edgeFault struct {
	from    int64
	errRate float64
	p95     float64
	// logErrs: error records linked to the edge's spans per call (spans without status)
	logErrs float64
	// calls multiplies the edge's calls (a burst of requests)
	calls      float64
	serverName string
	clientName string
}

type sim struct {
	t    testing.TB
	e    *Engine
	out  []incident.Incident
	win  int64
	rand uint64
}

func newSim(tb testing.TB, mut func(*Config)) *sim {
	tb.Helper()
	cfg := DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	e, err := New(cfg)
	require.NoError(tb, err)
	return &sim{t: tb, e: e, win: 10 * sec, rand: 1}
}

// jitter is a tiny deterministic PRNG in [0,1).
func (s *sim) jitter() float64 {
	s.rand = s.rand*6364136223846793005 + 1442695040888963407
	return float64(s.rand>>11) / float64(1<<53)
}

// window feeds one 10 s window of every link starting at start, with faults applied.
func (s *sim) window(links []link, start int64, faults []edgeFault) {
	for _, l := range links {
		calls := int64(100)
		errs := int64(s.jitter() * 2)
		logErrs := int64(s.jitter() * 4) // every service logs a few errors
		p95 := 20 + 10*s.jitter()
		for _, f := range faults {
			if f.clientName == l.client && f.serverName == l.server && start >= f.from {
				if f.errRate > 0 {
					errs = int64(f.errRate * float64(calls))
				}
				if f.logErrs > 0 {
					errs, logErrs = 0, int64(f.logErrs*float64(calls))
				}
				if f.p95 > 0 {
					p95 = f.p95
				}
				if f.calls > 0 {
					calls = int64(f.calls * float64(calls))
				}
			}
		}
		s.e.AddEdge(EdgeWindow{Client: l.client, Server: l.server, ClientKind: l.ck, ServerKind: l.sk,
			ConnType: "rpc", Calls: calls, Errors: errs, LogErrors: logErrs, P50: p95 / 2, P95: p95, P99: p95 * 1.2,
			WindowStart: start, WindowEnd: start + s.win})
	}
}

func (s *sim) anom(svc string, t int64, score float64, typ, tid, tpl string) {
	s.e.AddAnomaly(Anomaly{Service: svc, Time: t, Score: score, Type: typ, TemplateID: tid, Template: tpl,
		Line: tpl + " (line)"})
}

func (s *sim) advance(now int64) []incident.Incident {
	got := s.e.Advance(now)
	s.out = append(s.out, got...)
	return got
}

// warm feeds normal windows for [from, to).
func (s *sim) warm(links []link, from, to int64) {
	for w := from; w < to; w += s.win {
		s.window(links, w, nil)
		s.advance(w + s.win)
	}
}

// final returns the latest version of each incident id.
func (s *sim) final() map[string]incident.Incident {
	m := map[string]incident.Incident{}
	for _, in := range s.out {
		if old, ok := m[in.ID]; !ok || in.Version > old.Version {
			m[in.ID] = in
		}
	}
	return m
}

// event is an anomaly at an offset from the fault start, repeated every period until the end.
type event struct {
	svc, typ, tid, tpl string
	score              float64
	at, every          int64
}

// runFault feeds normal traffic for 2 min, then the fault for dur with the given edge faults and
// recurring anomalies, then quiet traffic until resolution.
func (s *sim) runFault(links []link, base int64, dur int64, faults []edgeFault, events []event) {
	s.warm(links, base, base+120*sec)
	fs := base + 120*sec
	for i := range faults {
		faults[i].from += fs
	}
	for w := fs; w < fs+dur; w += s.win {
		for _, ev := range events {
			for t := fs + ev.at; t < fs+dur; t += ev.every {
				if t >= w && t < w+s.win {
					s.anom(ev.svc, t, ev.score, ev.typ, ev.tid, ev.tpl)
				}
			}
		}
		s.window(links, w, faults)
		s.advance(w + s.win)
	}
	// recovery
	s.warm(links, fs+dur, fs+dur+7*60*sec)
}

func nan() float64 {
	z := 0.0
	return z / z
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// burstRun feeds 15 s windows of the entry edge [user] -> web: 20 ms p95, with a 2-window burst
// of 20x every 12 windows (a load generator), and from window `from` a lasting change to
// `faultP95`.
func burstRun(t *testing.T, from int, faultP95 float64) []incident.Incident {
	t.Helper()
	s := newSim(t, nil)
	const win = 15 * sec
	var out []incident.Incident
	for i := range 160 {
		ws := t0 + int64(i)*win
		p95 := 20.0 + float64(i%3)
		if i%12 < 2 {
			p95 = 400
		}
		if i >= from {
			p95 = faultP95
		}
		s.e.AddEdge(EdgeWindow{Client: "user", Server: "web", ClientKind: "user", ServerKind: "service", ConnType: "http",
			Calls: 200, P50: p95 / 2, P95: p95, P99: p95 * 1.3, WindowStart: ws, WindowEnd: ws + win})
		out = append(out, s.e.Advance(ws+win)...)
	}
	return out
}

func TestPeriodicBurstsAreUsual(t *testing.T) {
	out := burstRun(t, 1000, 0)
	for _, inc := range out {
		assert.Less(t, inc.StartedAt.UnixNano(), t0+40*15*sec, "after ten minutes of history, bursts are usual: %s", inc.Title)
	}
	changed := burstRun(t, 120, 2000)
	var late []incident.Incident
	for _, inc := range changed {
		if inc.StartedAt.UnixNano() >= t0+120*15*sec {
			late = append(late, inc)
		}
	}
	if assert.NotEmpty(t, late, "a lasting change beyond the bursts opens an incident") {
		assert.Equal(t, t0+120*15*sec, late[0].StartedAt.UnixNano(), "dated at its first window")
	}
}

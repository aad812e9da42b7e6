// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// stopRun plays shop for 40 windows of 10 s; from window 30 on, checkout's calls to payment stop
// (no window at all, as when kind-less calls fail before reaching the callee). callerFails adds
// checkout's error burst from then on, callerQuiet stops every call in or out of checkout too.
// The engine advances every `every` windows. It returns the final incidents and the services
// charged with stopped calls.
func stopRun(t *testing.T, callerFails, callerQuiet bool, every int64) ([]incident.Incident, []string) {
	t.Helper()
	s := newSim(t, nil)
	charged := watchStops(s)
	const stopAt = 30
	for i := range int64(40) {
		ws := t0 + i*s.win
		var links []link
		for _, l := range shop {
			switch {
			case i >= stopAt && l.client == "checkout" && l.server == "payment":
			case i >= stopAt && callerQuiet && (l.client == "checkout" || l.server == "checkout"):
			default:
				links = append(links, l)
			}
		}
		s.window(links, ws, nil)
		if i >= stopAt && callerFails {
			s.anom("checkout", ws+sec, 0.9, contract.TypeErrorBurst, "c9", "dial tcp <*>: connect: connection refused")
			s.anom("frontend", ws+2*sec, 0.9, contract.TypeErrorBurst, "f9", "call to checkout failed: status=<*>")
		}
		if (i+1)%every == 0 {
			s.advance(ws + s.win)
		}
	}
	s.advance(t0 + 40*s.win)
	s.advance(t0 + 60*s.win)
	var out []incident.Incident
	for _, inc := range s.final() {
		out = append(out, inc)
	}
	return out, *charged
}

// TestStoppedCallsNameTheCallee: checkout's calls to payment stop while checkout keeps serving
// frontend and fails (connection refused): payment, which shows nothing of its own, is the
// root cause. The answer is the same however often the engine is advanced.
func TestStoppedCallsNameTheCallee(t *testing.T) {
	for _, every := range []int64{1, 3, 4} {
		t.Run(fmt.Sprint("advance every ", every), func(t *testing.T) {
			out, charged := stopRun(t, true, false, every)
			require.Len(t, out, 1)
			assert.Equal(t, "payment", out[0].RootCauseService)
			assert.Contains(t, fmt.Sprint(out[0].Candidates[0].Reasons), "calls from checkout stopped")
			assert.Equal(t, []string{"payment"}, charged, "one stopped edge, raised once")
		})
	}
}

// TestStoppedCallsNeedAFailingBusyCaller: calls that stop while the caller fails nothing (held
// up elsewhere, rerouted), or while the caller goes quiet too (no traffic), or on an edge too
// quiet to tell, are no evidence.
func TestStoppedCallsNeedAFailingBusyCaller(t *testing.T) {
	_, charged := stopRun(t, false, false, 1)
	assert.Empty(t, charged, "a caller that does not fail")
	_, charged = stopRun(t, true, true, 1)
	assert.NotContains(t, charged, "payment", "a caller that went quiet too")
	assert.Contains(t, charged, "checkout", "(it is the callee whose calls from frontend stopped)")

	// Cut off from its caller: frontend's calls to checkout fail, checkout (which logs nothing
	// about it) stops calling payment. The errors on the calls checkout serves do not make it
	// the failing caller of a lost payment.
	cut := newSim(t, nil)
	cutCharged := watchStops(cut)
	for i := range int64(40) {
		ws := t0 + i*cut.win
		var links []link
		for _, l := range shop {
			if i < 30 || l.client != "checkout" {
				links = append(links, l)
			}
		}
		cut.window(links, ws, []edgeFault{{clientName: "frontend", serverName: "checkout", errRate: 1, from: t0 + 30*cut.win}})
		cut.advance(ws + cut.win)
	}
	assert.Empty(t, *cutCharged, "a caller cut off from its own callers")

	quiet := newSim(t, nil)
	for i := range int64(40) {
		ws := t0 + i*quiet.win
		for _, l := range shop {
			calls := int64(100)
			if l.client == "checkout" && l.server == "payment" {
				if i >= 30 {
					continue
				}
				calls = 4 // fewer than 10 calls a window: a pause is chance
			}
			quiet.e.AddEdge(EdgeWindow{Client: l.client, Server: l.server, ClientKind: l.ck, ServerKind: l.sk,
				ConnType: "rpc", Calls: calls, P50: 10, P95: 20, P99: 25, WindowStart: ws, WindowEnd: ws + quiet.win})
		}
		if i >= 30 {
			quiet.anom("checkout", ws+sec, 0.9, contract.TypeErrorBurst, "c9", "connection refused")
		}
		quiet.advance(ws + quiet.win)
	}
	st := quiet.e.Stats()
	assert.Zero(t, st.EdgeAnomalies, "a quiet edge")
}

// TestAnIncidentKeepsItsEdges: an edge between two services of an open incident stays in the
// graph past the edge TTL (its calls stopped long ago, the incident is still ranked over it),
// and goes once the incident is resolved.
func TestAnIncidentKeepsItsEdges(t *testing.T) {
	s := newSim(t, func(c *Config) { c.EdgeTTL = time.Minute })
	k := edgeKey{"checkout", "payment", "rpc"}
	var gone int64
	for i := range int64(90) {
		ws := t0 + i*s.win
		var links []link
		for _, l := range shop {
			if i < 20 || l.client != "checkout" || l.server != "payment" {
				links = append(links, l)
			}
		}
		s.window(links, ws, nil)
		if i >= 20 && i < 40 {
			s.anom("checkout", ws+sec, 0.9, contract.TypeErrorBurst, "c9", "connect: connection refused")
			s.anom("payment", ws+sec, 0.9, contract.TypeErrorBurst, "p9", "listener closed")
		}
		s.advance(ws + s.win)
		if i == 38 {
			require.Equal(t, 1, s.e.OpenIncidents())
			assert.NotNil(t, s.e.g.edges[k], "18 windows (3 min) after its last call, the open incident keeps it")
		}
		if gone == 0 && s.e.g.edges[k] == nil {
			gone = i
		}
	}
	assert.Zero(t, s.e.OpenIncidents())
	assert.Positive(t, gone, "expired once the incident resolved")
}

// lostCallsRun plays shop for 40 windows; from window 30 on, checkout's calls to the callees in
// lost stop and checkout logs n lines a window of template tpl at log severity sev, as rare
// templates (a new error line is rare before it is a burst), and faults change edges. It
// returns the services charged with stopped calls.
func lostCallsRun(t *testing.T, lost []string, n int, sev int32, tpl string, faults ...edgeFault) []string {
	t.Helper()
	s := newSim(t, nil)
	charged := watchStops(s)
	for i := range int64(40) {
		ws := t0 + i*s.win
		var links []link
		for _, l := range shop {
			if i < 30 || l.client != "checkout" || !slices.Contains(lost, l.server) {
				links = append(links, l)
			}
		}
		s.window(links, ws, faults)
		for j := range int64(n) {
			if i >= 30 {
				s.e.AddAnomaly(Anomaly{Service: "checkout", Time: ws + sec + j*1e6, Score: 0.6, Type: contract.TypeRareTemplate,
					TemplateID: "c7", Template: tpl, Line: tpl, LogSeverity: sev})
			}
		}
		s.advance(ws + s.win)
	}
	slices.Sort(*charged)
	return *charged
}

// TestStoppedCallsTurnedIntoErrorLines: the caller's failed calls need not make an error
// burst; error lines as many as half the calls of a window (here rare templates) say the calls
// fail. A few error lines, or many lines below error level, do not.
func TestStoppedCallsTurnedIntoErrorLines(t *testing.T) {
	const refused = "dial tcp <*>: connect: connection refused"
	assert.Equal(t, []string{"payment"}, lostCallsRun(t, []string{"payment"}, 60, 17, refused))
	assert.Empty(t, lostCallsRun(t, []string{"payment"}, 5, 17, refused), "a few error lines")
	assert.Empty(t, lostCallsRun(t, []string{"payment"}, 60, 13, refused), "warnings")
	// Error lines that were not judged anomalous (a service still warming up) but that the
	// connector linked to the spans checkout serves: its own calls fail.
	linked := edgeFault{clientName: "frontend", serverName: "checkout", logErrs: 1, from: t0 + 30*10*sec}
	assert.Equal(t, []string{"payment"}, lostCallsRun(t, []string{"payment"}, 0, 17, "", linked))
}

// TestStoppedCallsBehindAFailingCall: checkout's requests fail at payment (its error lines name
// it) and so never reach inventory: both edges stop, only payment is charged. When the lines
// name no callee, both are.
func TestStoppedCallsBehindAFailingCall(t *testing.T) {
	both := []string{"payment", "inventory"}
	assert.Equal(t, []string{"payment"},
		lostCallsRun(t, both, 60, 17, "dial tcp payment:8080: connect: connection refused"))
	assert.Equal(t, []string{"inventory"},
		lostCallsRun(t, both, 60, 17, "call to inventory failed: status=<*>"))
	assert.Equal(t, []string{"inventory", "payment"},
		lostCallsRun(t, both, 60, 17, "dial tcp <*>: connect: connection refused"))
	assert.Equal(t, []string{"inventory", "payment"},
		lostCallsRun(t, both, 60, 17, "calls to inventory and payment failed"), "both named")
	// The requests fail at inventory, which still gets its calls (and answers them with
	// errors): payment, called after it, is no suspect.
	assert.Empty(t, lostCallsRun(t, []string{"payment"}, 60, 17, "call to inventory failed: status=<*>"))
}

// watchStops returns the services that s's engine charges with stopped calls, as it charges them.
func watchStops(s *sim) *[]string {
	var charged []string
	s.e.ObserveEdgeAnomalies(func(a Anomaly, _ string) {
		if a.Type == contract.TypeEdgeStopped {
			charged = append(charged, a.Service)
		}
	})
	return &charged
}

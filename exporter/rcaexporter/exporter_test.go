// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type edgeRec struct {
	client, server, serverKind, conn string
	calls, errors                    int64
	p95                              float64
}

// addEdges appends one logs2graph.edge record per edge for the window [start, start+15s).
func addEdges(ld plog.Logs, start time.Time, edges []edgeRec) {
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, e := range edges {
		lr := lrs.AppendEmpty()
		lr.SetEventName("logs2graph.edge")
		a := lr.Attributes()
		a.PutStr("event.name", "logs2graph.edge")
		a.PutStr("graph.client", e.client)
		a.PutStr("graph.server", e.server)
		a.PutStr("graph.client.kind", "service")
		a.PutStr("graph.server.kind", e.serverKind)
		a.PutStr("graph.connection_type", e.conn)
		a.PutInt("graph.calls", e.calls)
		a.PutInt("graph.errors", e.errors)
		a.PutInt("graph.log_errors", 0)
		a.PutDouble("graph.latency.p50_ms", e.p95/2)
		a.PutDouble("graph.latency.p95_ms", e.p95)
		a.PutDouble("graph.latency.p99_ms", e.p95*1.2)
		a.PutInt("graph.window.start", start.UnixNano())
		a.PutInt("graph.window.end", start.Add(15*time.Second).UnixNano())
		lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(15 * time.Second)))
	}
}

// addAnomaly appends one annotated record as the llm_anomaly processor writes it.
func addAnomaly(ld plog.Logs, service string, at time.Time, score float64, typ, tplID, tpl, body string) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.Body().SetStr(body)
	a := lr.Attributes()
	a.PutStr("log.record.template", tpl)
	a.PutStr("log.record.template.id", tplID)
	a.PutBool("anomaly.detected", true)
	a.PutDouble("anomaly.score", score)
	a.PutStr("anomaly.severity", "High")
	a.PutStr("anomaly.type", typ)
	a.PutStr("anomaly.reason", "test")
	a.PutStr("anomaly.source", "statistical")
}

func shopEdges(dbErrors, payErrors int64) []edgeRec {
	return []edgeRec{
		{client: "frontend", server: "checkout", serverKind: "service", conn: "http", calls: 100, errors: payErrors / 2, p95: 120},
		{client: "checkout", server: "payment", serverKind: "service", conn: "rpc", calls: 100, errors: payErrors, p95: 60},
		{client: "payment", server: "orders-db", serverKind: "database", conn: "database", calls: 100, errors: dbErrors, p95: 8},
	}
}

type webhookServer struct {
	mu   sync.Mutex
	got  []incident.Incident
	srv  *httptest.Server
	fail int // answer 503 to this many requests first
}

func newWebhookServer(t *testing.T) *webhookServer {
	t.Helper()
	w := &webhookServer{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.fail > 0 {
			w.fail--
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var inc incident.Incident
		assert.NoError(t, json.Unmarshal(body, &inc))
		w.got = append(w.got, inc)
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookServer) incidents() []incident.Incident {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]incident.Incident(nil), w.got...)
}

func testConfig(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	wh := sink.NewDefaultWebhookConfig()
	wh.ClientConfig.Endpoint = endpoint
	cfg.Sinks.Webhook = configoptional.Some(wh)
	cfg.QueueConfig = configoptional.None[exporterhelperQueue]()
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
	cfg.IdleAdvance = 0
	return cfg
}

func TestDatabaseFaultIncidentIsForwarded(t *testing.T) {
	wh := newWebhookServer(t)
	wh.fail = 1 // the first delivery is retried
	cfg := testConfig(wh.srv.URL)
	e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg, clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))

	// Two minutes of healthy windows, then the database fails and the callers log errors.
	w := t0
	for ; w.Before(t0.Add(2 * time.Minute)); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
	faultEnd := w.Add(90 * time.Second)
	for ; w.Before(faultEnd); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		for s := 2 * time.Second; s < 15*time.Second; s += 3 * time.Second {
			addAnomaly(ld, "payment", w.Add(s), 0.8, "error_burst", "p1", "db query failed: connection refused <*>", "db query failed: connection refused 10.0.0.7:5432")
			addAnomaly(ld, "checkout", w.Add(s+2*time.Second), 0.75, "error_burst", "c1", "payment call failed status <*>", "payment call failed status 503")
		}
		addEdges(ld, w, shopEdges(60, 40))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
	for ; w.Before(faultEnd.Add(8 * time.Minute)); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
	require.NoError(t, e.Shutdown(context.Background()))

	got := wh.incidents()
	require.NotEmpty(t, got, "the incident reached the webhook")
	ids := map[string]bool{}
	for _, inc := range got {
		ids[inc.ID] = true
	}
	assert.Len(t, ids, 1, "one incident for one problem")
	first, last := got[0], got[len(got)-1]
	assert.Equal(t, 1, first.Version)
	assert.Equal(t, incident.StatusOpen, first.Status)
	assert.Equal(t, incident.StatusResolved, last.Status)
	assert.Equal(t, "orders-db", last.RootCauseService)
	assert.Equal(t, []string{"orders-db", "payment", "checkout"}, last.PropagationPath, "to the most upstream affected service")
	assert.NotEmpty(t, last.Evidence)
	assert.Positive(t, last.Confidence)
}

func TestNormalAndForeignRecordsAreIgnored(t *testing.T) {
	wh := newWebhookServer(t)
	e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), testConfig(wh.srv.URL), clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Body().SetStr("plain record")
	n := lrs.AppendEmpty()
	n.Attributes().PutBool("anomaly.detected", false)
	bad := lrs.AppendEmpty() // anomalous but no service and no time: counted, skipped
	bad.Attributes().PutBool("anomaly.detected", true)
	edge := lrs.AppendEmpty() // edge without names: counted, skipped
	edge.SetEventName("logs2graph.edge")
	var in batchInput
	in.read(ld, eventtime.New(eventtime.DefaultConfig()), t0.UnixNano())
	assert.Empty(t, in.evidence)
	assert.Equal(t, 2, in.bad)
	require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	require.NoError(t, e.Shutdown(context.Background()))
	assert.Empty(t, wh.incidents())
}

func TestShutdownWithoutStart(t *testing.T) {
	e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), testConfig("http://127.0.0.1:1"), nil)
	require.NoError(t, err)
	require.NoError(t, e.Shutdown(context.Background()))
	require.NoError(t, e.Shutdown(context.Background()))
}

func TestEdgeRecordCarriesCallGaps(t *testing.T) {
	ld := plog.NewLogs()
	addEdges(ld, t0, []edgeRec{{client: "checkout", server: "payment", serverKind: "service", conn: "inferred", calls: 12, p95: 40}})
	attrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	w, ok := edgeWindow(attrs)
	require.True(t, ok)
	assert.Zero(t, w.GapCalls, "no gap attributes: no gaps")
	attrs.PutInt("graph.gap.calls", 11)
	attrs.PutDouble("graph.gap.p50_ms", 1003.5)
	w, ok = edgeWindow(attrs)
	require.True(t, ok)
	assert.Equal(t, int64(11), w.GapCalls)
	assert.InDelta(t, 1003.5, w.GapP50, 1e-9)
}

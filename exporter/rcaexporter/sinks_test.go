// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"
)

// httpLog is an httptest server that records every request and answers 503 to the first
// `fail` ones, then handle's answer (200 and no body when handle is nil).
type httpLog struct {
	srv *httptest.Server

	mu     sync.Mutex
	paths  []string
	bodies []string
	status []int
	fail   int
	handle func(w http.ResponseWriter, r *http.Request, n int)
}

func newHTTPLog(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *httpLog {
	t.Helper()
	l := &httpLog{handle: handle}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.paths = append(l.paths, r.URL.Path)
		l.bodies = append(l.bodies, string(body))
		status := http.StatusOK
		switch {
		case l.fail > 0:
			l.fail--
			status = http.StatusServiceUnavailable
			w.WriteHeader(status)
		case l.handle != nil:
			l.handle(w, r, len(l.paths))
		default:
			w.WriteHeader(status)
		}
		l.status = append(l.status, status)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *httpLog) failNext(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail = n
}

func (l *httpLog) snapshot() (paths, bodies []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.paths...), append([]string(nil), l.bodies...)
}

// waitFor waits until n requests were received (deliveries run on the queue's goroutines).
func (l *httpLog) waitFor(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.paths) >= n
	}, 10*time.Second, 5*time.Millisecond, "waiting for request %d", n)
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Len(t, l.paths, n, "no more requests than expected")
}

// alertKeys returns incident_id/service, plus " resolved" when endsAt is set, of every alert.
func alertKeys(t *testing.T, body string) []string {
	t.Helper()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		EndsAt string            `json:"endsAt"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &alerts))
	var out []string
	for _, a := range alerts {
		k := a.Labels["incident_id"] + "/" + a.Labels["service"]
		if a.EndsAt != "" {
			k += " resolved"
		}
		out = append(out, k)
	}
	return out
}

func openIncident(id, rootCause string, version int) incident.Incident {
	return incident.Incident{
		ID: id, Version: version, Status: incident.StatusOpen, Severity: incident.SeverityHigh,
		Title: "Errors in " + rootCause, RootCauseService: rootCause, AffectedServices: []string{"checkout"},
		StartedAt: t0, UpdatedAt: t0.Add(time.Duration(version) * time.Minute), Source: "statistical",
	}
}

func resolvedVersion(inc incident.Incident, version int) incident.Incident {
	inc.Version = version
	inc.Status = incident.StatusResolved
	at := t0.Add(10 * time.Minute)
	inc.ResolvedAt = &at
	inc.UpdatedAt = at
	return inc
}

func alertmanagerConfig(endpoint string, mutate func(*sink.AlertmanagerConfig)) *Config {
	cfg := createDefaultConfig().(*Config)
	am := sink.NewDefaultAlertmanagerConfig()
	am.ClientConfig.Endpoint = endpoint
	am.MaxAlertsPerIncident = 1
	if mutate != nil {
		mutate(&am)
	}
	cfg.Sinks.Alertmanager = configoptional.Some(am)
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
	cfg.IdleAdvance = 0
	return cfg
}

func sinkPoint(sinkName, outcome string, v int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{
		Attributes: attribute.NewSet(attribute.String("sink", sinkName), attribute.String("outcome", outcome)),
		Value:      v,
	}
}

func TestAlertmanagerResendThroughQueue(t *testing.T) {
	am := newHTTPLog(t, nil)
	cfg := alertmanagerConfig(am.srv.URL, nil)
	require.True(t, cfg.QueueConfig.HasValue(), "deliveries and re-sends go through the sending queue")
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	clock := clockwork.NewFakeClockAt(t0)
	ctx := context.Background()
	e, err := newExporter(ctx, metadatatest.NewSettings(tel), cfg, clock)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, componenttest.NewNopHost()))
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilContext(waitCtx, 1), "the re-send ticker")

	e.forward(ctx, []incident.Incident{openIncident("inc-1", "db", 1)})
	am.waitFor(t, 1)

	clock.Advance(time.Minute)
	am.waitFor(t, 2)
	_, bodies := am.snapshot()
	assert.Equal(t, []string{"inc-1/db"}, alertKeys(t, bodies[1]))
	assert.JSONEq(t, bodies[0], bodies[1], "the same firing alert again")

	am.failNext(1)
	clock.Advance(time.Minute)
	am.waitFor(t, 4) // 503, then the exporterhelper retry
	_, bodies = am.snapshot()
	assert.JSONEq(t, bodies[0], bodies[3])

	e.forward(ctx, []incident.Incident{resolvedVersion(openIncident("inc-1", "db", 1), 2), openIncident("inc-2", "cache", 1)})
	am.waitFor(t, 6)
	_, bodies = am.snapshot()
	assert.Equal(t, []string{"inc-1/db resolved"}, alertKeys(t, bodies[4]), "the resolved incident sends endsAt")
	assert.Equal(t, []string{"inc-2/cache"}, alertKeys(t, bodies[5]))

	clock.Advance(time.Minute)
	am.waitFor(t, 7)
	paths, bodies := am.snapshot()
	assert.Equal(t, []string{"inc-2/cache"}, alertKeys(t, bodies[6]), "the resolved incident is no longer re-sent")
	for _, p := range paths {
		assert.Equal(t, "/api/v2/alerts", p)
	}

	require.NoError(t, e.Shutdown(ctx))
	metadatatest.AssertEqualExporterRcaSent(t, tel, []metricdata.DataPoint[int64]{
		sinkPoint("alertmanager", "sent", 3),
		sinkPoint("alertmanager", "resent", 3),
		sinkPoint("alertmanager", "resend_failed", 1),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestAlertmanagerResendBoundIsCounted(t *testing.T) {
	am := newHTTPLog(t, nil)
	cfg := alertmanagerConfig(am.srv.URL, func(c *sink.AlertmanagerConfig) { c.MaxTrackedIncidents = 1 })
	cfg.QueueConfig = configoptional.None[exporterhelperQueue]()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	clock := clockwork.NewFakeClockAt(t0)
	ctx := context.Background()
	e, err := newExporter(ctx, metadatatest.NewSettings(tel), cfg, clock)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, componenttest.NewNopHost()))
	e.forward(ctx, []incident.Incident{openIncident("inc-1", "db", 1)})
	e.forward(ctx, []incident.Incident{openIncident("inc-2", "cache", 1)})
	am.waitFor(t, 2)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilContext(waitCtx, 1))
	clock.Advance(time.Minute)
	am.waitFor(t, 3)
	_, bodies := am.snapshot()
	assert.Equal(t, []string{"inc-2/cache"}, alertKeys(t, bodies[2]), "only the most recent open incident fits")
	require.NoError(t, e.Shutdown(ctx))
	metadatatest.AssertEqualExporterRcaDropped(t, tel, []metricdata.DataPoint[int64]{{
		Attributes: attribute.NewSet(attribute.String("reason", "alertmanager_incidents_full")),
		Value:      1,
	}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// TestResendLoopLifecycle: with resend disabled nothing is tracked for re-sending; with it
// enabled, the re-send ticker runs next to the idle-advance one and both stop on Shutdown
// (goleak checks every test of the package in TestMain).
func TestResendLoopLifecycle(t *testing.T) {
	am := newHTTPLog(t, nil)
	cfg := alertmanagerConfig(am.srv.URL, func(c *sink.AlertmanagerConfig) { c.ResendInterval = 0 })
	cfg.IdleAdvance = time.Minute // its ticker is the only one
	clock := clockwork.NewFakeClockAt(t0)
	ctx := context.Background()
	e, err := newExporter(ctx, exportertestSettings(), cfg, clock)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, componenttest.NewNopHost()))
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilContext(waitCtx, 1))
	e.forward(ctx, []incident.Incident{openIncident("inc-1", "db", 1)})
	am.waitFor(t, 1)
	assert.Zero(t, e.am.OpenIncidents())
	require.NoError(t, e.Shutdown(ctx))
	// Both loops with resend enabled: two tickers.
	cfg = alertmanagerConfig(am.srv.URL, nil)
	cfg.IdleAdvance = time.Minute
	clock = clockwork.NewFakeClockAt(t0)
	e, err = newExporter(ctx, exportertestSettings(), cfg, clock)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, clock.BlockUntilContext(waitCtx, 2))
	require.NoError(t, e.Shutdown(ctx))
}

// jiraServer answers issue creation with OPS-<n> and accepts comments.
func jiraServer(t *testing.T) *httpLog {
	t.Helper()
	created := 0
	return newHTTPLog(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch {
		case r.URL.Path == "/rest/api/2/issue":
			created++
			w.WriteHeader(http.StatusCreated)
			_, _ = fmt.Fprintf(w, `{"id":"1000%d","key":"OPS-%d"}`, created, created)
		case strings.HasPrefix(r.URL.Path, "/rest/api/2/issue/OPS-") && strings.HasSuffix(r.URL.Path, "/comment"):
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"1"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
}

func jiraConfig(endpoint string, storageID *component.ID) *Config {
	cfg := createDefaultConfig().(*Config)
	j := sink.NewDefaultJiraConfig()
	j.ClientConfig.Endpoint = endpoint
	j.ProjectKey = "OPS"
	cfg.Sinks.Jira = configoptional.Some(j)
	cfg.Storage = storageID
	cfg.QueueConfig = configoptional.None[exporterhelperQueue]()
	cfg.IdleAdvance = 0
	return cfg
}

func TestJiraIssueKeysPersistAcrossRestart(t *testing.T) {
	jira := jiraServer(t)
	id := component.MustNewID("file_storage")
	mem := storagetest.NewMemStorage()
	host := storagetest.Host{id: mem}
	ctx := context.Background()
	cfg := jiraConfig(jira.srv.URL, &id)
	require.NoError(t, cfg.Validate())

	run := func(incs ...incident.Incident) {
		e, err := newExporter(ctx, exportertestSettings(), cfg, clockwork.NewFakeClockAt(t0))
		require.NoError(t, err)
		require.NoError(t, e.Start(ctx, host))
		for _, inc := range incs {
			e.forward(ctx, []incident.Incident{inc})
		}
		require.NoError(t, e.Shutdown(ctx))
	}
	inc := openIncident("inc-1", "db", 1)
	run(inc)
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"inc-1","key":"OPS-1","version":1}]}`, string(mem.Value("jira_issues")))
	run(openIncident("inc-1", "orders-db", 2), resolvedVersion(inc, 3)) // after a collector restart

	paths, bodies := jira.snapshot()
	assert.Equal(t, []string{"/rest/api/2/issue", "/rest/api/2/issue/OPS-1/comment", "/rest/api/2/issue/OPS-1/comment"}, paths,
		"updates after the restart are comments on the issue, not new issues")
	assert.Contains(t, bodies[2], "Incident resolved at")
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"inc-1","key":"OPS-1","version":3,"resolved":true}]}`, string(mem.Value("jira_issues")))
}

func TestJiraCorruptStoredKeysDoNotFailStart(t *testing.T) {
	jira := jiraServer(t)
	id := component.MustNewID("file_storage")
	mem := storagetest.NewStorageWith("jira_issues", "\x00not json")
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	ctx := context.Background()
	e, err := newExporter(ctx, metadatatest.NewSettings(tel), jiraConfig(jira.srv.URL, &id), clockwork.NewFakeClockAt(t0))
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, storagetest.Host{id: mem}))
	e.forward(ctx, []incident.Incident{openIncident("inc-1", "db", 1)})
	require.NoError(t, e.Shutdown(ctx))
	paths, _ := jira.snapshot()
	assert.Equal(t, []string{"/rest/api/2/issue"}, paths)
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"inc-1","key":"OPS-1","version":1}]}`, string(mem.Value("jira_issues")))
	metadatatest.AssertEqualExporterRcaStorageErrors(t, tel, []metricdata.DataPoint[int64]{{
		Attributes: attribute.NewSet(attribute.String("operation", "jira_load")),
		Value:      1,
	}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func exportertestSettings() exporter.Settings { return exportertest.NewNopSettings(metadata.Type) }

// An incident open when the collector stops is restored from storage on the next start: its
// alerts keep being re-sent, and its resolution after the restart carries the same id.
func TestRestoredOpenIncidentIsResentAndResolved(t *testing.T) {
	am := newHTTPLog(t, nil)
	id := component.MustNewID("file_storage")
	mem := storagetest.NewMemStorage()
	host := storagetest.Host{id: mem}
	cfg := alertmanagerConfig(am.srv.URL, nil)
	cfg.Storage = &id
	require.NoError(t, cfg.Validate())
	ctx := context.Background()

	// first run: healthy windows, then the database fails; the collector stops during the fault
	clock := clockwork.NewFakeClockAt(t0.Add(time.Hour))
	e, err := newExporter(ctx, exportertestSettings(), cfg, clock)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, host))
	w := t0
	for ; w.Before(t0.Add(2 * time.Minute)); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(ctx, ld))
	}
	for range 4 {
		ld := plog.NewLogs()
		for s := 2 * time.Second; s < 15*time.Second; s += 3 * time.Second {
			addAnomaly(ld, "payment", w.Add(s), 0.8, "error_burst", "p1", "db query failed <*>", "db query failed 10.0.0.7")
		}
		addEdges(ld, w, shopEdges(60, 40))
		require.NoError(t, e.ConsumeLogs(ctx, ld))
		w = w.Add(15 * time.Second)
	}
	require.NoError(t, e.Shutdown(ctx)) // applies the evidence still waiting and delivers
	_, bodies := am.snapshot()
	require.NotEmpty(t, bodies)
	keys := alertKeys(t, bodies[len(bodies)-1])
	require.Len(t, keys, 1)
	require.NotContains(t, keys[0], "resolved")
	sent := len(bodies)

	// second run: nothing arrives for a while, the restored incident is re-sent
	clock = clockwork.NewFakeClockAt(t0.Add(2 * time.Hour))
	e, err = newExporter(ctx, exportertestSettings(), cfg, clock)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, host))
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Both tickers (the re-send and, with storage, the snapshot one) must wait before the clock
	// moves, or the minute passes before the re-send ticker exists.
	require.NoError(t, clock.BlockUntilContext(waitCtx, 2), "the re-send and snapshot tickers")
	clock.Advance(time.Minute)
	am.waitFor(t, sent+1)
	_, bodies = am.snapshot()
	assert.Equal(t, keys, alertKeys(t, bodies[sent]), "the restored incident's alert is re-sent")

	// healthy windows again: the same incident resolves after the quiet period
	for end := w.Add(8 * time.Minute); w.Before(end); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(ctx, ld))
	}
	am.waitFor(t, sent+2)
	require.NoError(t, e.Shutdown(ctx))
	_, bodies = am.snapshot()
	assert.Equal(t, []string{keys[0] + " resolved"}, alertKeys(t, bodies[len(bodies)-1]))
}

// TestStateIsSavedEverySnapshotInterval: with storage, the engine's state (here the learned
// graph) is saved every snapshot_interval of wall-clock time, so a crash (no Shutdown) loses at
// most that much of it.
func TestStateIsSavedEverySnapshotInterval(t *testing.T) {
	wh := newWebhookServer(t)
	id := component.MustNewID("file_storage")
	mem := storagetest.NewMemStorage()
	cfg := testConfig(wh.srv.URL)
	cfg.Storage = &id
	cfg.IdleAdvance = 0 // the snapshot ticker is the only one
	cfg.SnapshotInterval = time.Minute
	clock := clockwork.NewFakeClockAt(t0.Add(time.Hour))
	ctx := context.Background()
	e, err := newExporter(ctx, exportertestSettings(), cfg, clock)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, storagetest.Host{id: mem}))
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilContext(waitCtx, 1))

	feedHealthy(t, e)
	assert.Nil(t, mem.Value(kbKey), "nothing saved before the interval")
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { return mem.Value(kbKey) != nil }, 10*time.Second, 5*time.Millisecond)
	e.mu.Lock()
	live, err := e.engine.MarshalBinary()
	e.mu.Unlock()
	require.NoError(t, err)
	assert.Equal(t, live, mem.Value(kbKey), "the snapshot is the engine's whole state")
	require.NoError(t, e.Shutdown(ctx))
}

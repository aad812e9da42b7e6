// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// apiFaultStart is when feedDBFault's database fault starts.
var apiFaultStart = t0.Add(2 * time.Minute)

// feedDBFault plays two healthy minutes, 90 s of a database fault (the database's callers fail
// and log errors; the entry service logs nothing) and n minutes of recovery.
func feedDBFault(t *testing.T, e *rcaExporter, recovery time.Duration) {
	t.Helper()
	w := t0
	for ; w.Before(apiFaultStart); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
	end := w.Add(90 * time.Second)
	for ; w.Before(end); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		for s := 2 * time.Second; s < 15*time.Second; s += 3 * time.Second {
			addAnomaly(ld, "payment", w.Add(s), 0.8, "error_burst", "p1", "db query failed: connection refused <*>", "db query failed: connection refused 10.0.0.7:5432")
			addAnomaly(ld, "checkout", w.Add(s+2*time.Second), 0.75, "error_burst", "c1", "payment call failed status <*>", "payment call failed status 503")
		}
		addEdges(ld, w, shopEdges(60, 40))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
	for ; w.Before(end.Add(recovery)); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
}

// apiConfig is testConfig with the API on a free loopback port.
func apiConfig(t *testing.T, webhook string, httpSection map[string]any) *Config {
	t.Helper()
	cfg := testConfig(webhook)
	if httpSection == nil {
		httpSection = map[string]any{}
	}
	if _, ok := httpSection["endpoint"]; !ok {
		httpSection["endpoint"] = "127.0.0.1:0"
	}
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"http": httpSection}).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	return cfg
}

type apiClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

// startAPIExporter starts an exporter with the API; it is shut down at the end of the test.
func startAPIExporter(t *testing.T, set func() (*rcaExporter, error), host component.Host) (*rcaExporter, *apiClient) {
	t.Helper()
	e, err := set()
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), host))
	t.Cleanup(func() { assert.NoError(t, e.Shutdown(context.Background())) })
	require.NotNil(t, e.api.addr)
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return e, &apiClient{t: t, base: "http://" + e.api.addr.String(), c: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func newAPIExporter(cfg *Config, tel *componenttest.Telemetry) func() (*rcaExporter, error) {
	return func() (*rcaExporter, error) {
		set := exportertest.NewNopSettings(metadata.Type)
		if tel != nil {
			set = metadatatest.NewSettings(tel)
		}
		return newExporter(context.Background(), set, cfg, clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	}
}

type apiReply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (c *apiClient) do(method, path, contentType string, body []byte, header map[string]string) apiReply {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, bytes.NewReader(body))
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	require.NoError(c.t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	r := apiReply{status: resp.StatusCode, header: resp.Header, raw: raw}
	require.Equal(c.t, "application/json", resp.Header.Get("Content-Type"), string(raw))
	require.NoError(c.t, json.Unmarshal(raw, &r.body), string(raw))
	return r
}

func (c *apiClient) post(path string, v any) apiReply {
	c.t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		b, err = json.Marshal(v)
		require.NoError(c.t, err)
	}
	return c.do(http.MethodPost, path, "application/json", b, nil)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func TestAPIRCA(t *testing.T) {
	wh := newWebhookServer(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e, c := startAPIExporter(t, newAPIExporter(apiConfig(t, wh.srv.URL, nil), tel), componenttest.NewNopHost())
	feedDBFault(t, e, 8*time.Minute)
	delivered := len(wh.incidents())
	require.Positive(t, delivered, "the engine's own incident was forwarded")

	alert := apiFaultStart.Add(60 * time.Second)
	r := c.post(rcaPath, map[string]any{"time": rfc(alert), "service": "frontend", "window": "2m"})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	var res rcaResponse
	require.NoError(t, json.Unmarshal(r.raw, &res))
	assert.True(t, res.Found)
	assert.Equal(t, "orders-db", res.RootCauseService)
	require.NotEmpty(t, res.Candidates)
	assert.Equal(t, "orders-db", res.Candidates[0].Service)
	assert.Equal(t, "database", res.Candidates[0].Kind)
	assert.NotEmpty(t, res.Candidates[0].Reasons)
	assert.Equal(t, []string{"orders-db", "payment", "checkout", "frontend"}, res.PropagationPath)
	assert.ElementsMatch(t, []string{"orders-db", "payment", "checkout", "frontend"}, res.AffectedServices)
	assert.NotEmpty(t, res.Evidence)
	assert.NotEmpty(t, res.DependencyPaths)
	assert.NotEmpty(t, res.RootCauseIssue)
	assert.NotEmpty(t, res.Explanation)
	assert.Positive(t, res.Confidence)
	assert.Contains(t, res.Message, "most likely root cause orders-db")
	assert.Equal(t, queryEcho{Time: alert, Service: "frontend", Window: "2m0s"}, res.Query)
	assert.Equal(t, alert.Add(-2*time.Minute), res.WindowStart)
	assert.Equal(t, alert, res.WindowEnd)
	for _, f := range []string{
		"root_cause_service", "root_cause_issue", "propagation_path", "evidence", "confidence",
		"explanation", "dependency_paths", "candidates", "affected_services", "severity", "message", "found",
	} {
		assert.Contains(t, r.body, f)
	}
	assert.Len(t, wh.incidents(), delivered, "a query forwards nothing")

	// Defaults: no service, the correlation window.
	r = c.post(rcaPath, map[string]any{"time": rfc(alert)})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, "orders-db", r.body["root_cause_service"])
	assert.Equal(t, "5m0s", r.body["query"].(map[string]any)["window"])

	// Nothing anomalous held at that time: 200, no candidates, a message.
	r = c.post(rcaPath, map[string]any{"time": rfc(t0.Add(time.Minute)), "service": "checkout", "window": "30s"})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, false, r.body["found"])
	assert.Equal(t, []any{}, r.body["candidates"])
	assert.Empty(t, r.body["root_cause_service"])
	assert.Contains(t, r.body["message"], `no anomalies held for service "checkout"`)

	metadatatest.AssertEqualExporterRcaAPIRequests(t, tel, []metricdata.DataPoint[int64]{
		{Value: 3, Attributes: attribute.NewSet(attribute.String("endpoint", "rca"), attribute.String("outcome", "ok"))},
	}, metricdatatest.IgnoreTimestamp())
}

func webhookBody(alerts ...map[string]any) map[string]any {
	return map[string]any{
		"version": "4", "groupKey": `{}:{alertname="HighErrorRate"}`, "truncatedAlerts": 0, "status": "firing",
		"receiver": "rca", "groupLabels": map[string]string{"alertname": "HighErrorRate"},
		"commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093", "alerts": alerts,
	}
}

func alertJSON(status, fingerprint string, labels map[string]string, startsAt, endsAt time.Time) map[string]any {
	end := "0001-01-01T00:00:00Z"
	if !endsAt.IsZero() {
		end = endsAt.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"status": status, "labels": labels, "annotations": map[string]string{"summary": "5xx ratio above 5%"},
		"startsAt": startsAt.UTC().Format(time.RFC3339Nano), "endsAt": end,
		"generatorURL": "http://prometheus:9090/graph", "fingerprint": fingerprint,
	}
}

func alertOutcomes(r apiReply) []string {
	var out []string
	for _, a := range r.body["alerts"].([]any) {
		out = append(out, a.(map[string]any)["outcome"].(string))
	}
	return out
}

func TestAPIAlertsAreRankedAndForwarded(t *testing.T) {
	wh := newWebhookServer(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e, c := startAPIExporter(t, newAPIExporter(apiConfig(t, wh.srv.URL, nil), tel), componenttest.NewNopHost())
	feedDBFault(t, e, 8*time.Minute)
	before := len(wh.incidents())

	starts := apiFaultStart.Add(60 * time.Second)
	firing := alertJSON("firing", "6f0d1c2b3a4e5f60", map[string]string{"alertname": "HighErrorRate", "job": "frontend-job", "service": "frontend"}, starts, time.Time{})
	unknownResolved := alertJSON("resolved", "aaaa", map[string]string{"alertname": "DiskFull", "app": "db"}, starts, starts.Add(time.Minute))
	own := alertJSON("firing", "bbbb", map[string]string{"alertname": sink.AlertName, "incident_id": "x", "service": "payment"}, starts, time.Time{})
	quiet := alertJSON("firing", "cccc", map[string]string{"alertname": "Slow", "service.name": "checkout"}, t0.Add(time.Minute), time.Time{})
	r := c.post(alertsPath, webhookBody(firing, unknownResolved, own, quiet))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, []string{"forwarded", "resolved_ignored", "own_alert", "no_anomalies"}, alertOutcomes(r))
	var resp alertsResponse
	require.NoError(t, json.Unmarshal(r.raw, &resp))
	assert.Equal(t, 4, resp.Received)
	assert.Equal(t, 1, resp.Forwarded)
	first := resp.Alerts[0]
	assert.Equal(t, "frontend", first.Service, "service wins over job")
	assert.Equal(t, "HighErrorRate", first.AlertName)
	require.NotNil(t, first.Result)
	assert.Equal(t, "orders-db", first.Result.RootCauseService)
	assert.Equal(t, first.IncidentID, first.Result.ID, "the result carries the forwarded incident's id")
	assert.Equal(t, 1, first.IncidentVersion)
	assert.Equal(t, "checkout", resp.Alerts[3].Service, "from service.name")
	assert.False(t, resp.Alerts[3].Result.Found)
	assert.Nil(t, resp.Alerts[2].Result)

	got := wh.incidents()
	require.Len(t, got, before+1, "the ranked alert reached the webhook sink")
	inc := got[len(got)-1]
	assert.Equal(t, first.IncidentID, inc.ID)
	assert.Equal(t, 1, inc.Version)
	assert.Equal(t, incident.StatusOpen, inc.Status)
	assert.Equal(t, "orders-db", inc.RootCauseService)
	assert.True(t, strings.HasPrefix(inc.Title, "[HighErrorRate] orders-db"), inc.Title)
	assert.Contains(t, inc.Explanation, "Triggered by alert HighErrorRate on frontend (started "+rfc(starts)+", fingerprint 6f0d1c2b3a4e5f60): 5xx ratio above 5%.")
	assert.Equal(t, []string{"orders-db", "payment", "checkout", "frontend"}, inc.PropagationPath)

	// Alertmanager repeats the notification: same alert, same ranking, nothing new to forward.
	r = c.post(alertsPath, webhookBody(firing))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, []string{"unchanged"}, alertOutcomes(r))
	assert.Len(t, wh.incidents(), before+1)

	// The alert resolves: the result forwarded for it resolves in the sinks.
	resolved := alertJSON("resolved", "6f0d1c2b3a4e5f60", map[string]string{"alertname": "HighErrorRate", "service": "frontend"}, starts, starts.Add(5*time.Minute))
	r = c.post(alertsPath, webhookBody(resolved))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, []string{"resolved_forwarded"}, alertOutcomes(r))
	got = wh.incidents()
	require.Len(t, got, before+2)
	last := got[len(got)-1]
	assert.Equal(t, inc.ID, last.ID)
	assert.Equal(t, 2, last.Version)
	assert.Equal(t, incident.StatusResolved, last.Status)
	require.NotNil(t, last.ResolvedAt)
	assert.Equal(t, starts.Add(5*time.Minute), *last.ResolvedAt)
	assert.Empty(t, e.api.tracked)

	// Once resolved it is forgotten: a repeat is acknowledged and ignored.
	r = c.post(alertsPath, webhookBody(resolved))
	assert.Equal(t, []string{"resolved_ignored"}, alertOutcomes(r))

	metadatatest.AssertEqualExporterRcaAPIAlerts(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("outcome", "forwarded"))},
		{Value: 2, Attributes: attribute.NewSet(attribute.String("outcome", "resolved_ignored"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("outcome", "own_alert"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("outcome", "no_anomalies"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("outcome", "unchanged"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("outcome", "resolved_forwarded"))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExporterRcaAPIRequests(t, tel, []metricdata.DataPoint[int64]{
		{Value: 4, Attributes: attribute.NewSet(attribute.String("endpoint", "alerts"), attribute.String("outcome", "ok"))},
	}, metricdatatest.IgnoreTimestamp())
}

// When the sinks cannot take the result, the webhook answers 503 (Alertmanager retries) and
// remembers nothing, so the retry forwards it.
func TestAPIAlertsForwardingFailureChangesNothing(t *testing.T) {
	wh := newWebhookServer(t)
	cfg := apiConfig(t, wh.srv.URL, nil)
	cfg.RetryConfig.Enabled = false
	e, c := startAPIExporter(t, newAPIExporter(cfg, nil), componenttest.NewNopHost())
	feedDBFault(t, e, 8*time.Minute)
	before := len(wh.incidents())
	wh.mu.Lock()
	wh.fail = 1
	wh.mu.Unlock()
	firing := alertJSON("firing", "f1", map[string]string{"alertname": "HighErrorRate", "service": "frontend"}, apiFaultStart.Add(time.Minute), time.Time{})
	r := c.post(alertsPath, webhookBody(firing))
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	assert.Contains(t, r.body["error"], "could not be handed to the sinks")
	assert.Empty(t, e.api.tracked)
	r = c.post(alertsPath, webhookBody(firing))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, []string{"forwarded"}, alertOutcomes(r))
	assert.Len(t, wh.incidents(), before+1)
}

func TestAPIBadRequestsChangeNothing(t *testing.T) {
	wh := newWebhookServer(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e, c := startAPIExporter(t, newAPIExporter(apiConfig(t, wh.srv.URL, nil), tel), componenttest.NewNopHost())
	feedDBFault(t, e, 2*time.Minute)
	e.mu.Lock()
	stats := e.engine.Stats()
	e.mu.Unlock()
	delivered := len(wh.incidents())
	inFault := rfc(apiFaultStart.Add(time.Minute))
	firing := func(starts string) map[string]any {
		a := alertJSON("firing", "f", map[string]string{"alertname": "A", "service": "frontend"}, time.Time{}, time.Time{})
		a["startsAt"] = starts
		return a
	}
	big := append([]byte(`{"time":"`+inFault+`","service":"`), bytes.Repeat([]byte("x"), maxAPIBody)...)
	big = append(big, []byte(`"}`)...)

	for _, tc := range []struct {
		name, method, path, contentType string
		body                            any
		status                          int
		outcome, contains               string
	}{
		{"get", http.MethodGet, rcaPath, "", nil, http.StatusMethodNotAllowed, "method_not_allowed", "method GET is not allowed: use POST"},
		{"put alerts", http.MethodPut, alertsPath, "application/json", []byte(`{}`), http.StatusMethodNotAllowed, "method_not_allowed", "use POST"},
		{"text", http.MethodPost, rcaPath, "text/plain", []byte(`{"time":"` + inFault + `"}`), http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json"},
		{"no content type", http.MethodPost, alertsPath, "", []byte(`{}`), http.StatusUnsupportedMediaType, "unsupported_media_type", "application/json"},
		{"malformed", http.MethodPost, rcaPath, "application/json", []byte(`{"time":`), http.StatusBadRequest, "bad_request", "malformed JSON"},
		{"syntax", http.MethodPost, rcaPath, "application/json", []byte(`{"time" "x"}`), http.StatusBadRequest, "bad_request", "malformed JSON at byte"},
		{"empty", http.MethodPost, rcaPath, "application/json", []byte(``), http.StatusBadRequest, "bad_request", "the body is empty"},
		{"not an object", http.MethodPost, rcaPath, "application/json", []byte(`[1]`), http.StatusBadRequest, "bad_request", "must be a JSON object"},
		{"two objects", http.MethodPost, rcaPath, "application/json", []byte(`{"time":"` + inFault + `"} {}`), http.StatusBadRequest, "bad_request", "a single JSON object"},
		{"unknown field", http.MethodPost, rcaPath, "application/json", map[string]any{"time": inFault, "foo": 1}, http.StatusBadRequest, "bad_request", `unknown field "foo"`},
		{"wrong type", http.MethodPost, rcaPath, "application/json", map[string]any{"time": 5}, http.StatusBadRequest, "bad_request", `field "time" must be a string`},
		{"missing time", http.MethodPost, rcaPath, "application/json", map[string]any{"service": "frontend"}, http.StatusBadRequest, "bad_request", "time is required"},
		{"invalid time", http.MethodPost, rcaPath, "application/json", map[string]any{"time": "yesterday"}, http.StatusBadRequest, "bad_request", "time must be an RFC 3339 time"},
		{"time before 1970", http.MethodPost, rcaPath, "application/json", map[string]any{"time": "1960-01-01T00:00:00Z"}, http.StatusBadRequest, "bad_request", "between 1970 and 2261"},
		{"time beyond 2261", http.MethodPost, rcaPath, "application/json", map[string]any{"time": "9999-01-01T00:00:00Z"}, http.StatusBadRequest, "bad_request", "between 1970 and 2261"},
		{"bad window", http.MethodPost, rcaPath, "application/json", map[string]any{"time": inFault, "window": "ten minutes"}, http.StatusBadRequest, "bad_request", "window must be a Go duration"},
		{"zero window", http.MethodPost, rcaPath, "application/json", map[string]any{"time": inFault, "window": "0s"}, http.StatusBadRequest, "bad_request", "window must be positive"},
		{"negative window", http.MethodPost, rcaPath, "application/json", map[string]any{"time": inFault, "window": "-1m"}, http.StatusBadRequest, "bad_request", "window must be positive"},
		{"long window", http.MethodPost, rcaPath, "application/json", map[string]any{"time": inFault, "window": "2h"}, http.StatusBadRequest, "bad_request", "window must be at most 30m0s"},
		{"long service", http.MethodPost, rcaPath, "application/json", map[string]any{"time": inFault, "service": strings.Repeat("s", 300)}, http.StatusBadRequest, "bad_request", "service must be at most 256 bytes"},
		{"too large", http.MethodPost, rcaPath, "application/json", big, http.StatusRequestEntityTooLarge, "too_large", "larger than 1048576 bytes"},
		{"before history", http.MethodPost, rcaPath, "application/json", map[string]any{"time": rfc(t0.Add(-time.Hour))}, http.StatusUnprocessableEntity, "outside_history", "is outside the history held, from 2026-03-01T10:00:"},
		{"after history", http.MethodPost, rcaPath, "application/json", map[string]any{"time": rfc(t0.Add(time.Hour))}, http.StatusUnprocessableEntity, "outside_history", "is outside the history held"},
		{"unknown path", http.MethodPost, "/api/v1/other", "application/json", []byte(`{}`), http.StatusNotFound, "not_found", "no such endpoint"},
		{"webhook version", http.MethodPost, alertsPath, "application/json", map[string]any{"version": "3", "alerts": []any{firing(inFault)}}, http.StatusBadRequest, "bad_request", `version must be "4"`},
		{"webhook no alerts", http.MethodPost, alertsPath, "application/json", webhookBody(), http.StatusBadRequest, "bad_request", "alerts must not be empty"},
		{"webhook unknown field", http.MethodPost, alertsPath, "application/json", map[string]any{"version": "4", "alerts": []any{firing(inFault)}, "extra": true}, http.StatusBadRequest, "bad_request", `unknown field "extra"`},
		{"alert unknown field", http.MethodPost, alertsPath, "application/json", webhookBody(map[string]any{"status": "firing", "startsAt": inFault, "value": 1}), http.StatusBadRequest, "bad_request", `unknown field "value"`},
		{"alert status", http.MethodPost, alertsPath, "application/json", webhookBody(map[string]any{"status": "pending", "startsAt": inFault}), http.StatusBadRequest, "bad_request", `alerts[0].status must be "firing" or "resolved"`},
		{"alert start", http.MethodPost, alertsPath, "application/json", webhookBody(firing(inFault), firing("soon")), http.StatusBadRequest, "bad_request", "alerts[1].startsAt must be an RFC 3339 time"},
		{"alert no start", http.MethodPost, alertsPath, "application/json", webhookBody(firing("")), http.StatusBadRequest, "bad_request", "alerts[0].startsAt is required"},
		{"alert end", http.MethodPost, alertsPath, "application/json", webhookBody(map[string]any{"status": "resolved", "startsAt": inFault, "endsAt": "later"}), http.StatusBadRequest, "bad_request", "alerts[0].endsAt must be an RFC 3339 time"},
		{"alert outside history", http.MethodPost, alertsPath, "application/json", webhookBody(firing(rfc(t0.Add(-time.Hour)))), http.StatusUnprocessableEntity, "outside_history", "is outside the history held"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := tc.body.([]byte)
			if !ok && tc.body != nil {
				var err error
				b, err = json.Marshal(tc.body)
				require.NoError(t, err)
			}
			cc := *c
			cc.t = t
			r := cc.do(tc.method, tc.path, tc.contentType, b, nil)
			require.Equal(t, tc.status, r.status, string(r.raw))
			msg, _ := r.body["error"].(string)
			assert.Contains(t, msg, tc.contains)
			if tc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, http.MethodPost, r.header.Get("Allow"))
			}
			if tc.outcome == "outside_history" {
				assert.Contains(t, r.body, "held_from")
				assert.Contains(t, r.body, "held_until")
			}
		})
	}
	assert.Len(t, wh.incidents(), delivered, "nothing was forwarded")
	assert.Empty(t, e.api.tracked)
	e.mu.Lock()
	assert.Equal(t, stats, e.engine.Stats())
	e.mu.Unlock()

	// Every failure was counted once by endpoint and outcome.
	want := map[[2]string]int64{}
	for _, k := range [][2]string{
		{"rca", "method_not_allowed"}, {"alerts", "method_not_allowed"}, {"rca", "unsupported_media_type"}, {"alerts", "unsupported_media_type"},
	} {
		want[k]++
	}
	want[[2]string{"rca", "bad_request"}] = 16
	want[[2]string{"rca", "too_large"}] = 1
	want[[2]string{"rca", "outside_history"}] = 2
	want[[2]string{"other", "not_found"}] = 1
	want[[2]string{"alerts", "bad_request"}] = 8
	want[[2]string{"alerts", "outside_history"}] = 1
	var dps []metricdata.DataPoint[int64]
	for k, v := range want {
		dps = append(dps, metricdata.DataPoint[int64]{Value: v, Attributes: attribute.NewSet(attribute.String("endpoint", k[0]), attribute.String("outcome", k[1]))})
	}
	metadatatest.AssertEqualExporterRcaAPIRequests(t, tel, dps, metricdatatest.IgnoreTimestamp())
}

// testAuth is a server authenticator extension accepting one bearer token.
type testAuth struct{ component.StartFunc }

func (testAuth) Shutdown(context.Context) error { return nil }

func (testAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	if v := sources["Authorization"]; len(v) == 1 && v[0] == "Bearer s3cret" {
		return ctx, nil
	}
	return ctx, errors.New("missing or wrong bearer token")
}

type extHost struct {
	component.Host
	ext map[component.ID]component.Component
}

func (h extHost) GetExtensions() map[component.ID]component.Component { return h.ext }

func TestAPIAuthExtension(t *testing.T) {
	wh := newWebhookServer(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := apiConfig(t, wh.srv.URL, map[string]any{"auth": map[string]any{"authenticator": "testauth"}})
	host := extHost{Host: componenttest.NewNopHost(), ext: map[component.ID]component.Component{component.MustNewID("testauth"): testAuth{}}}
	e, c := startAPIExporter(t, newAPIExporter(cfg, tel), host)
	feedDBFault(t, e, time.Minute)
	body := []byte(`{"time":"` + rfc(apiFaultStart.Add(time.Minute)) + `","service":"frontend"}`)

	r := c.do(http.MethodPost, rcaPath, "application/json", body, nil)
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
	assert.Contains(t, r.body["error"], "missing or wrong bearer token")
	r = c.do(http.MethodPost, rcaPath, "application/json", body, map[string]string{"Authorization": "Bearer wrong"})
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
	r = c.do(http.MethodPost, rcaPath, "application/json", body, map[string]string{"Authorization": "Bearer s3cret"})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, "orders-db", r.body["root_cause_service"])
	r = c.do(http.MethodPost, alertsPath, "application/json", []byte(`{}`), nil)
	require.Equal(t, http.StatusUnauthorized, r.status, "the webhook is protected too")

	metadatatest.AssertEqualExporterRcaAPIRequests(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("endpoint", "rca"), attribute.String("outcome", "unauthorized"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("endpoint", "alerts"), attribute.String("outcome", "unauthorized"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("endpoint", "rca"), attribute.String("outcome", "ok"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestAPIAuthExtensionMissingFailsStart(t *testing.T) {
	cfg := apiConfig(t, "http://127.0.0.1:1", map[string]any{"auth": map[string]any{"authenticator": "nope"}})
	e, err := newAPIExporter(cfg, nil)()
	require.NoError(t, err)
	require.Error(t, e.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e.Shutdown(context.Background()))
}

func TestAPILifecycle(t *testing.T) {
	// The API is off by default.
	e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), testConfig("http://127.0.0.1:1"), nil)
	require.NoError(t, err)
	assert.Nil(t, e.api)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e.Shutdown(context.Background()))

	// A busy port fails Start before anything else starts; Shutdown is still safe.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = busy.Close() }()
	e, err = newAPIExporter(apiConfig(t, "http://127.0.0.1:1", map[string]any{"endpoint": busy.Addr().String()}), nil)()
	require.NoError(t, err)
	err = e.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "http: listening on "+busy.Addr().String())
	require.NoError(t, e.Shutdown(context.Background()))
	require.NoError(t, e.Shutdown(context.Background()))

	// Shutdown stops the listener.
	e, c := startAPIExporter(t, newAPIExporter(apiConfig(t, "http://127.0.0.1:1", nil), nil), componenttest.NewNopHost())
	r := c.post(rcaPath, map[string]any{"time": rfc(t0)})
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "no input yet")
	assert.Contains(t, r.body["error"], "no input has been received yet")
	require.NoError(t, e.Shutdown(context.Background()))
	_, err = c.c.Post(c.base+rcaPath, "application/json", strings.NewReader(`{}`))
	require.Error(t, err, "nothing listens after Shutdown")
}

func TestHTTPConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.False(t, cfg.HTTP.HasValue(), "off by default")

	// `http:` alone listens on the loopback default.
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"http": nil}).Unmarshal(cfg))
	require.True(t, cfg.HTTP.HasValue())
	assert.Equal(t, defaultHTTPEndpoint, cfg.HTTP.Get().NetAddr.Endpoint)
	assert.Equal(t, confighttp.NewDefaultServerConfig().WriteTimeout, cfg.HTTP.Get().WriteTimeout)

	cfg = testConfig("http://127.0.0.1:1")
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"http": map[string]any{"endpoint": "127.0.0.1:0", "transport": "udp"}}).Unmarshal(cfg))
	require.ErrorContains(t, cfg.Validate(), "http::transport must be tcp, tcp4, tcp6 or unix")

	cfg = testConfig("http://127.0.0.1:1")
	cfg.HTTP = configoptional.Some(confighttp.ServerConfig{})
	require.NoError(t, cfg.Validate(), "an empty endpoint means the default")
}

func TestAlertIncidentID(t *testing.T) {
	at := t0
	a := webhookAlert{Fingerprint: "abc", Labels: map[string]string{"x": "1"}}
	b := webhookAlert{Fingerprint: "abc", Labels: map[string]string{"x": "2"}}
	assert.Equal(t, alertIncidentID(&a, at), alertIncidentID(&b, at), "the fingerprint identifies the alert")
	assert.NotEqual(t, alertIncidentID(&a, at), alertIncidentID(&a, at.Add(time.Second)), "a new start is a new alert instance")
	c := webhookAlert{Labels: map[string]string{"x": "1", "y": "2"}}
	d := webhookAlert{Labels: map[string]string{"y": "2", "x": "1"}}
	assert.Equal(t, alertIncidentID(&c, at), alertIncidentID(&d, at))
	assert.Len(t, alertIncidentID(&c, at), 16)
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"app": "a", "job": "j", "service": "s", "service_name": "sn", "service.name": "s.n"}, "s.n"},
		{map[string]string{"app": "a", "job": "j", "service": "s", "service_name": "sn"}, "sn"},
		{map[string]string{"app": "a", "job": "j", "service": " s "}, "s"},
		{map[string]string{"app": "a", "job": "shop/frontend"}, "frontend"},
		{map[string]string{"app": "a", "job": "j/"}, "j/"},
		{map[string]string{"app": "a", "service": ""}, "a"},
		{map[string]string{"alertname": "x"}, ""},
	} {
		assert.Equal(t, tc.want, alertService(tc.labels), "%v", tc.labels)
	}
	assert.Equal(t, "alert HighErrorRate: 5xx", alertNote("HighErrorRate", &webhookAlert{Annotations: map[string]string{"summary": "5xx"}}))
	assert.Equal(t, fmt.Sprintf("%s…", strings.Repeat("é", 99)), truncate(strings.Repeat("é", 150), 199))
}

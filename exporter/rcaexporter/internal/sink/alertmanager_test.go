// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

func newAlertmanager(t *testing.T, endpoint string, mutate func(*AlertmanagerConfig)) *Alertmanager {
	t.Helper()
	cfg := NewDefaultAlertmanagerConfig()
	cfg.ClientConfig = clientConfig(endpoint)
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	a := NewAlertmanager(cfg, componenttest.NewNopTelemetrySettings())
	start(t, a)
	return a
}

func TestAlertmanagerWireFormat(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "")
	a := newAlertmanager(t, rec.srv.URL+"/", func(c *AlertmanagerConfig) {
		c.GeneratorURLTemplate = "https://ui.example/incidents/{id}"
	})
	require.NoError(t, a.Send(context.Background(), testIncident()))
	require.NoError(t, a.Send(context.Background(), resolvedIncident()))

	reqs := rec.all()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/api/v2/alerts", r.Path)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	}
	alert := func(service, endsAt string) string {
		ends := ""
		if endsAt != "" {
			ends = `"endsAt": "` + endsAt + `",`
		}
		return `{
		  "labels": {"alertname": "AiopsIncident", "incident_id": "inc-42", "severity": "critical", "root_cause_service": "db", "service": "` + service + `"},
		  "annotations": {
		    "summary": "[Critical] Checkout failures caused by db connection pool exhaustion",
		    "description": "db: connection pool exhausted\npayment calls to db time out first; errors spread upstream\nEvidence:\n2026-03-04T10:00:01Z payment: pool timeout after 5000ms\n2026-03-04T10:00:02Z checkout: upstream payment returned 503\n2026-03-04T10:00:03Z frontend: request failed <500>",
		    "propagation_path": "db → payment → checkout → frontend",
		    "confidence": "0.87"
		  },
		  "startsAt": "2026-03-04T10:00:00Z",` + ends + `
		  "generatorURL": "https://ui.example/incidents/inc-42"
		}`
	}
	services := []string{"db", "payment", "checkout", "frontend"}
	open, resolved := "[", "["
	for i, s := range services {
		if i > 0 {
			open += ","
			resolved += ","
		}
		open += alert(s, "")
		resolved += alert(s, "2026-03-04T10:10:00Z")
	}
	assert.JSONEq(t, open+"]", string(reqs[0].Body))
	assert.JSONEq(t, resolved+"]", string(reqs[1].Body))
}

func TestAlertmanagerBoundsAlerts(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "")
	a := newAlertmanager(t, rec.srv.URL, func(c *AlertmanagerConfig) { c.MaxAlertsPerIncident = 2 })
	inc := testIncident()
	require.NoError(t, a.Send(context.Background(), inc))
	inc.RootCauseService, inc.AffectedServices = "", nil
	require.NoError(t, a.Send(context.Background(), inc))
	reqs := rec.all()
	var alerts []amAlert
	require.NoError(t, json.Unmarshal(reqs[0].Body, &alerts))
	require.Len(t, alerts, 2)
	assert.Equal(t, "db", alerts[0].Labels["service"], "root cause first")
	assert.Equal(t, "payment", alerts[1].Labels["service"])
	assert.Empty(t, alerts[0].GeneratorURL)
	require.NoError(t, json.Unmarshal(reqs[1].Body, &alerts))
	require.Len(t, alerts, 1)
	assert.Equal(t, "unknown", alerts[0].Labels["service"])
	assert.Equal(t, "unknown", alerts[0].Labels["root_cause_service"])
}

func TestAlertmanagerValidate(t *testing.T) {
	cfg := NewDefaultAlertmanagerConfig()
	assert.Equal(t, time.Minute, cfg.ResendInterval)
	assert.Equal(t, 1000, cfg.MaxTrackedIncidents)
	cfg.ClientConfig.Endpoint = "localhost:9093"
	cfg.GeneratorURLTemplate = "https://x/{id}"
	cfg.MaxAlertsPerIncident = -1
	cfg.ResendInterval = -time.Second
	cfg.MaxTrackedIncidents = 0
	require.EqualError(t, cfg.Validate(), "`endpoint` must be an absolute http or https URL\n"+
		"`max_alerts_per_incident` must be positive\n"+
		"`resend_interval` must be 0 (disabled) or at least 1s\n"+
		"`max_tracked_incidents` must be positive")

	ok := NewDefaultAlertmanagerConfig()
	ok.ClientConfig.Endpoint = "http://alertmanager:9093"
	for _, d := range []time.Duration{0, time.Second, 4 * time.Minute} {
		ok.ResendInterval = d
		require.NoError(t, ok.Validate(), d)
	}
	ok.ResendInterval = 500 * time.Millisecond
	assert.EqualError(t, ok.Validate(), "`resend_interval` must be 0 (disabled) or at least 1s")
}

// decodeAlerts returns the (incident_id, service, endsAt) of every alert of a request body.
func decodeAlerts(t *testing.T, body []byte) []string {
	t.Helper()
	var alerts []amAlert
	require.NoError(t, json.Unmarshal(body, &alerts))
	out := make([]string, 0, len(alerts))
	for _, a := range alerts {
		s := a.Labels["incident_id"] + "/" + a.Labels["service"]
		if a.EndsAt != "" {
			s += " ends " + a.EndsAt
		}
		out = append(out, s)
	}
	return out
}

func TestAlertmanagerResendsFiringAlertsUntilResolved(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "")
	ev := newEventLog()
	a := newAlertmanagerWithEvents(t, rec.srv.URL, ev, func(c *AlertmanagerConfig) { c.MaxAlertsPerIncident = 2 })
	ctx := context.Background()

	n, err := a.Resend(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Empty(t, rec.all(), "nothing open: nothing posted")

	require.NoError(t, a.Send(ctx, incidentVersion("inc-1", 1, false)))
	require.NoError(t, a.Send(ctx, incidentVersion("inc-2", 1, false)))
	upd := incidentVersion("inc-1", 2, false)
	upd.Severity = "High"
	require.NoError(t, a.Send(ctx, upd)) // inc-1 is now the most recently updated
	assert.Equal(t, 2, a.OpenIncidents())
	n, err = a.Resend(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	reqs := rec.all()
	require.Len(t, reqs, 4)
	assert.Equal(t, "/api/v2/alerts", reqs[3].Path)
	assert.Equal(t, []string{"inc-2/db", "inc-2/payment", "inc-1/db", "inc-1/payment"}, decodeAlerts(t, reqs[3].Body),
		"one request, least recently updated first, no endsAt")
	var resent []amAlert
	require.NoError(t, json.Unmarshal(reqs[3].Body, &resent))
	latest, err := json.Marshal(resent[2:])
	require.NoError(t, err)
	assert.JSONEq(t, string(reqs[2].Body), string(latest), "inc-1 is re-sent exactly as its latest version was sent")
	assert.Equal(t, "high", resent[2].Labels["severity"])

	require.NoError(t, a.Send(ctx, incidentVersion("inc-1", 3, true)))
	assert.Equal(t, []string{"inc-1/db ends 2026-03-04T10:10:00Z", "inc-1/payment ends 2026-03-04T10:10:00Z"}, decodeAlerts(t, rec.all()[4].Body))
	require.NoError(t, a.Send(ctx, incidentVersion("inc-1", 2, false)), "a late firing update of a resolved incident")
	assert.Len(t, rec.all(), 5, "is skipped: it would re-open the alert")
	assert.Equal(t, 1, a.OpenIncidents())

	n, err = a.Resend(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"inc-2/db", "inc-2/payment"}, decodeAlerts(t, rec.all()[5].Body), "the resolved incident is no longer re-sent")

	require.NoError(t, a.Send(ctx, incidentVersion("inc-2", 2, true)))
	n, err = a.Resend(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, rec.all(), 7)
	dropped, _ := ev.snapshot()
	assert.Empty(t, dropped)
}

func TestAlertmanagerResendBoundIsCounted(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "")
	ev := newEventLog()
	a := newAlertmanagerWithEvents(t, rec.srv.URL, ev, func(c *AlertmanagerConfig) {
		c.MaxTrackedIncidents = 2
		c.MaxAlertsPerIncident = 1
	})
	ctx := context.Background()
	require.NoError(t, a.Send(ctx, incidentVersion("a", 1, false)))
	require.NoError(t, a.Send(ctx, incidentVersion("b", 1, false)))
	require.NoError(t, a.Send(ctx, incidentVersion("b", 2, true)))
	require.NoError(t, a.Send(ctx, incidentVersion("c", 1, false))) // the resolved b makes room
	dropped, _ := ev.snapshot()
	assert.Empty(t, dropped)
	require.NoError(t, a.Send(ctx, incidentVersion("d", 1, false))) // a, the oldest open, is dropped
	dropped, _ = ev.snapshot()
	assert.Equal(t, map[string]int{"alertmanager_incidents_full": 1}, dropped)
	n, err := a.Resend(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	reqs := rec.all()
	assert.Equal(t, []string{"c/db", "d/db"}, decodeAlerts(t, reqs[len(reqs)-1].Body))
}

func TestAlertmanagerResendSplitsLargeRequests(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "")
	a := newAlertmanagerWithEvents(t, rec.srv.URL, newEventLog(), func(c *AlertmanagerConfig) { c.MaxAlertsPerIncident = 300 })
	ctx := context.Background()
	for i := range 2 {
		inc := incidentVersion(fmt.Sprintf("inc-%d", i), 1, false)
		inc.AffectedServices = nil
		for s := range 299 {
			inc.AffectedServices = append(inc.AffectedServices, fmt.Sprintf("svc-%03d", s))
		}
		require.NoError(t, a.Send(ctx, inc))
	}
	n, err := a.Resend(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	reqs := rec.all()
	require.Len(t, reqs, 4)
	first, second := decodeAlerts(t, reqs[2].Body), decodeAlerts(t, reqs[3].Body)
	assert.Len(t, first, 500)
	assert.Len(t, second, 100)
	assert.Equal(t, "inc-0/db", first[0])
	assert.Equal(t, "inc-1/svc-298", second[99])
}

func TestAlertmanagerResendErrorsAreClassified(t *testing.T) {
	rec := newRecorder(t, http.StatusServiceUnavailable, "")
	a := newAlertmanagerWithEvents(t, rec.srv.URL, newEventLog(), nil)
	ctx := context.Background()
	require.Error(t, a.Send(ctx, testIncident()))
	assert.Equal(t, 1, a.OpenIncidents(), "tracked although the first delivery failed: the re-send retries it")
	n, err := a.Resend(ctx)
	require.EqualError(t, err, "alertmanager sink: HTTP 503 Service Unavailable")
	assert.False(t, consumererror.IsPermanent(err), "retried by exporterhelper")
	assert.Equal(t, 1, n)
	rec.set(http.StatusBadRequest, "")
	_, err = a.Resend(ctx)
	assert.True(t, consumererror.IsPermanent(err))
}

func TestAlertmanagerResendDisabled(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "")
	a := newAlertmanagerWithEvents(t, rec.srv.URL, newEventLog(), func(c *AlertmanagerConfig) { c.ResendInterval = 0 })
	ctx := context.Background()
	assert.Equal(t, time.Duration(0), a.ResendInterval())
	require.NoError(t, a.Send(ctx, incidentVersion("inc-1", 2, false)))
	require.NoError(t, a.Send(ctx, incidentVersion("inc-1", 1, false)))
	assert.Len(t, rec.all(), 2, "nothing tracked: every update is posted as before")
	assert.Zero(t, a.OpenIncidents())
	n, err := a.Resend(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, rec.all(), 2)
}

func newAlertmanagerWithEvents(t *testing.T, endpoint string, ev *eventLog, mutate func(*AlertmanagerConfig)) *Alertmanager {
	t.Helper()
	cfg := NewDefaultAlertmanagerConfig()
	cfg.ClientConfig = clientConfig(endpoint)
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	a := NewAlertmanager(cfg, componenttest.NewNopTelemetrySettings())
	a.events = ev.events()
	start(t, a)
	return a
}

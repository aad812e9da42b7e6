// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

const pdAccepted = `{"status":"success","message":"Event processed","dedup_key":"inc-42"}`

func newPagerDuty(t *testing.T, endpoint string) *PagerDuty {
	t.Helper()
	cfg := NewDefaultPagerDutyConfig()
	cfg.ClientConfig = clientConfig(endpoint)
	cfg.RoutingKey = "R0UT1NGKEY"
	cfg.IncidentURLTemplate = "https://ui.example/incidents/{id}"
	require.NoError(t, cfg.Validate())
	p := NewPagerDuty(cfg, componenttest.NewNopTelemetrySettings())
	start(t, p)
	return p
}

func TestPagerDutyTriggerThenResolve(t *testing.T) {
	rec := newRecorder(t, http.StatusAccepted, pdAccepted)
	p := newPagerDuty(t, rec.srv.URL)
	inc := testIncident()
	require.NoError(t, p.Send(context.Background(), inc))
	require.NoError(t, p.Send(context.Background(), resolvedIncident()))

	reqs := rec.all()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/v2/enqueue", r.Path)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Empty(t, r.Header.Get("Authorization"), "the routing key travels in the body only")
	}

	var trig map[string]any
	require.NoError(t, json.Unmarshal(reqs[0].Body, &trig))
	custom := trig["payload"].(map[string]any)["custom_details"]
	wantCustom, err := json.Marshal(inc)
	require.NoError(t, err)
	gotCustom, err := json.Marshal(custom)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantCustom), string(gotCustom), "custom_details is the incident")
	delete(trig["payload"].(map[string]any), "custom_details")
	wantTrig := `{
	  "routing_key": "R0UT1NGKEY",
	  "event_action": "trigger",
	  "dedup_key": "inc-42",
	  "client": "otelcol-aiops",
	  "client_url": "https://ui.example/incidents/inc-42",
	  "links": [{"href": "https://ui.example/incidents/inc-42", "text": "Incident inc-42"}],
	  "payload": {
	    "summary": "[Critical] Checkout failures caused by db connection pool exhaustion: root cause db (connection pool exhausted)",
	    "source": "otelcol-aiops",
	    "severity": "critical",
	    "timestamp": "2026-03-04T10:01:30Z",
	    "component": "db"
	  }
	}`
	gotTrig, err := json.Marshal(trig)
	require.NoError(t, err)
	assert.JSONEq(t, wantTrig, string(gotTrig))

	assert.JSONEq(t, `{"routing_key":"R0UT1NGKEY","event_action":"resolve","dedup_key":"inc-42"}`, string(reqs[1].Body),
		"resolve carries the same dedup_key")
}

func TestPagerDutySeverityMapping(t *testing.T) {
	rec := newRecorder(t, http.StatusAccepted, pdAccepted)
	p := newPagerDuty(t, rec.srv.URL)
	cases := []struct {
		sev  incident.Severity
		want string
	}{
		{incident.SeverityCritical, "critical"},
		{incident.SeverityHigh, "error"},
		{incident.SeverityMedium, "warning"},
		{incident.SeverityLow, "info"},
	}
	for _, c := range cases {
		inc := testIncident()
		inc.Severity = c.sev
		require.NoError(t, p.Send(context.Background(), inc))
	}
	reqs := rec.all()
	require.Len(t, reqs, len(cases))
	for i, c := range cases {
		var ev struct {
			Payload struct {
				Severity string `json:"severity"`
			} `json:"payload"`
		}
		require.NoError(t, json.Unmarshal(reqs[i].Body, &ev))
		assert.Equal(t, c.want, ev.Payload.Severity, c.sev)
	}
}

func TestPagerDutySummaryLimit(t *testing.T) {
	rec := newRecorder(t, http.StatusAccepted, pdAccepted)
	p := newPagerDuty(t, rec.srv.URL)
	inc := testIncident()
	inc.Title = strings.Repeat("é", 3000)
	require.NoError(t, p.Send(context.Background(), inc))
	var ev struct {
		Payload struct {
			Summary string `json:"summary"`
		} `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(rec.all()[0].Body, &ev))
	assert.Equal(t, pagerDutySummaryMax, utf8.RuneCountInString(ev.Payload.Summary))
	assert.True(t, strings.HasPrefix(ev.Payload.Summary, "[Critical] éé"))
}

func TestPagerDutyMalformedResponse(t *testing.T) {
	// 202 with a garbage body: the event was accepted, the body is not needed.
	rec := newRecorder(t, http.StatusAccepted, "<html>")
	p := newPagerDuty(t, rec.srv.URL)
	require.NoError(t, p.Send(context.Background(), testIncident()))
	// 400 with a garbage body: permanent, no body or key in the error.
	rec.set(http.StatusBadRequest, "{{{ R0UT1NGKEY")
	err := p.Send(context.Background(), testIncident())
	require.EqualError(t, err, "Permanent error: pagerduty sink: HTTP 400 Bad Request")
	assert.True(t, consumererror.IsPermanent(err))
}

func TestPagerDutyDefaultsAndValidate(t *testing.T) {
	cfg := NewDefaultPagerDutyConfig()
	assert.Equal(t, "https://events.pagerduty.com", cfg.ClientConfig.Endpoint)
	assert.Equal(t, "otelcol-aiops", cfg.Source)
	require.EqualError(t, cfg.Validate(), "`routing_key` must be set")
	cfg.RoutingKey = "k"
	cfg.ClientConfig.Endpoint = ""
	cfg.Source = ""
	assert.EqualError(t, cfg.Validate(), "`endpoint` must be set\n`source` must not be empty")
}

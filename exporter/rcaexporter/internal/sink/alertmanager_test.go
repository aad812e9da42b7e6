// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
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
	cfg.ClientConfig.Endpoint = "localhost:9093"
	cfg.GeneratorURLTemplate = "https://x/{id}"
	cfg.MaxAlertsPerIncident = -1
	assert.EqualError(t, cfg.Validate(), "`endpoint` must be an absolute http or https URL\n`max_alerts_per_incident` must be positive")
}

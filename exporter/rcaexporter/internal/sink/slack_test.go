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

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

func newSlack(t *testing.T, base string, other bool, tmpl string) *Slack {
	t.Helper()
	cfg := NewDefaultSlackConfig()
	cfg.ClientConfig = clientConfig("")
	cfg.WebhookURL = toOpaque(base + "/services/T1/B1/urgent")
	if other {
		cfg.OtherWebhookURL = toOpaque(base + "/services/T1/B2/other")
	}
	cfg.IncidentURLTemplate = tmpl
	require.NoError(t, cfg.Validate())
	s := NewSlack(cfg, componenttest.NewNopTelemetrySettings())
	start(t, s)
	return s
}

func TestSlackWireFormat(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "ok")
	s := newSlack(t, rec.srv.URL, true, "https://ui.example/incidents/{id}")
	require.NoError(t, s.Send(context.Background(), testIncident()))

	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/services/T1/B1/urgent", reqs[0].Path)
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	assert.JSONEq(t, `{
	  "text": "[Critical] Checkout failures caused by db connection pool exhaustion: root cause db (connection pool exhausted), path db → payment → checkout → frontend",
	  "blocks": [
	    {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: [Critical] Checkout failures caused by db connection pool exhaustion", "emoji": true}},
	    {"type": "section", "text": {"type": "mrkdwn", "text": "*Root cause:* `+"`db`"+`\n*Issue:* connection pool exhausted"}},
	    {"type": "section", "text": {"type": "mrkdwn", "text": "*Propagation path:* db → payment → checkout → frontend"}},
	    {"type": "section", "text": {"type": "mrkdwn", "text": "*Top evidence:*\n`+"```"+`2026-03-04T10:00:01Z payment: pool timeout after 5000ms\n2026-03-04T10:00:02Z checkout: upstream payment returned 503\n2026-03-04T10:00:03Z frontend: request failed &lt;500&gt;`+"```"+`"}},
	    {"type": "section", "text": {"type": "mrkdwn", "text": "*Remediation:*\n1. Increase the pool size\n2. Kill long-running queries"}},
	    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Confidence: *87%* | Status: open | Incident `+"`inc-42`"+` v1 | Analysis: statistical"}]},
	    {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": "https://ui.example/incidents/inc-42"}]}
	  ]
	}`, string(reqs[0].Body))
}

func TestSlackMinimalIncident(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "ok")
	s := newSlack(t, rec.srv.URL, false, "")
	inc := &incident.Incident{ID: "x", Status: incident.StatusResolved, Severity: incident.SeverityLow}
	require.NoError(t, s.Send(context.Background(), inc))
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/services/T1/B1/urgent", reqs[0].Path, "without other_webhook_url everything goes to webhook_url")
	var p struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &p))
	// header, root cause, context: no empty sections, no link.
	require.Len(t, p.Blocks, 3)
	assert.Equal(t, ":white_check_mark: RESOLVED [Low] Incident x", p.Blocks[0].Text.Text)
	assert.Equal(t, "*Root cause:* `unknown`", p.Blocks[1].Text.Text)
	assert.Equal(t, "context", p.Blocks[2].Type)
	assert.Equal(t, "RESOLVED [Low] Incident x: root cause unknown", p.Text)
}

func TestSlackRoutingBySeverity(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "ok")
	s := newSlack(t, rec.srv.URL, true, "")
	want := map[incident.Severity]string{
		incident.SeverityCritical: "/services/T1/B1/urgent",
		incident.SeverityHigh:     "/services/T1/B1/urgent",
		incident.SeverityMedium:   "/services/T1/B2/other",
		incident.SeverityLow:      "/services/T1/B2/other",
		"":                        "/services/T1/B2/other",
	}
	order := []incident.Severity{incident.SeverityCritical, incident.SeverityHigh, incident.SeverityMedium, incident.SeverityLow, ""}
	for _, sev := range order {
		inc := testIncident()
		inc.Severity = sev
		require.NoError(t, s.Send(context.Background(), inc))
	}
	reqs := rec.all()
	require.Len(t, reqs, len(order))
	for i, sev := range order {
		assert.Equal(t, want[sev], reqs[i].Path, "severity %q", sev)
	}
}

func TestSlackLimits(t *testing.T) {
	inc := testIncident()
	inc.Title = strings.Repeat("t", 500)
	inc.Evidence = []string{strings.Repeat("e", 5000), "has ``` fence"}
	p := slackMessage(inc, "")
	assert.LessOrEqual(t, utf8.RuneCountInString(p.Blocks[0].Text.Text), slackHeaderMax)
	for _, b := range p.Blocks {
		if b.Text != nil {
			assert.LessOrEqual(t, utf8.RuneCountInString(b.Text.Text), slackSectionMax)
		}
	}
	ev := p.Blocks[3].Text.Text
	assert.True(t, strings.HasPrefix(ev, "*Top evidence:*\n```"))
	assert.True(t, strings.HasSuffix(ev, "```"), "the code block stays closed when truncated")
	assert.Equal(t, 2, strings.Count(ev, "```"))
}

func TestSlackPermanentErrorHidesURL(t *testing.T) {
	rec := newRecorder(t, http.StatusNotFound, "no_service")
	s := newSlack(t, rec.srv.URL, false, "")
	err := s.Send(context.Background(), testIncident())
	require.EqualError(t, err, "Permanent error: slack sink: HTTP 404 Not Found")
}

func TestSlackValidate(t *testing.T) {
	cfg := NewDefaultSlackConfig()
	require.EqualError(t, cfg.Validate(), "`webhook_url` must be set")
	cfg.WebhookURL = "not a url secret-part"
	cfg.OtherWebhookURL = "ftp://x/secret-part"
	cfg.ClientConfig.Endpoint = "https://x"
	cfg.IncidentURLTemplate = "https://ui/incidents"
	err := cfg.Validate()
	require.Error(t, err)
	assert.Equal(t, "`endpoint` is not used by the slack sink; set `webhook_url`\n"+
		"`webhook_url` must be an absolute http or https URL\n"+
		"`other_webhook_url` must be an absolute http or https URL\n"+
		"`incident_url_template` must contain the {id} placeholder", err.Error())
	assert.NotContains(t, err.Error(), "secret-part")
}

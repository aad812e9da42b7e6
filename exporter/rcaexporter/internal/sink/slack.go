// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// Slack Block Kit limits.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackEvidence   = 3
)

// SlackConfig configures the Slack incoming-webhook sink.
type SlackConfig struct {
	// ClientConfig holds timeout, TLS, proxy and headers; `endpoint` is not used (the
	// webhook URLs below are secrets).
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// WebhookURL receives Critical and High incidents (and all others when OtherWebhookURL is unset).
	WebhookURL configopaque.String `mapstructure:"webhook_url"`
	// OtherWebhookURL, optional, receives Medium and Low incidents.
	OtherWebhookURL configopaque.String `mapstructure:"other_webhook_url"`
	// IncidentURLTemplate, optional, links the message to the incident ("{id}" is replaced).
	IncidentURLTemplate string `mapstructure:"incident_url_template"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultSlackConfig returns the Slack defaults.
func NewDefaultSlackConfig() SlackConfig {
	return SlackConfig{ClientConfig: newDefaultClientConfig()}
}

// Validate checks the slack section. Messages never quote the URLs.
func (c *SlackConfig) Validate() error {
	var errs []error
	if c.ClientConfig.Endpoint != "" {
		errs = append(errs, errors.New("`endpoint` is not used by the slack sink; set `webhook_url`"))
	}
	if c.WebhookURL == "" {
		errs = append(errs, errors.New("`webhook_url` must be set"))
	} else if validateEndpoint("webhook_url", string(c.WebhookURL)) != nil {
		errs = append(errs, errors.New("`webhook_url` must be an absolute http or https URL"))
	}
	if c.OtherWebhookURL != "" && validateEndpoint("other_webhook_url", string(c.OtherWebhookURL)) != nil {
		errs = append(errs, errors.New("`other_webhook_url` must be an absolute http or https URL"))
	}
	if err := validateURLTemplate("incident_url_template", c.IncidentURLTemplate); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Slack posts a Block Kit message to an incoming webhook chosen by severity.
type Slack struct {
	cfg  SlackConfig
	http httpSender
}

var _ Sink = (*Slack)(nil)

// NewSlack builds a Slack sink; call Start before Send.
func NewSlack(cfg SlackConfig, set component.TelemetrySettings) *Slack {
	s := &Slack{cfg: cfg}
	s.http = httpSender{name: "slack", cfg: &s.cfg.ClientConfig, set: set}
	return s
}

// Name returns "slack".
func (*Slack) Name() string { return "slack" }

// Start creates the HTTP client.
func (s *Slack) Start(ctx context.Context, host component.Host) error { return s.http.start(ctx, host) }

// Shutdown closes idle connections.
func (s *Slack) Shutdown(ctx context.Context) error { return s.http.shutdown(ctx) }

// Send posts the message to the webhook for the incident's severity.
func (s *Slack) Send(ctx context.Context, inc *incident.Incident) error {
	body, err := json.Marshal(slackMessage(inc, s.cfg.IncidentURLTemplate))
	if err != nil {
		return marshalError(s.Name(), err)
	}
	_, err = s.http.do(ctx, http.MethodPost, string(s.webhookFor(inc.Severity)), body, nil)
	return err
}

func (s *Slack) webhookFor(sev incident.Severity) configopaque.String {
	if sev == incident.SeverityCritical || sev == incident.SeverityHigh || s.cfg.OtherWebhookURL == "" {
		return s.cfg.WebhookURL
	}
	return s.cfg.OtherWebhookURL
}

// slackText is a Block Kit text object.
type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// slackBlock is a Block Kit block (header, section, context, actions, divider).
type slackBlock struct {
	Type     string         `json:"type"`
	Text     *slackText     `json:"text,omitempty"`
	Fields   []slackText    `json:"fields,omitempty"`
	Elements []slackElement `json:"elements,omitempty"`
}

// slackElement is a context element ({"type":"mrkdwn","text":"..."}) or an actions button.
type slackElement struct {
	Type string `json:"type"`
	Text any    `json:"text"`
	URL  string `json:"url,omitempty"`
}

// slackPayload is the incoming-webhook body.
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

var severityEmoji = map[incident.Severity]string{
	incident.SeverityCritical: ":red_circle:",
	incident.SeverityHigh:     ":large_orange_circle:",
	incident.SeverityMedium:   ":large_yellow_circle:",
	incident.SeverityLow:      ":large_blue_circle:",
}

// slackEscape escapes the three characters Slack mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mrkdwn(s string) *slackText {
	return &slackText{Type: "mrkdwn", Text: truncateRunes(s, slackSectionMax)}
}

// slackMessage renders the Block Kit message for an incident.
func slackMessage(inc *incident.Incident, urlTemplate string) slackPayload {
	sev := string(inc.Severity)
	if sev == "" {
		sev = "Unknown"
	}
	emoji := severityEmoji[inc.Severity]
	if emoji == "" {
		emoji = ":white_circle:"
	}
	status := ""
	if isResolved(inc) {
		emoji = ":white_check_mark:"
		status = "RESOLVED "
	}
	header := truncateRunes(fmt.Sprintf("%s %s[%s] %s", emoji, status, sev, title(inc)), slackHeaderMax)

	var blocks []slackBlock
	blocks = append(blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: header, Emoji: true}})

	rc := inc.RootCauseService
	if rc == "" {
		rc = "unknown"
	}
	cause := "*Root cause:* `" + slackEscape(rc) + "`"
	if inc.RootCauseIssue != "" {
		cause += "\n*Issue:* " + slackEscape(inc.RootCauseIssue)
	}
	blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(cause)})

	if len(inc.PropagationPath) > 0 {
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn("*Propagation path:* " + slackEscape(pathString(inc.PropagationPath)))})
	}
	if ev := topEvidence(inc, slackEvidence); len(ev) > 0 {
		// Code blocks must stay closed even when truncated, so bound the content first.
		content := truncateRunes(slackEscape(strings.ReplaceAll(strings.Join(ev, "\n"), "```", "'''")), slackSectionMax-40)
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn("*Top evidence:*\n```" + content + "```")})
	}
	if len(inc.RemediationSteps) > 0 {
		var b strings.Builder
		b.WriteString("*Remediation:*")
		for i, step := range inc.RemediationSteps {
			b.WriteString("\n" + strconv.Itoa(i+1) + ". " + slackEscape(step))
		}
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(b.String())})
	}
	ctxText := fmt.Sprintf("Confidence: *%.0f%%* | Status: %s | Incident `%s` v%d", inc.Confidence*100, slackEscape(string(inc.Status)), slackEscape(inc.ID), inc.Version)
	if inc.Source != "" {
		ctxText += " | Analysis: " + slackEscape(inc.Source)
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []slackElement{{Type: "mrkdwn", Text: ctxText}}})
	if link := expandURL(urlTemplate, inc.ID); link != "" {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: []slackElement{{
			Type: "button", Text: &slackText{Type: "plain_text", Text: "Open incident"}, URL: link,
		}}})
	}

	// Plain-text fallback for notifications and clients without Block Kit.
	fallback := fmt.Sprintf("%s[%s] %s: root cause %s", status, sev, title(inc), rc)
	if inc.RootCauseIssue != "" {
		fallback += " (" + inc.RootCauseIssue + ")"
	}
	if len(inc.PropagationPath) > 0 {
		fallback += ", path " + pathString(inc.PropagationPath)
	}
	return slackPayload{Text: slackEscape(truncateRunes(fallback, slackSectionMax)), Blocks: blocks}
}

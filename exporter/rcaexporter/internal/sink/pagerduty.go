// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

const (
	// DefaultPagerDutyEndpoint is the Events API v2 host.
	DefaultPagerDutyEndpoint = "https://events.pagerduty.com"
	pagerDutyPath            = "/v2/enqueue"
	pagerDutySummaryMax      = 1024
	defaultPagerDutySource   = "otelcol-aiops"
)

// PagerDutyConfig configures the PagerDuty Events API v2 sink.
type PagerDutyConfig struct {
	// ClientConfig holds endpoint (default https://events.pagerduty.com), timeout, TLS and proxy.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// RoutingKey is the integration key of the PagerDuty service (required).
	RoutingKey configopaque.String `mapstructure:"routing_key"`
	// Source is payload.source, the system the event is about (default otelcol-aiops).
	Source string `mapstructure:"source"`
	// Class is payload.class, optional.
	Class string `mapstructure:"class"`
	// Group is payload.group, optional.
	Group string `mapstructure:"group"`
	// IncidentURLTemplate, optional, adds a link to the incident ("{id}" is replaced).
	IncidentURLTemplate string `mapstructure:"incident_url_template"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultPagerDutyConfig returns the PagerDuty defaults.
func NewDefaultPagerDutyConfig() PagerDutyConfig {
	c := PagerDutyConfig{ClientConfig: newDefaultClientConfig(), Source: defaultPagerDutySource}
	c.ClientConfig.Endpoint = DefaultPagerDutyEndpoint
	return c
}

// Validate checks the pagerduty section.
func (c *PagerDutyConfig) Validate() error {
	var errs []error
	if err := validateEndpoint("endpoint", c.ClientConfig.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.RoutingKey == "" {
		errs = append(errs, errors.New("`routing_key` must be set"))
	}
	if c.Source == "" {
		errs = append(errs, errors.New("`source` must not be empty"))
	}
	if err := validateURLTemplate("incident_url_template", c.IncidentURLTemplate); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// PagerDuty triggers and resolves PagerDuty alerts keyed by incident id.
type PagerDuty struct {
	cfg  PagerDutyConfig
	http httpSender
}

var _ Sink = (*PagerDuty)(nil)

// NewPagerDuty builds a PagerDuty sink; call Start before Send.
func NewPagerDuty(cfg PagerDutyConfig, set component.TelemetrySettings) *PagerDuty {
	p := &PagerDuty{cfg: cfg}
	p.http = httpSender{name: "pagerduty", cfg: &p.cfg.ClientConfig, set: set}
	return p
}

// Name returns "pagerduty".
func (*PagerDuty) Name() string { return "pagerduty" }

// Start creates the HTTP client.
func (p *PagerDuty) Start(ctx context.Context, host component.Host) error {
	return p.http.start(ctx, host)
}

// Shutdown closes idle connections.
func (p *PagerDuty) Shutdown(ctx context.Context) error { return p.http.shutdown(ctx) }

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string             `json:"summary"`
	Source        string             `json:"source"`
	Severity      string             `json:"severity"`
	Timestamp     string             `json:"timestamp,omitempty"`
	Component     string             `json:"component,omitempty"`
	Group         string             `json:"group,omitempty"`
	Class         string             `json:"class,omitempty"`
	CustomDetails *incident.Incident `json:"custom_details"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pagerDutySeverity maps incident severities to the four PagerDuty levels.
func pagerDutySeverity(s incident.Severity) string {
	switch s {
	case incident.SeverityCritical:
		return "critical"
	case incident.SeverityHigh:
		return "error"
	case incident.SeverityMedium:
		return "warning"
	default:
		return "info"
	}
}

func (p *PagerDuty) event(inc *incident.Incident) pdEvent {
	ev := pdEvent{
		RoutingKey:  string(p.cfg.RoutingKey),
		EventAction: "trigger",
		DedupKey:    inc.ID,
	}
	if isResolved(inc) {
		// resolve needs only the routing and dedup keys.
		ev.EventAction = "resolve"
		return ev
	}
	summary := "[" + string(inc.Severity) + "] " + title(inc)
	if inc.RootCauseService != "" {
		summary += ": root cause " + inc.RootCauseService
		if inc.RootCauseIssue != "" {
			summary += " (" + inc.RootCauseIssue + ")"
		}
	}
	ev.Payload = &pdPayload{
		Summary:       truncateRunes(summary, pagerDutySummaryMax),
		Source:        p.cfg.Source,
		Severity:      pagerDutySeverity(inc.Severity),
		Component:     inc.RootCauseService,
		Group:         p.cfg.Group,
		Class:         p.cfg.Class,
		CustomDetails: inc,
	}
	if t := eventTime(inc); !t.IsZero() {
		ev.Payload.Timestamp = t.UTC().Format(time.RFC3339Nano)
	}
	ev.Client = defaultPagerDutySource
	if link := expandURL(p.cfg.IncidentURLTemplate, inc.ID); link != "" {
		ev.ClientURL = link
		ev.Links = []pdLink{{Href: link, Text: "Incident " + inc.ID}}
	}
	return ev
}

// Send enqueues a trigger (open) or resolve (resolved) event with dedup_key = incident id.
func (p *PagerDuty) Send(ctx context.Context, inc *incident.Incident) error {
	body, err := json.Marshal(p.event(inc))
	if err != nil {
		return marshalError(p.Name(), err)
	}
	// The 202 body ({"status":"success",...}) carries nothing we need, so it is not parsed.
	_, err = p.http.do(ctx, http.MethodPost, joinURL(p.cfg.ClientConfig.Endpoint, pagerDutyPath), body, nil)
	return err
}

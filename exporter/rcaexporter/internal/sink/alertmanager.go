// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

const (
	alertmanagerPath = "/api/v2/alerts"
	// AlertName is the alertname label of every alert.
	AlertName                    = "AiopsIncident"
	defaultAlertmanagerMaxAlerts = 20
	alertmanagerEvidence         = 3
)

// AlertmanagerConfig configures the Prometheus Alertmanager API v2 sink.
type AlertmanagerConfig struct {
	// ClientConfig holds endpoint (Alertmanager base URL, required), timeout, TLS, headers and auth.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// GeneratorURLTemplate, optional, is the alerts' generatorURL ("{id}" is replaced).
	GeneratorURLTemplate string `mapstructure:"generator_url_template"`
	// MaxAlertsPerIncident bounds the alerts sent per incident: one per affected service,
	// root-cause service first (default 20).
	MaxAlertsPerIncident int `mapstructure:"max_alerts_per_incident"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultAlertmanagerConfig returns the Alertmanager defaults.
func NewDefaultAlertmanagerConfig() AlertmanagerConfig {
	return AlertmanagerConfig{ClientConfig: newDefaultClientConfig(), MaxAlertsPerIncident: defaultAlertmanagerMaxAlerts}
}

// Validate checks the alertmanager section.
func (c *AlertmanagerConfig) Validate() error {
	var errs []error
	if err := validateEndpoint("endpoint", c.ClientConfig.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if err := validateURLTemplate("generator_url_template", c.GeneratorURLTemplate); err != nil {
		errs = append(errs, err)
	}
	if c.MaxAlertsPerIncident <= 0 {
		errs = append(errs, errors.New("`max_alerts_per_incident` must be positive"))
	}
	return errors.Join(errs...)
}

// Alertmanager posts one alert per affected service; resolved incidents set endsAt.
type Alertmanager struct {
	cfg  AlertmanagerConfig
	http httpSender
}

var _ Sink = (*Alertmanager)(nil)

// NewAlertmanager builds an Alertmanager sink; call Start before Send.
func NewAlertmanager(cfg AlertmanagerConfig, set component.TelemetrySettings) *Alertmanager {
	if cfg.MaxAlertsPerIncident <= 0 {
		cfg.MaxAlertsPerIncident = defaultAlertmanagerMaxAlerts
	}
	a := &Alertmanager{cfg: cfg}
	a.http = httpSender{name: "alertmanager", cfg: &a.cfg.ClientConfig, set: set}
	return a
}

// Name returns "alertmanager".
func (*Alertmanager) Name() string { return "alertmanager" }

// Start creates the HTTP client.
func (a *Alertmanager) Start(ctx context.Context, host component.Host) error {
	return a.http.start(ctx, host)
}

// Shutdown closes idle connections.
func (a *Alertmanager) Shutdown(ctx context.Context) error { return a.http.shutdown(ctx) }

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (a *Alertmanager) alerts(inc *incident.Incident) []amAlert {
	services := make([]string, 0, len(inc.AffectedServices)+1)
	seen := map[string]bool{}
	for _, s := range append([]string{inc.RootCauseService}, inc.AffectedServices...) {
		if s != "" && !seen[s] && len(services) < a.cfg.MaxAlertsPerIncident {
			seen[s] = true
			services = append(services, s)
		}
	}
	if len(services) == 0 {
		services = append(services, "unknown")
	}

	desc := orUnknown(inc.RootCauseService) + ": " + orUnknown(inc.RootCauseIssue)
	if inc.Explanation != "" {
		desc += "\n" + inc.Explanation
	}
	if ev := topEvidence(inc, alertmanagerEvidence); len(ev) > 0 {
		desc += "\nEvidence:\n" + strings.Join(ev, "\n")
	}
	annotations := map[string]string{
		"summary":          "[" + string(inc.Severity) + "] " + title(inc),
		"description":      desc,
		"propagation_path": pathString(inc.PropagationPath),
		"confidence":       fmt.Sprintf("%.2f", inc.Confidence),
	}
	var startsAt, endsAt string
	if !inc.StartedAt.IsZero() {
		startsAt = inc.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if isResolved(inc) {
		end := eventTime(inc)
		if end.IsZero() {
			end = time.Now()
		}
		endsAt = end.UTC().Format(time.RFC3339Nano)
	}
	gen := expandURL(a.cfg.GeneratorURLTemplate, inc.ID)

	out := make([]amAlert, 0, len(services))
	for _, s := range services {
		out = append(out, amAlert{
			Labels: map[string]string{
				"alertname":          AlertName,
				"incident_id":        inc.ID,
				"severity":           strings.ToLower(string(inc.Severity)),
				"root_cause_service": orUnknown(inc.RootCauseService),
				"service":            s,
			},
			Annotations:  annotations,
			StartsAt:     startsAt,
			EndsAt:       endsAt,
			GeneratorURL: gen,
		})
	}
	return out
}

// Send posts the alerts of the incident.
func (a *Alertmanager) Send(ctx context.Context, inc *incident.Incident) error {
	body, err := json.Marshal(a.alerts(inc))
	if err != nil {
		return marshalError(a.Name(), err)
	}
	_, err = a.http.do(ctx, http.MethodPost, joinURL(a.cfg.ClientConfig.Endpoint, alertmanagerPath), body, nil)
	return err
}

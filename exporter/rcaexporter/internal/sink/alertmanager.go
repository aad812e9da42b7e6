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
	"sync"
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
	// DefaultAlertmanagerResendInterval is the default resend_interval: well within
	// Alertmanager's default resolve_timeout of 5m.
	DefaultAlertmanagerResendInterval = time.Minute
	defaultAlertmanagerMaxTracked     = 1000
	minAlertmanagerResendInterval     = time.Second
	// alertmanagerResendBatch bounds the alerts posted in one re-send request.
	alertmanagerResendBatch = 500
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
	// ResendInterval: the firing alerts of open incidents are posted again this often (wall
	// clock), through the exporter's sending queue, so that Alertmanager does not resolve them
	// after its resolve_timeout (default 5m) while the incident is still open. Keep it well below
	// resolve_timeout. 0 disables re-sending (default 1m).
	ResendInterval time.Duration `mapstructure:"resend_interval"`
	// MaxTrackedIncidents bounds the incidents whose alerts are kept for re-sending (default
	// 1000). When it is full, resolved incidents are forgotten first, then the least recently
	// updated open incident, which is counted and no longer re-sent.
	MaxTrackedIncidents int `mapstructure:"max_tracked_incidents"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultAlertmanagerConfig returns the Alertmanager defaults.
func NewDefaultAlertmanagerConfig() AlertmanagerConfig {
	return AlertmanagerConfig{
		ClientConfig:         newDefaultClientConfig(),
		MaxAlertsPerIncident: defaultAlertmanagerMaxAlerts,
		ResendInterval:       DefaultAlertmanagerResendInterval,
		MaxTrackedIncidents:  defaultAlertmanagerMaxTracked,
	}
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
	if c.ResendInterval != 0 && c.ResendInterval < minAlertmanagerResendInterval {
		errs = append(errs, errors.New("`resend_interval` must be 0 (disabled) or at least 1s"))
	}
	if c.MaxTrackedIncidents <= 0 {
		errs = append(errs, errors.New("`max_tracked_incidents` must be positive"))
	}
	return errors.Join(errs...)
}

// Alertmanager posts one alert per affected service; resolved incidents set endsAt.
//
// With a resend interval, it also keeps the latest firing alerts of every open incident
// (bounded) for Resend, which the exporter calls periodically through its sending queue.
// The resolved version drops them, and updates older than a version already sent are skipped,
// so a late firing update can never re-open a resolved alert.
type Alertmanager struct {
	cfg    AlertmanagerConfig
	http   httpSender
	events Events

	mu      sync.Mutex
	tracked *tracker[amTracked] // nil when re-sending is disabled
}

// amTracked is the latest version sent of one incident and, while it is open, its alerts.
type amTracked struct {
	version int
	alerts  []amAlert // never modified once stored
}

var _ Sink = (*Alertmanager)(nil)

// NewAlertmanager builds an Alertmanager sink; call Start before Send.
func NewAlertmanager(cfg AlertmanagerConfig, set component.TelemetrySettings) *Alertmanager {
	if cfg.MaxAlertsPerIncident <= 0 {
		cfg.MaxAlertsPerIncident = defaultAlertmanagerMaxAlerts
	}
	if cfg.MaxTrackedIncidents <= 0 {
		cfg.MaxTrackedIncidents = defaultAlertmanagerMaxTracked
	}
	a := &Alertmanager{cfg: cfg}
	if cfg.ResendInterval > 0 {
		a.tracked = newTracker[amTracked](cfg.MaxTrackedIncidents)
	}
	a.http = httpSender{name: "alertmanager", cfg: &a.cfg.ClientConfig, set: set}
	return a
}

// ResendInterval is the configured re-send interval (0: disabled).
func (a *Alertmanager) ResendInterval() time.Duration { return a.cfg.ResendInterval }

// OpenIncidents is the number of open incidents whose alerts Resend would post.
func (a *Alertmanager) OpenIncidents() int {
	if a.tracked == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tracked.open.Len()
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

// Send posts the alerts of the incident. With re-sending enabled, an update older than a
// version already sent is skipped.
func (a *Alertmanager) Send(ctx context.Context, inc *incident.Incident) error {
	alerts := a.alerts(inc)
	if !a.track(inc, alerts) {
		return nil
	}
	return a.post(ctx, alerts)
}

// Restore tracks an open incident for Resend without posting it, e.g. one restored from storage
// after a restart, so that its alerts keep being refreshed in Alertmanager.
func (a *Alertmanager) Restore(inc *incident.Incident) {
	if !isResolved(inc) {
		a.track(inc, a.alerts(inc))
	}
}

// track records the alerts of inc for Resend (forgets them when inc is resolved). It returns
// false when inc is older than a version already handled. The alerts are tracked before they
// are posted, so an open incident whose delivery failed is retried by the next re-send too.
func (a *Alertmanager) track(inc *incident.Incident, alerts []amAlert) bool {
	if a.tracked == nil {
		return true
	}
	a.mu.Lock()
	if te, ok := a.tracked.get(inc.ID); ok && inc.Version != 0 && inc.Version < te.val.version {
		a.mu.Unlock()
		return false
	}
	v := amTracked{version: inc.Version}
	if !isResolved(inc) {
		v.alerts = alerts
	}
	evicted := a.tracked.put(inc.ID, isResolved(inc), v)
	a.mu.Unlock()
	a.events.dropped("alertmanager_incidents_full", evicted)
	return true
}

// Resend posts the firing alerts of every tracked open incident again, least recently updated
// first, in requests of at most 500 alerts. It returns the number of open incidents (re-sent
// unless err is set); nothing is posted when no incident is open. Errors are classified like
// those of Send.
func (a *Alertmanager) Resend(ctx context.Context) (int, error) {
	if a.tracked == nil {
		return 0, nil
	}
	var alerts []amAlert
	a.mu.Lock()
	n := a.tracked.open.Len()
	a.tracked.each(func(te *tracked[amTracked]) {
		if !te.resolved {
			alerts = append(alerts, te.val.alerts...)
		}
	})
	a.mu.Unlock()
	for len(alerts) > 0 {
		batch := alerts[:min(len(alerts), alertmanagerResendBatch)]
		alerts = alerts[len(batch):]
		if err := a.post(ctx, batch); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (a *Alertmanager) post(ctx context.Context, alerts []amAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return marshalError(a.Name(), err)
	}
	_, err = a.http.do(ctx, http.MethodPost, joinURL(a.cfg.ClientConfig.Endpoint, alertmanagerPath), body, nil)
	return err
}

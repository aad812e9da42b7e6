// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
)

// Config selects and configures the sinks; every section is optional and off unless present.
type Config struct {
	// Webhook posts the incident JSON to a generic endpoint.
	Webhook configoptional.Optional[WebhookConfig] `mapstructure:"webhook"`
	// Slack posts a Block Kit message to an incoming webhook.
	Slack configoptional.Optional[SlackConfig] `mapstructure:"slack"`
	// PagerDuty sends Events API v2 trigger/resolve events.
	PagerDuty configoptional.Optional[PagerDutyConfig] `mapstructure:"pagerduty"`
	// Jira creates an issue per incident and comments on updates.
	Jira configoptional.Optional[JiraConfig] `mapstructure:"jira"`
	// Alertmanager posts alerts to the Alertmanager API v2.
	Alertmanager configoptional.Optional[AlertmanagerConfig] `mapstructure:"alertmanager"`
	// Console logs a readable summary (demo).
	Console configoptional.Optional[ConsoleConfig] `mapstructure:"console"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultConfig returns every section disabled, with its defaults applied when enabled.
func NewDefaultConfig() Config {
	return Config{
		Webhook:      configoptional.Default(NewDefaultWebhookConfig()),
		Slack:        configoptional.Default(NewDefaultSlackConfig()),
		PagerDuty:    configoptional.Default(NewDefaultPagerDutyConfig()),
		Jira:         configoptional.Default(NewDefaultJiraConfig()),
		Alertmanager: configoptional.Default(NewDefaultAlertmanagerConfig()),
		Console:      configoptional.Default(NewDefaultConsoleConfig()),
	}
}

// Options are the exporter's settings of Build.
type Options struct {
	// MaxDelivered bounds the delivered-set memory of Multi (<= 0: DefaultMaxDelivered).
	MaxDelivered int
	// Events receives the sinks' drop and storage-error events.
	Events Events
	// Retry decides when Multi gives up a sink that keeps failing retryably.
	Retry RetryPolicy
}

// Build creates the enabled sinks (in the order webhook, slack, pagerduty, jira, alertmanager,
// console) and wraps them in a Multi. Call SetStore (optional) and Start on the result before
// sending.
func Build(cfg *Config, set component.TelemetrySettings, opts Options) (*Multi, error) {
	var sinks []Sink
	if cfg.Webhook.HasValue() {
		sinks = append(sinks, NewWebhook(*cfg.Webhook.Get(), set))
	}
	if cfg.Slack.HasValue() {
		sinks = append(sinks, NewSlack(*cfg.Slack.Get(), set))
	}
	if cfg.PagerDuty.HasValue() {
		sinks = append(sinks, NewPagerDuty(*cfg.PagerDuty.Get(), set))
	}
	if cfg.Jira.HasValue() {
		j := NewJira(*cfg.Jira.Get(), set)
		j.events = opts.Events
		sinks = append(sinks, j)
	}
	if cfg.Alertmanager.HasValue() {
		a := NewAlertmanager(*cfg.Alertmanager.Get(), set)
		a.events = opts.Events
		sinks = append(sinks, a)
	}
	if cfg.Console.HasValue() {
		sinks = append(sinks, NewConsole(*cfg.Console.Get(), set.Logger))
	}
	m, err := NewMulti(opts.MaxDelivered, sinks...)
	if err != nil {
		return nil, err
	}
	m.SetRetryPolicy(opts.Retry)
	return m, nil
}

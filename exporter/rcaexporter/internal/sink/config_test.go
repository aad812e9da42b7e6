// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
)

func TestConfigUnmarshalAndBuild(t *testing.T) {
	cm := confmap.NewFromStringMap(map[string]any{
		"slack": map[string]any{
			"webhook_url": "https://hooks.slack.com/services/T/B/x",
			"timeout":     "3s",
		},
		"pagerduty": map[string]any{"routing_key": "rk"},
		"webhook": map[string]any{
			"endpoint": "https://hooks.example/aiops",
			"secret":   "s",
			"headers":  map[string]any{"X-Tenant": "a"},
		},
		"console": nil,
	})
	cfg := NewDefaultConfig()
	require.NoError(t, cm.Unmarshal(&cfg))
	require.NoError(t, confmap.Validate(&cfg))

	require.True(t, cfg.Slack.HasValue())
	assert.Equal(t, configopaque.String("https://hooks.slack.com/services/T/B/x"), cfg.Slack.Get().WebhookURL)
	assert.Equal(t, 3*time.Second, cfg.Slack.Get().ClientConfig.Timeout)
	require.True(t, cfg.PagerDuty.HasValue())
	assert.Equal(t, DefaultPagerDutyEndpoint, cfg.PagerDuty.Get().ClientConfig.Endpoint, "defaults apply to enabled sections")
	assert.Equal(t, defaultTimeout, cfg.PagerDuty.Get().ClientConfig.Timeout)
	require.True(t, cfg.Webhook.HasValue())
	assert.Equal(t, DefaultSignatureHeader, cfg.Webhook.Get().SignatureHeader)
	v, ok := cfg.Webhook.Get().ClientConfig.Headers.Get("X-Tenant")
	assert.True(t, ok)
	assert.Equal(t, configopaque.String("a"), v)
	assert.True(t, cfg.Console.HasValue())
	assert.False(t, cfg.Jira.HasValue())
	assert.False(t, cfg.Alertmanager.HasValue())

	m, err := Build(&cfg, componenttest.NewNopTelemetrySettings(), Options{})
	require.NoError(t, err)
	var names []string
	for _, s := range m.Sinks() {
		names = append(names, s.Name())
	}
	assert.Equal(t, []string{"webhook", "slack", "pagerduty", "console"}, names)
}

func TestConfigValidateWalksEnabledSections(t *testing.T) {
	cm := confmap.NewFromStringMap(map[string]any{"jira": map[string]any{"endpoint": "https://jira.example"}})
	cfg := NewDefaultConfig()
	require.NoError(t, cm.Unmarshal(&cfg))
	err := confmap.Validate(&cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "`project_key` must be set")

	def := NewDefaultConfig()
	require.NoError(t, confmap.Validate(&def), "disabled sections are not validated")
	m, err := Build(&def, componenttest.NewNopTelemetrySettings(), Options{})
	require.NoError(t, err)
	assert.Empty(t, m.Sinks())
}

func TestWebhookValidate(t *testing.T) {
	cfg := NewDefaultWebhookConfig()
	cfg.Secret = "s"
	cfg.SignatureHeader = ""
	require.EqualError(t, cfg.Validate(), "`endpoint` must be set\n`signature_header` must be set when `secret` is set")
	cfg.ClientConfig.Endpoint = "https://x.example/h"
	cfg.SignatureHeader = "X-Sig"
	assert.NoError(t, cfg.Validate())
}

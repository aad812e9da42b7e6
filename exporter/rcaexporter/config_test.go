// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmconfig"
)

type exporterhelperQueue = exporterhelper.QueueBatchConfig

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "full").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	c := cfg.(*Config)
	assert.InDelta(t, 2.0, c.Incidents.OpenThreshold, 1e-9)
	assert.Equal(t, 10*time.Minute, c.Incidents.QuietPeriod)
	assert.True(t, c.Incidents.InternalEdgesOpen)
	assert.Equal(t, 3, c.Incidents.LatencyPersistence)
	assert.InDelta(t, 2.5, c.Incidents.OwnTimeFactor, 1e-9)
	assert.Equal(t, 4, c.Incidents.OwnTimePersistence)
	ec := c.engineConfig()
	assert.True(t, ec.InternalEdgesOpen)
	assert.Equal(t, 4, ec.OwnTimePersistence)
	assert.True(t, c.Sinks.Webhook.HasValue())
	assert.True(t, c.Sinks.Slack.HasValue())
	assert.True(t, c.Sinks.PagerDuty.HasValue())
	assert.True(t, c.Sinks.Console.HasValue())
	assert.Equal(t, "file_storage", c.Storage.String())
	assert.Equal(t, 30*time.Second, c.SnapshotInterval)
	require.True(t, c.Sinks.Jira.HasValue())
	assert.Equal(t, 5000, c.Sinks.Jira.Get().MaxTrackedIncidents)
	require.True(t, c.Sinks.Alertmanager.HasValue())
	am := c.Sinks.Alertmanager.Get()
	assert.Equal(t, 2*time.Minute, am.ResendInterval)
	assert.Equal(t, 200, am.MaxTrackedIncidents)
	assert.Equal(t, 20, am.MaxAlertsPerIncident, "default kept")
	require.True(t, c.HTTP.HasValue())
	assert.Equal(t, "127.0.0.1:8199", c.HTTP.Get().NetAddr.Endpoint)
	require.True(t, c.HTTP.Get().Auth.HasValue())
	assert.Equal(t, "bearertokenauth/rca", c.HTTP.Get().Auth.Get().Config.AuthenticatorID.String())
	require.True(t, c.LLM.HasValue())
	lc := c.LLM.Get()
	assert.Equal(t, "openai", lc.Model.Provider)
	assert.Equal(t, "gpt-4o-mini", lc.Model.Model)
	assert.Equal(t, "http://vllm.internal:8000/v1", lc.Model.ClientConfig.Endpoint)
	assert.Equal(t, configopaque.String("sk-test"), lc.Model.APIKey)
	assert.Equal(t, 20*time.Second, lc.Model.ClientConfig.Timeout)
	assert.Equal(t, 20, lc.Budget.CallsPerMinute)
	assert.Equal(t, []string{`customer=(\w+)`}, lc.Redaction.Patterns)
	assert.Equal(t, 3, lc.MaxNarrativesPerIncident)
	assert.Equal(t, 2*time.Minute, lc.MinUpdateInterval)
	assert.Equal(t, 32, lc.QueueSize)
	assert.Equal(t, 2, lc.Retry.MaxAttempts)
	assert.Equal(t, llmconfig.NewDefaultConfig().Retry.MaxBackoff, lc.Retry.MaxBackoff, "defaults kept")
	assert.Equal(t, AskConfig{Window: 2 * time.Hour, MaxItems: 5000}, c.Ask)

	cfg = NewFactory().CreateDefaultConfig()
	sub, err = cm.Sub(component.NewIDWithName(metadata.Type, "api").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	assert.False(t, cfg.(*Config).LLM.HasValue(), "no LLM unless configured")
	assert.Equal(t, defaultAskConfig(), cfg.(*Config).Ask)
	require.True(t, cfg.(*Config).HTTP.HasValue(), "`http:` alone turns the API on")
	assert.Equal(t, defaultHTTPEndpoint, cfg.(*Config).HTTP.Get().NetAddr.Endpoint, "loopback by default")
	assert.False(t, cfg.(*Config).HTTP.Get().Auth.HasValue())

	cfg = NewFactory().CreateDefaultConfig()
	sub, err = cm.Sub(component.NewIDWithName(metadata.Type, "noresend").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	am = cfg.(*Config).Sinks.Alertmanager.Get()
	assert.Equal(t, time.Duration(0), am.ResendInterval)
	assert.Equal(t, 1000, am.MaxTrackedIncidents)

	cfg = NewFactory().CreateDefaultConfig()
	sub, err = cm.Sub(component.NewIDWithName(metadata.Type, "badresend").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	err = confmap.Validate(cfg)
	require.ErrorContains(t, err, "`resend_interval` must be 0 (disabled) or at least 1s")
	require.ErrorContains(t, err, "`max_tracked_incidents` must be positive")

	cfg = NewFactory().CreateDefaultConfig()
	sub, err = cm.Sub(component.NewIDWithName(metadata.Type, "nosinks").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	assert.ErrorContains(t, confmap.Validate(cfg), "sinks must configure at least one of")
}

func TestSinkDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"sinks": map[string]any{
		"alertmanager": map[string]any{"endpoint": "http://alertmanager:9093"},
		"jira":         map[string]any{"endpoint": "https://jira.example", "project_key": "OPS"},
	}}).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	am := cfg.Sinks.Alertmanager.Get()
	assert.Equal(t, time.Minute, am.ResendInterval, "well within Alertmanager's default resolve_timeout of 5m")
	assert.Equal(t, 1000, am.MaxTrackedIncidents)
	assert.Equal(t, 10000, cfg.Sinks.Jira.Get().MaxTrackedIncidents)
}

func TestValidate(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.ErrorContains(t, cfg.Validate(), "sinks must configure at least one")
	cfg = testConfig("https://example.invalid/hook")
	require.NoError(t, cfg.Validate())
	cfg.IdleAdvance = -time.Second
	require.ErrorContains(t, cfg.Validate(), "idle_advance must not be negative")
	cfg = testConfig("https://example.invalid/hook")
	cfg.SnapshotInterval = -time.Second
	require.ErrorContains(t, cfg.Validate(), "snapshot_interval must not be negative")
	cfg = testConfig("https://example.invalid/hook")
	cfg.Incidents.MaxHops = -1
	assert.Error(t, cfg.Validate())
}

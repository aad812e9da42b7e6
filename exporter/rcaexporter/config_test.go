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
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
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
	assert.True(t, c.Sinks.Webhook.HasValue())
	assert.True(t, c.Sinks.Slack.HasValue())
	assert.True(t, c.Sinks.PagerDuty.HasValue())
	assert.True(t, c.Sinks.Console.HasValue())
	assert.Equal(t, "file_storage", c.Storage.String())

	cfg = NewFactory().CreateDefaultConfig()
	sub, err = cm.Sub(component.NewIDWithName(metadata.Type, "nosinks").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	assert.ErrorContains(t, confmap.Validate(cfg), "sinks must configure at least one of")
}

func TestValidate(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.ErrorContains(t, cfg.Validate(), "sinks must configure at least one")
	cfg = testConfig("https://example.invalid/hook")
	require.NoError(t, cfg.Validate())
	cfg.IdleAdvance = -time.Second
	require.ErrorContains(t, cfg.Validate(), "idle_advance must not be negative")
	cfg = testConfig("https://example.invalid/hook")
	cfg.Incidents.MaxHops = -1
	assert.Error(t, cfg.Validate())
}

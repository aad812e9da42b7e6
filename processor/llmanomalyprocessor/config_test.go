// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-aiops/otelcol-aiops/internal/miner"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	storageID := component.MustNewID("file_storage")
	custom := createDefaultConfig().(*Config)
	custom.AllowedLateness = 10 * time.Second
	custom.MaxClockSkew = 2 * time.Minute
	custom.Timeout = 5 * time.Second
	custom.MaxHeldRecords = 10000
	custom.MessageFields = []string{"msg", "message"}
	custom.Session.Attribute = "request.id"
	custom.Session.Regex = `blk_-?\d+`
	custom.Templates.SimilarityThreshold = 0.6
	custom.Templates.Depth = 5
	custom.Templates.MaxChildren = 50
	custom.Templates.MaxTemplates = 500
	custom.Templates.MaxLineLength = 4096
	custom.Templates.MaxTokens = 64
	custom.Templates.ChurnGuardRatio = 0.25
	custom.Templates.Masks = []miner.Mask{{Name: "tenant", Regex: "tenant-[a-z0-9]+"}}
	custom.MaxServices = 50
	custom.Detectors.NewTemplate.Enabled = false
	custom.Detectors.RareTemplate.MaxRatio = 0.002
	custom.IncludeParams = true
	custom.AnnotateNormal = false
	custom.Storage = &storageID
	custom.SnapshotInterval = 30 * time.Second

	tests := []struct {
		id       component.ID
		expected component.Config
	}{
		{id: component.NewID(metadata.Type), expected: createDefaultConfig()},
		{id: component.NewIDWithName(metadata.Type, "custom"), expected: custom},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			assert.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestLoadInvalidConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "invalid").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	err = confmap.Validate(cfg)
	require.Error(t, err)
	require.ErrorContains(t, err, "allowed_lateness must be between 0 and 1h")
	require.ErrorContains(t, err, "max_held_records must be positive")
	require.ErrorContains(t, err, "message_fields must not be empty")
	require.ErrorContains(t, err, "session.regex is invalid")
}

func TestNestedConfigErrorsAreReported(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Templates.SimilarityThreshold = 2
	cfg.Detectors.Rate.Bucket = 0
	err := confmap.Validate(cfg)
	require.Error(t, err)
	require.ErrorContains(t, err, "similarity_threshold must be in (0,1]")
	require.ErrorContains(t, err, "rate.bucket must be positive")
}

func TestDefaultConfigUnmarshalsFromEmpty(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, confmap.New().Unmarshal(&cfg))
	assert.Equal(t, createDefaultConfig(), cfg)
	assert.NoError(t, confmap.Validate(cfg))
}

func TestValidate(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"lateness", func(c *Config) { c.AllowedLateness = -time.Second }, "allowed_lateness must be between 0 and 1h"},
		{"skew", func(c *Config) { c.MaxClockSkew = -time.Second }, "max_clock_skew must not be negative"},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "timeout must be positive"},
		{"held", func(c *Config) { c.MaxHeldRecords = 0 }, "max_held_records must be positive"},
		{"fields", func(c *Config) { c.MessageFields = nil }, "message_fields must not be empty"},
		{"empty field", func(c *Config) { c.MessageFields = []string{"msg", ""} }, "message_fields[1] must not be empty"},
		{"services", func(c *Config) { c.MaxServices = 0 }, "max_services must be positive"},
		{"regex", func(c *Config) { c.Session.Regex = "(" }, "session.regex is invalid"},
		{"snapshot", func(c *Config) { c.Storage = &storageID; c.SnapshotInterval = 0 }, "snapshot_interval must be positive when storage is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			assert.ErrorContains(t, cfg.Validate(), tt.want)
		})
	}
	assert.NoError(t, createDefaultConfig().(*Config).Validate())
}

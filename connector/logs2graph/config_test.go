// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	storageID := component.MustNewID("file_storage")
	custom := createDefaultConfig().(*Config)
	custom.FlushInterval = 30 * time.Second
	custom.AllowedLateness = 20 * time.Second
	custom.PendingTTL = 20 * time.Second
	custom.EdgeTTL = 168 * time.Hour
	custom.MaxPendingSpans = 50000
	custom.MaxEdges = 2000
	custom.MaxNodes = 1000
	custom.UserNode = "internet"
	custom.LatencyBuckets = []time.Duration{5 * time.Millisecond, 50 * time.Millisecond, 500 * time.Millisecond, 5 * time.Second}
	custom.SnapshotInterval = 5 * time.Minute
	custom.MaxClockSkew = 2 * time.Minute
	custom.IdleAdvance = time.Minute
	custom.Storage = &storageID
	custom.PersistInterval = 30 * time.Second

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
	for _, key := range []string{"flush_interval", "allowed_lateness", "pending_ttl", "edge_ttl", "max_pending_spans",
		"max_edges", "max_nodes", "user_node", "latency_buckets", "snapshot_interval", "max_clock_skew", "idle_advance", "persist_interval"} {
		assert.Contains(t, err.Error(), key)
	}
}

func TestDefaultConfigMatchesGraphDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	gc := cfg.graphConfig()
	def := graph.DefaultConfig()
	assert.Equal(t, def.PendingTTL, gc.PendingTTL)
	assert.Equal(t, def.FlushInterval, gc.FlushInterval)
	assert.Equal(t, def.AllowedLateness, gc.AllowedLateness)
	assert.Equal(t, def.EdgeTTL, gc.EdgeTTL)
	assert.Equal(t, def.MaxPending, gc.MaxPending)
	assert.Equal(t, def.MaxEdges, gc.MaxEdges)
	assert.Equal(t, def.MaxNodes, gc.MaxNodes)
	assert.Equal(t, def.UserName, gc.UserName)
	assert.InDeltaSlice(t, def.LatencyBuckets, gc.LatencyBuckets, 1e-12)
	require.NoError(t, gc.Validate())
}

func TestValidate(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	tests := []struct {
		name   string
		modify func(*Config)
		err    string
	}{
		{"flush_interval", func(c *Config) { c.FlushInterval = 0 }, "flush_interval must be positive"},
		{"flush_interval too long", func(c *Config) { c.FlushInterval = 1 << 62 }, "flush_interval must be at most 320255h58m24.606846976s"},
		{"allowed_lateness", func(c *Config) { c.AllowedLateness = -time.Second }, "allowed_lateness must not be negative"},
		{"pending_ttl", func(c *Config) { c.PendingTTL = 0 }, "pending_ttl must be positive"},
		{"edge_ttl", func(c *Config) { c.EdgeTTL = 0 }, "edge_ttl must be positive"},
		{"max_pending_spans", func(c *Config) { c.MaxPendingSpans = 1 }, "max_pending_spans must be between 2 and 1073741823"},
		{"max_edges", func(c *Config) { c.MaxEdges = 0 }, "max_edges must be between 1 and 1073741823"},
		{"max_nodes", func(c *Config) { c.MaxNodes = 1 << 40 }, "max_nodes must be between 2 and 1073741823"},
		{"user_node", func(c *Config) { c.UserNode = "" }, "user_node must not be empty"},
		{"user_node too long", func(c *Config) { c.UserNode = strings.Repeat("u", 257) }, "user_node must be at most 256 bytes long"},
		{"latency_buckets empty", func(c *Config) { c.LatencyBuckets = nil }, "latency_buckets must have between 1 and 256 bounds"},
		{"latency_buckets negative", func(c *Config) { c.LatencyBuckets = []time.Duration{-time.Second} }, "latency_buckets[0] must be positive"},
		{"latency_buckets order", func(c *Config) { c.LatencyBuckets = []time.Duration{time.Second, time.Second} },
			"latency_buckets must be strictly increasing (latency_buckets[1] = 1s after 1s)"},
		{"snapshot_interval", func(c *Config) { c.SnapshotInterval = -1 }, "snapshot_interval must not be negative"},
		{"max_clock_skew", func(c *Config) { c.MaxClockSkew = -1 }, "max_clock_skew must not be negative"},
		{"idle_advance", func(c *Config) { c.IdleAdvance = -1 }, "idle_advance must not be negative"},
		{"persist_interval", func(c *Config) { c.Storage = &storageID; c.PersistInterval = 0 }, "persist_interval must be positive when storage is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.modify(cfg)
			require.EqualError(t, cfg.Validate(), tt.err)
		})
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph // import "github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph"

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

// maxSetting bounds the size settings (the graph store indexes its tables with int32).
const maxSetting = math.MaxInt32 / 2

// maxConfigDuration bounds every duration (the graph store works in int64 nanoseconds).
const maxConfigDuration = time.Duration(1) << 60

// Config defines the configuration of the logs2graph connector. Every duration except
// snapshot_interval, max_clock_skew, idle_advance and persist_interval is event time (the
// timestamps of the spans and log records), so replayed data gives the same graph as live data.
type Config struct {
	// FlushInterval is the length of the event-time windows: one edge record is emitted per edge
	// active in each window. Windows are aligned on multiples of it since the Unix epoch.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// AllowedLateness is how long (event time) a window stays open after its end for late data.
	// A window [s, e) is emitted once event time (the second most advanced service's latest span
	// or record) reaches e + allowed_lateness.
	// Keep it >= pending_ttl so that unmatched span halves still land in their own window.
	AllowedLateness time.Duration `mapstructure:"allowed_lateness"`
	// PendingTTL is how long (event time) a span waits for the other half of its call (its
	// parent, or its server or consumer child). Then an unmatched CLIENT/PRODUCER span counts as
	// a call to its peer (for example a database) and an unmatched SERVER span as a call from
	// user_node.
	PendingTTL time.Duration `mapstructure:"pending_ttl"`
	// EdgeTTL is how long (event time) an edge is kept after its last call or log. Keep it long
	// (days) so that sampled or rare calls do not vanish from the graph.
	EdgeTTL time.Duration `mapstructure:"edge_ttl"`
	// MaxPendingSpans bounds the spans waiting for pairing (each span counts once, whether or
	// not its parent has been seen; a log record waiting for a span not seen yet counts as one).
	// About 170 bytes per span, plus up to as much again for the placeholder of a parent not
	// seen yet. Beyond it new spans are dropped and counted (reason pending_full).
	MaxPendingSpans int `mapstructure:"max_pending_spans"`
	// MaxEdges bounds the live edges. Beyond it, calls that would create an edge are dropped and
	// counted.
	MaxEdges int `mapstructure:"max_edges"`
	// MaxNodes bounds the live nodes (services, the user node and uninstrumented peers).
	MaxNodes int `mapstructure:"max_nodes"`
	// UserNode is the client name of root SERVER spans that have no instrumented caller.
	UserNode string `mapstructure:"user_node"`
	// InstanceID names this instance among replicas that share the traces (an analysis tier
	// scaled out on Kafka): it is the output resource's service.instance.id, so that the rca
	// exporter follows each replica's stream of windows and merges their shares of one window.
	// Empty (the default): the host name (in Kubernetes, the pod's name).
	InstanceID string `mapstructure:"instance_id"`
	// LatencyBuckets are the explicit bucket bounds of the latency histograms of the
	// traces -> metrics output (strictly increasing). The default is contrib servicegraph's.
	LatencyBuckets []time.Duration `mapstructure:"latency_buckets"`
	// SnapshotInterval is how often (wall clock) a full snapshot of every live edge is emitted as
	// logs2graph.snapshot records, so that a consumer started late learns the whole graph.
	// 0 disables snapshots.
	SnapshotInterval time.Duration `mapstructure:"snapshot_interval"`
	// MaxClockSkew bounds clock skew while event time is live (within max_clock_skew of the wall
	// clock): a span or log record more than max_clock_skew ahead of the wall clock is re-stamped
	// (a span to the wall clock, keeping its duration; a log record to its observed time when
	// that is plausible) and counted. Replays of past data are never re-stamped. Timestamps
	// before 1971 or more than a day ahead are always re-stamped; 0 disables only the skew check.
	// A snapshot restored from storage whose event time is ahead of the wall clock by more than
	// max_clock_skew does not restore its event time.
	MaxClockSkew time.Duration `mapstructure:"max_clock_skew"`
	// IdleAdvance makes event time progress with the wall clock once no span or log record has
	// arrived for idle_advance, so that the last windows are emitted when the input stops.
	// 0 disables it (windows then close only when newer data arrives, or at shutdown).
	IdleAdvance time.Duration `mapstructure:"idle_advance"`
	// Storage is the ID of a storage extension (for example file_storage) used to keep the
	// graph's edges across restarts. Without it, the graph lives only in memory.
	Storage *component.ID `mapstructure:"storage"`
	// PersistInterval is how often (wall clock) the graph is saved to storage; it is also saved
	// at shutdown.
	PersistInterval time.Duration `mapstructure:"persist_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration. Error messages name the YAML keys.
func (cfg *Config) Validate() error {
	var errs []error
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", key))
		} else if d > maxConfigDuration {
			errs = append(errs, fmt.Errorf("%s must be at most %v", key, maxConfigDuration))
		}
	}
	nonNegative := func(key string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", key))
		} else if d > maxConfigDuration {
			errs = append(errs, fmt.Errorf("%s must be at most %v", key, maxConfigDuration))
		}
	}
	positive("flush_interval", cfg.FlushInterval)
	nonNegative("allowed_lateness", cfg.AllowedLateness)
	positive("pending_ttl", cfg.PendingTTL)
	positive("edge_ttl", cfg.EdgeTTL)
	nonNegative("snapshot_interval", cfg.SnapshotInterval)
	nonNegative("max_clock_skew", cfg.MaxClockSkew)
	nonNegative("idle_advance", cfg.IdleAdvance)
	if cfg.MaxPendingSpans < 2 || cfg.MaxPendingSpans > maxSetting {
		errs = append(errs, fmt.Errorf("max_pending_spans must be between 2 and %d", maxSetting))
	}
	if cfg.MaxEdges < 1 || cfg.MaxEdges > maxSetting {
		errs = append(errs, fmt.Errorf("max_edges must be between 1 and %d", maxSetting))
	}
	if cfg.MaxNodes < 2 || cfg.MaxNodes > maxSetting {
		errs = append(errs, fmt.Errorf("max_nodes must be between 2 and %d", maxSetting))
	}
	if cfg.UserNode == "" {
		errs = append(errs, errors.New("user_node must not be empty"))
	}
	if len(cfg.UserNode) > graph.MaxNameBytes {
		errs = append(errs, fmt.Errorf("user_node must be at most %d bytes long", graph.MaxNameBytes))
	}
	if len(cfg.LatencyBuckets) == 0 || len(cfg.LatencyBuckets) > 256 {
		errs = append(errs, errors.New("latency_buckets must have between 1 and 256 bounds"))
	}
	for i, b := range cfg.LatencyBuckets {
		if b <= 0 {
			errs = append(errs, fmt.Errorf("latency_buckets[%d] must be positive", i))
			break
		}
		if i > 0 && b <= cfg.LatencyBuckets[i-1] {
			errs = append(errs, fmt.Errorf("latency_buckets must be strictly increasing (latency_buckets[%d] = %v after %v)", i, b, cfg.LatencyBuckets[i-1]))
			break
		}
	}
	if cfg.Storage != nil && cfg.PersistInterval <= 0 {
		errs = append(errs, errors.New("persist_interval must be positive when storage is set"))
	}
	return errors.Join(errs...)
}

// graphConfig maps the user configuration to the graph store's.
func (cfg *Config) graphConfig() graph.Config {
	gc := graph.DefaultConfig()
	gc.PendingTTL = cfg.PendingTTL
	gc.FlushInterval = cfg.FlushInterval
	gc.AllowedLateness = cfg.AllowedLateness
	gc.EdgeTTL = cfg.EdgeTTL
	gc.MaxPending = cfg.MaxPendingSpans
	gc.MaxEdges = cfg.MaxEdges
	gc.MaxNodes = cfg.MaxNodes
	gc.UserName = cfg.UserNode
	gc.Clock.MaxSkew = cfg.MaxClockSkew
	gc.Clock.MaxSources = cfg.MaxNodes
	gc.LatencyBuckets = make([]float64, len(cfg.LatencyBuckets))
	for i, b := range cfg.LatencyBuckets {
		gc.LatencyBuckets[i] = b.Seconds()
	}
	return gc
}

// defaultLatencyBuckets are contrib servicegraph's bounds as durations.
func defaultLatencyBuckets() []time.Duration {
	secs := graph.DefaultLatencyBuckets()
	out := make([]time.Duration, len(secs))
	for i, s := range secs {
		out[i] = time.Duration(math.Round(s * float64(time.Second)))
	}
	return out
}

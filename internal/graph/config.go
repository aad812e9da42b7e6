// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

// DefaultLatencyBuckets are the explicit histogram bounds, in seconds, of contrib's servicegraph
// connector (2ms ... 15s), so that the derived metrics line up with Grafana's service graph view.
func DefaultLatencyBuckets() []float64 {
	return []float64{0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15}
}

// Config configures a Store. Start from DefaultConfig. All durations are event time.
type Config struct {
	// PendingTTL is how long a span waits for its partner (its parent, or a child on the other
	// side of a call), counted in watermark progress since it arrived. Then the span expires:
	// an unmatched CLIENT/PRODUCER becomes a call to its peer, a SERVER whose parent never came
	// becomes a call from UserName.
	PendingTTL time.Duration
	// FlushInterval is the window length; windows are aligned on multiples of it since the epoch.
	FlushInterval time.Duration
	// AllowedLateness: a window [s, e) closes once the watermark reaches e + AllowedLateness.
	// Keep it >= PendingTTL so that expired halves still reach their own window.
	AllowedLateness time.Duration
	// EdgeTTL: an edge is removed when the watermark passes its last event by EdgeTTL.
	EdgeTTL time.Duration
	// MaxPending bounds the pending spans (spans waiting for TTL, and placeholders that only log
	// records wait on). A placeholder for a parent not yet seen is not counted: there is at most
	// one per waiting span, so the pending entries stay within 2 x MaxPending. About 170 bytes per
	// entry, so 170-340 bytes per span.
	MaxPending int
	// MaxEdges bounds live edges (about 1.5 KiB each, plus 1-3 KiB per open window with calls).
	MaxEdges int
	// MaxNodes bounds live node names (services, users and virtual peers).
	MaxNodes int
	// UserName is the client node of root SERVER spans.
	UserName string
	// LatencyBuckets are the explicit bounds, in seconds and strictly increasing, of the
	// per-edge client and server latency histograms.
	LatencyBuckets []float64
	// Clock configures the event-time clock over the services (one source per service.name of
	// spans and logs): event time is the Quorum-th most advanced service's progress, so no single
	// service can move it, and MaxSkew bounds how far ahead of the wall clock StampSpans and
	// StampLogs accept timestamps while event time is live. See internal/eventtime.
	Clock eventtime.Config
}

// DefaultConfig returns the defaults: 10s pending TTL, 15s windows, 15s lateness, 72h edge TTL,
// 200000 pending entries, 10000 edges, 10000 nodes, user name "user", contrib's buckets, and
// eventtime's default clock (quorum of 2 services, 1m skew, 10000 sources).
func DefaultConfig() Config {
	return Config{
		PendingTTL:      10 * time.Second,
		FlushInterval:   15 * time.Second,
		AllowedLateness: 15 * time.Second,
		EdgeTTL:         72 * time.Hour,
		MaxPending:      200_000,
		MaxEdges:        10_000,
		MaxNodes:        10_000,
		UserName:        "user",
		LatencyBuckets:  DefaultLatencyBuckets(),
		Clock:           eventtime.DefaultConfig(),
	}
}

// maxBuckets bounds LatencyBuckets (and the decoder).
const maxBuckets = 256

// Validate reports every invalid setting, joined.
func (c *Config) Validate() error {
	var errs []error
	if c.PendingTTL <= 0 {
		errs = append(errs, errors.New("pending TTL must be positive"))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, errors.New("flush interval must be positive"))
	}
	if c.AllowedLateness < 0 {
		errs = append(errs, errors.New("allowed lateness must not be negative"))
	}
	if c.EdgeTTL <= 0 {
		errs = append(errs, errors.New("edge TTL must be positive"))
	}
	for _, d := range []time.Duration{c.PendingTTL, c.FlushInterval, c.AllowedLateness, c.EdgeTTL} {
		if int64(d) > maxDuration {
			errs = append(errs, fmt.Errorf("duration %v exceeds the maximum %v", d, time.Duration(maxDuration)))
			break
		}
	}
	if c.MaxPending < 2 {
		errs = append(errs, errors.New("max pending must be at least 2"))
	}
	if c.MaxPending > math.MaxInt32/2 {
		errs = append(errs, fmt.Errorf("max pending must be at most %d", math.MaxInt32/2))
	}
	if c.MaxEdges < 1 || c.MaxEdges > math.MaxInt32/2 {
		errs = append(errs, fmt.Errorf("max edges must be in [1, %d]", math.MaxInt32/2))
	}
	if c.MaxNodes < 2 || c.MaxNodes > math.MaxInt32/2 {
		errs = append(errs, fmt.Errorf("max nodes must be in [2, %d]", math.MaxInt32/2))
	}
	if c.UserName == "" {
		errs = append(errs, errors.New("user name must not be empty"))
	}
	if len(c.UserName) > MaxNameBytes {
		errs = append(errs, fmt.Errorf("user name must be at most %d bytes long", MaxNameBytes))
	}
	if err := validateBuckets(c.LatencyBuckets); err != nil {
		errs = append(errs, err)
	}
	if err := c.Clock.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("clock: %w", err))
	}
	return errors.Join(errs...)
}

func validateBuckets(b []float64) error {
	if len(b) == 0 || len(b) > maxBuckets {
		return fmt.Errorf("latency buckets: need 1 to %d bounds, got %d", maxBuckets, len(b))
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > 1e9 {
			return fmt.Errorf("latency buckets: bound %d (%v) must be a positive finite number of seconds", i, v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("latency buckets: bounds must be strictly increasing (%v after %v)", v, b[i-1])
		}
	}
	return nil
}

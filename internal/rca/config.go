// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca // import "github.com/otelcol-aiops/otelcol-aiops/internal/rca"

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config holds the engine's thresholds, windows and bounds. Durations are event time.
type Config struct {
	// OpenWindow is the window over which a service's anomaly scores are summed to decide
	// whether an incident opens.
	OpenWindow time.Duration
	// OpenThreshold is the summed anomaly score (over OpenWindow, one service) that opens an
	// incident. Anomalies of severity Low count towards the sum but cannot open an incident alone.
	OpenThreshold float64
	// JoinThreshold is the summed anomaly score (over OpenWindow) a connected service outside an
	// open incident needs before it joins; 0 lets every connected anomaly join at once.
	JoinThreshold float64
	// CorrelationWindow: anomalies of services connected to an open incident (within MaxHops)
	// join it when they are at most this far from its latest evidence. Pending anomalies older
	// than watermark-CorrelationWindow are forgotten, anomalies older than that are dropped as late.
	CorrelationWindow time.Duration
	// MaxHops is the undirected graph distance within which services are correlated.
	MaxHops int
	// QuietPeriod: an incident resolves when no evidence arrived for this long.
	QuietPeriod time.Duration
	// EdgeTTL: graph edges not seen for this long are forgotten.
	EdgeTTL time.Duration
	// OnsetScale is the time constant of the onset term: a candidate whose first anomaly is
	// OnsetScale later than the earliest gets exp(-1) of the onset weight.
	OnsetScale time.Duration

	// Edge baselines.
	// BaselineAlpha is the EWMA weight of a new normal window.
	BaselineAlpha float64
	// BaselineWarmup is the number of windows before an edge's baseline is trusted.
	BaselineWarmup int
	// MinCalls is the number of calls a window needs for its error rate or latency to be judged.
	MinCalls int64
	// MinErrors is the number of errors a window needs to be an error anomaly.
	MinErrors int64
	// ErrorRateDelta is the minimum absolute error-rate increase over the baseline.
	ErrorRateDelta float64
	// ColdErrorRate is the error rate that is anomalous before the baseline is warm.
	ColdErrorRate float64
	// LatencyFactor is the minimum p95 / baseline p95 ratio of a latency anomaly.
	LatencyFactor float64
	// MinLatencyIncreaseMs is the minimum absolute p95 increase (ms) of a latency anomaly.
	MinLatencyIncreaseMs float64
	// Low-volume windows (at least one call, fewer than MinCalls) are judged against a separate
	// baseline that every window with calls feeds (docs/rca.md, "the minimum evidence").
	// LowVolumeFactor: a low-volume window is off when its p95 latency (the maximum for one or
	// two calls) is at least this many times the low-volume baseline, or when its error rate is at
	// least this many times the baseline error rate (and at least LowVolumeErrorRate).
	LowVolumeFactor float64
	// LowVolumePersistence is the number of consecutive windows with calls that must be off (the
	// last one a low-volume window) before it is an edge anomaly; 0 disables the low-volume rule.
	LowVolumePersistence int
	// LatencyPersistence is the number of consecutive windows (with MinCalls calls or more) whose
	// p95 latency must be off before they are an edge latency anomaly: a burst of a few windows
	// under a bursty load is not a fault. 1 judges every window alone.
	LatencyPersistence int
	// LowVolumeMaxGap: windows without calls do not break a run of off windows, but a window with
	// calls that starts more than this after the end of the previous one starts a new run.
	LowVolumeMaxGap time.Duration
	// LowVolumeErrorRate is the least error rate of a low-volume window whose errors count.
	LowVolumeErrorRate float64
	// OwnTimeFactor: a service's own time per span in a window (or an edge's call gap, gap.go)
	// is changed when it is at least this many times its median over its recent normal windows
	// (and well outside their spread), or half as far above it when that is more than 30
	// scaled MADs (a steady service's own time; not for gaps); OwnTimePersistence such windows
	// in a row are an own-time anomaly of the service (a gap needs LatencyPersistence). 0
	// persistence disables own-time anomalies.
	OwnTimeFactor      float64
	OwnTimePersistence int
	// FleetShare: when at least three services and more than this share of the services judged in
	// a window changed together, it is load, not a fault: none of them is an anomaly.
	FleetShare float64
	// InternalEdgesOpen lets a latency or error anomaly of a busy internal edge (a caller that is
	// not the user node, MinCalls calls or more) open an incident by itself. By default such
	// anomalies only join incidents opened by what users feel (entry edges), by a service's own
	// signals (own time, error bursts in its logs) or by a quiet edge: under bursty load internal
	// edges are noisy, and a noisy internal edge alone is not an incident.
	InternalEdgesOpen bool

	// Bounds.
	MaxEdges               int // graph edges; new edges are dropped when full
	MaxServices            int // services with pending (not yet grouped) anomalies
	MaxPendingPerService   int // pending anomalies kept per service (oldest overwritten)
	MaxOpenIncidents       int // new incidents are dropped when full
	MaxServicesPerIncident int
	MaxTemplatesPerService int // per incident
	MaxEvidence            int
	MaxDependencyPaths     int
	MaxCandidates          int
	TopTemplates           int // per service in the output
	KnowledgeBaseSize      int
	MaxSimilar             int
	MinSimilarity          float64

	// Evidence history, for Investigate (investigate.go).
	// HistoryRetention is how long (event time) per-service summaries of the anomaly evidence are
	// kept for queries; the effective retention is at least CorrelationWindow. It is also the
	// longest query window.
	HistoryRetention time.Duration
	// MaxHistoryBuckets bounds the summaries kept (one per service and 15 s of event time); when it
	// is full the oldest summary is dropped and history before it counts as not held.
	MaxHistoryBuckets int
}

// DefaultConfig returns general defaults (documented in docs/rca.md).
func DefaultConfig() Config {
	return Config{
		OpenWindow:             time.Minute,
		OpenThreshold:          1.5,
		JoinThreshold:          1.2,
		CorrelationWindow:      5 * time.Minute,
		MaxHops:                2,
		QuietPeriod:            5 * time.Minute,
		EdgeTTL:                30 * time.Minute,
		OnsetScale:             30 * time.Second,
		BaselineAlpha:          0.2,
		BaselineWarmup:         3,
		MinCalls:               5,
		MinErrors:              3,
		ErrorRateDelta:         0.1,
		ColdErrorRate:          0.5,
		LatencyFactor:          3,
		MinLatencyIncreaseMs:   50,
		LowVolumeFactor:        10,
		LowVolumePersistence:   2,
		LatencyPersistence:     2,
		LowVolumeMaxGap:        2 * time.Minute,
		LowVolumeErrorRate:     0.5,
		OwnTimeFactor:          2,
		OwnTimePersistence:     4,
		FleetShare:             0.3,
		MaxEdges:               10_000,
		MaxServices:            5_000,
		MaxPendingPerService:   64,
		MaxOpenIncidents:       100,
		MaxServicesPerIncident: 200,
		MaxTemplatesPerService: 50,
		MaxEvidence:            10,
		MaxDependencyPaths:     20,
		MaxCandidates:          10,
		TopTemplates:           3,
		KnowledgeBaseSize:      1_000,
		MaxSimilar:             3,
		MinSimilarity:          0.2,
		HistoryRetention:       30 * time.Minute,
		MaxHistoryBuckets:      5_000,
	}
}

// Validate reports invalid settings.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	pos("open_window", c.OpenWindow)
	pos("correlation_window", c.CorrelationWindow)
	pos("quiet_period", c.QuietPeriod)
	pos("edge_ttl", c.EdgeTTL)
	pos("onset_scale", c.OnsetScale)
	pos("history_retention", c.HistoryRetention)
	if !(c.OpenThreshold > 0) || math.IsInf(c.OpenThreshold, 0) {
		errs = append(errs, errors.New("open_threshold must be positive and finite"))
	}
	if c.MaxHops < 0 || c.MaxHops > 10 {
		errs = append(errs, errors.New("max_hops must be in [0, 10]"))
	}
	if !(c.BaselineAlpha > 0 && c.BaselineAlpha <= 1) {
		errs = append(errs, errors.New("baseline_alpha must be in (0, 1]"))
	}
	if c.BaselineWarmup < 0 {
		errs = append(errs, errors.New("baseline_warmup must not be negative"))
	}
	if !(c.LatencyFactor >= 1) || math.IsInf(c.LatencyFactor, 0) {
		errs = append(errs, errors.New("latency_factor must be >= 1"))
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"error_rate_delta", c.ErrorRateDelta}, {"cold_error_rate", c.ColdErrorRate}, {"min_similarity", c.MinSimilarity}} {
		if !(f.v >= 0 && f.v <= 1) {
			errs = append(errs, fmt.Errorf("%s must be in [0, 1]", f.n))
		}
	}
	if !(c.MinLatencyIncreaseMs >= 0) || math.IsInf(c.MinLatencyIncreaseMs, 0) {
		errs = append(errs, errors.New("min_latency_increase_ms must be >= 0"))
	}
	if c.LatencyPersistence < 1 || c.LatencyPersistence > 100 {
		errs = append(errs, errors.New("latency_persistence must be in [1, 100]"))
	}
	if c.OwnTimePersistence < 0 || c.OwnTimePersistence > 100 || c.OwnTimeFactor < 1 || c.FleetShare <= 0 || c.FleetShare > 1 {
		errs = append(errs, errors.New("own_time_persistence must be in [0, 100], own_time_factor at least 1 and fleet_share in (0, 1]"))
	}
	if c.LowVolumePersistence < 0 || c.LowVolumePersistence > 100 {
		errs = append(errs, errors.New("low_volume_persistence must be in [0, 100] (0 disables the low-volume rule)"))
	}
	if c.LowVolumePersistence > 0 {
		if !(c.LowVolumeFactor >= 1) || math.IsInf(c.LowVolumeFactor, 0) {
			errs = append(errs, errors.New("low_volume_factor must be >= 1 and finite"))
		}
		pos("low_volume_max_gap", c.LowVolumeMaxGap)
		if !(c.LowVolumeErrorRate > 0 && c.LowVolumeErrorRate <= 1) {
			errs = append(errs, errors.New("low_volume_error_rate must be in (0, 1]"))
		}
	}
	if c.MinCalls < 1 || c.MinErrors < 1 {
		errs = append(errs, errors.New("min_calls and min_errors must be >= 1"))
	}
	for _, b := range []struct {
		n string
		v int
	}{
		{"max_edges", c.MaxEdges}, {"max_services", c.MaxServices}, {"max_pending_per_service", c.MaxPendingPerService},
		{"max_open_incidents", c.MaxOpenIncidents}, {"max_services_per_incident", c.MaxServicesPerIncident},
		{"max_templates_per_service", c.MaxTemplatesPerService}, {"max_evidence", c.MaxEvidence},
		{"max_dependency_paths", c.MaxDependencyPaths}, {"max_candidates", c.MaxCandidates},
		{"top_templates", c.TopTemplates}, {"knowledge_base_size", c.KnowledgeBaseSize}, {"max_similar", c.MaxSimilar},
		{"max_history_buckets", c.MaxHistoryBuckets},
	} {
		if b.v < 1 {
			errs = append(errs, fmt.Errorf("%s must be >= 1", b.n))
		}
	}
	return errors.Join(errs...)
}

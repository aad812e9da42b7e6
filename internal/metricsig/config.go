// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricsig // import "github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config configures a Detector. Durations are event time.
type Config struct {
	// Period is the length of one point: a series' samples are aggregated per Period-aligned
	// window. Match it to the scrape or flush interval of the metrics (kubeletstats
	// collection_interval, spanmetrics metrics_flush_interval) or a multiple of it.
	Period time.Duration
	// Lateness is how long after its end (as measured by the watermark) a window still accepts
	// samples. Later samples are dropped (Stats.Late). Judging waits for it.
	Lateness time.Duration
	// Window is the number of trailing points of a series' baseline.
	Window int
	// Warmup is the number of baseline points a series needs before it is judged.
	Warmup int
	// Threshold is the robust z (distance from the baseline median in scaled MADs, on a log scale
	// for CPU, memory and latency) a point needs to be off. Score = 0.5*z/Threshold, at most 1.
	Threshold float64
	// Persistence is the number of consecutive off points of a series before they are evidence.
	Persistence int
	// MaxGap: off points further apart than this (no data in between) do not form a run.
	MaxGap time.Duration
	// MaxHold is the number of off points of a run kept out of the baseline; later points of the
	// run are learned, so that a lasting change becomes the new normal.
	MaxHold int
	// CPUMinRatio, MemoryMinRatio and LatencyMinRatio are the least value/baseline-median ratios
	// of an off point of each kind.
	CPUMinRatio     float64
	MemoryMinRatio  float64
	LatencyMinRatio float64
	// ErrorMinIncrease is the least rise of the error rate over its baseline median of an off point.
	ErrorMinIncrease float64
	// MinErrors is the least number of failed requests in an off error-rate point (when counts
	// are known).
	MinErrors float64
	// MinRequests: latency and error-rate points with fewer requests (when counts are known) are
	// neither judged nor learned (Stats.LowVolume).
	MinRequests float64
	// FleetMinSeries is the number of warm CPU (or latency) series a window needs before a shift
	// shared by most of them is measured and discounted; 0 disables fleet awareness.
	FleetMinSeries int
	// RestartScore is the score of one restart in a window; every further restart adds 0.05.
	RestartScore float64
	// Quorum is the number of services whose progress the watermark needs (see internal/eventtime).
	Quorum int
	// MaxSeries bounds the (service, signal) series. Samples of new series beyond it are dropped
	// (Stats.DroppedSeries) once series idle for StaleAfter have been evicted.
	MaxSeries int
	// StaleAfter: series without samples for this long may be evicted when MaxSeries is reached.
	StaleAfter time.Duration
	// MaxInstances bounds the pods or containers of one series in one window; samples of further
	// instances are dropped (Stats.DroppedInstances).
	MaxInstances int
}

// DefaultConfig returns the defaults (documented in docs/metrics.md).
func DefaultConfig() Config {
	return Config{
		Period:           time.Minute,
		Lateness:         0,
		Window:           60,
		Warmup:           15,
		Threshold:        5,
		Persistence:      2,
		MaxGap:           3 * time.Minute,
		MaxHold:          30,
		CPUMinRatio:      1.5,
		MemoryMinRatio:   1.3,
		LatencyMinRatio:  1.5,
		ErrorMinIncrease: 0.05,
		MinErrors:        3,
		MinRequests:      5,
		FleetMinSeries:   4,
		RestartScore:     0.8,
		Quorum:           2,
		MaxSeries:        10_000,
		StaleAfter:       time.Hour,
		MaxInstances:     64,
	}
}

// maxRingWindows bounds the windows a series keeps open (Lateness / Period + 1 + aheadWindows).
const maxRingWindows = 64

// Validate reports invalid settings.
func (c Config) Validate() error {
	var errs []error
	if c.Period < time.Second {
		errs = append(errs, errors.New("period must be at least 1s"))
	}
	if c.Lateness < 0 {
		errs = append(errs, errors.New("lateness must not be negative"))
	} else if c.Period >= time.Second && int64(c.Lateness/c.Period)+2+aheadWindows > maxRingWindows {
		errs = append(errs, fmt.Errorf("lateness must be less than %d periods", maxRingWindows-1-aheadWindows))
	}
	if c.Window < 3 || c.Window > 10_000 {
		errs = append(errs, errors.New("window must be in [3, 10000]"))
	}
	if c.Warmup < 3 || c.Warmup > c.Window {
		errs = append(errs, errors.New("warmup must be in [3, window]"))
	}
	if !(c.Threshold > 0) || math.IsInf(c.Threshold, 0) {
		errs = append(errs, errors.New("threshold must be positive and finite"))
	}
	if c.Persistence < 1 || c.Persistence > 100 {
		errs = append(errs, errors.New("persistence must be in [1, 100]"))
	}
	if c.MaxGap < c.Period {
		errs = append(errs, errors.New("max_gap must be at least one period"))
	}
	if c.MaxHold < 0 {
		errs = append(errs, errors.New("max_hold must not be negative"))
	}
	for _, r := range []struct {
		n string
		v float64
	}{{"cpu_min_ratio", c.CPUMinRatio}, {"memory_min_ratio", c.MemoryMinRatio}, {"latency_min_ratio", c.LatencyMinRatio}} {
		if !(r.v >= 1) || math.IsInf(r.v, 0) {
			errs = append(errs, fmt.Errorf("%s must be >= 1 and finite", r.n))
		}
	}
	if !(c.ErrorMinIncrease > 0 && c.ErrorMinIncrease <= 1) {
		errs = append(errs, errors.New("error_min_increase must be in (0, 1]"))
	}
	if !(c.MinErrors >= 0) || math.IsInf(c.MinErrors, 0) || !(c.MinRequests >= 0) || math.IsInf(c.MinRequests, 0) {
		errs = append(errs, errors.New("min_errors and min_requests must be >= 0 and finite"))
	}
	if c.FleetMinSeries < 0 || c.FleetMinSeries == 1 {
		errs = append(errs, errors.New("fleet_min_series must be 0 (disabled) or >= 2"))
	}
	if !(c.RestartScore > 0 && c.RestartScore <= 1) {
		errs = append(errs, errors.New("restart_score must be in (0, 1]"))
	}
	if c.Quorum < 1 || c.Quorum > 16 {
		errs = append(errs, errors.New("quorum must be in [1, 16]"))
	}
	if c.MaxSeries < 1 {
		errs = append(errs, errors.New("max_series must be >= 1"))
	}
	if c.StaleAfter < c.Period {
		errs = append(errs, errors.New("stale_after must be at least one period"))
	}
	if c.MaxInstances < 1 {
		errs = append(errs, errors.New("max_instances must be >= 1"))
	}
	return errors.Join(errs...)
}

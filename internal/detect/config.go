// Package detect holds the statistical anomaly detectors that run over the
// templates mined from one service's log stream.
//
// Every detector works on event time only (the record's own timestamp); there
// is no wall clock anywhere, so replaying the same records in the same order
// at any speed gives identical verdicts. A Detector holds the state of one
// service and is not goroutine-safe.
package detect

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the detectors of one service. The zero value is not
// usable; start from DefaultConfig.
type Config struct {
	// Warmup is how much of a service must have been seen before the
	// new-template and rare-template detectors may fire. Both conditions
	// must hold (lines AND event-time span).
	Warmup WarmupConfig `mapstructure:"warmup"`

	NewTemplate  NewTemplateConfig  `mapstructure:"new_template"`
	RareTemplate RareTemplateConfig `mapstructure:"rare_template"`
	Rate         RateConfig         `mapstructure:"rate"`
	ErrorBurst   ErrorBurstConfig   `mapstructure:"error_burst"`
	Session      SessionConfig      `mapstructure:"session"`

	// AllowedLateness is how far behind the service's watermark (the
	// largest event time seen) a record may be and still be counted in the
	// time-bucket detectors (rate, error burst). Records later than that
	// are counted as late and only feed the count-based detectors
	// (new, rare, session).
	AllowedLateness time.Duration `mapstructure:"allowed_lateness"`

	// WatermarkResetAfter: after this many consecutive late records the
	// watermark is assumed to be wrong (e.g. one record far in the
	// future) and is reset to the current record's time; all time-bucket
	// state is cleared. Counted in Stats.WatermarkResets.
	WatermarkResetAfter int `mapstructure:"watermark_reset_after"`

	// MaxTemplates bounds the per-template state (rate history, session
	// frequency) kept per service. The least recently seen template is
	// dropped beyond it (counted in Stats.TemplatesEvicted).
	MaxTemplates int `mapstructure:"max_templates"`
}

// WarmupConfig is the per-service warm-up.
type WarmupConfig struct {
	Lines    int64         `mapstructure:"lines"`
	Duration time.Duration `mapstructure:"duration"`
}

// NewTemplateConfig configures the new-template detector: a record whose
// template was just created by the miner, after warm-up.
type NewTemplateConfig struct {
	Enabled bool `mapstructure:"enabled"`
}

// RareTemplateConfig configures the rare-template detector, after warm-up:
//   - any record whose template accounts for at most MaxRatio of the
//     service's lines since the template was first seen (at least
//     1/MaxRatio lines);
//   - an error record (severity >= error_burst.min_severity) whose template
//     accounts for at most ErrorMaxRatio of all the service's lines.
//
// A template with more than MaxCount records since it was first seen is not
// rare under either rule: in a busy service a ratio alone would keep
// flagging a template that recurs every few seconds.
type RareTemplateConfig struct {
	Enabled       bool    `mapstructure:"enabled"`
	MaxRatio      float64 `mapstructure:"max_ratio"`
	ErrorMaxRatio float64 `mapstructure:"error_max_ratio"`
	MaxCount      int64   `mapstructure:"max_count"`
	// MaxActiveBuckets: a template that has appeared in more than this many distinct
	// rate.bucket periods is part of the service's rhythm (a periodic health check, a steady
	// trickle of benign errors) and is never rare, however low its share of the lines. 0
	// disables the rule.
	MaxActiveBuckets int `mapstructure:"max_active_buckets"`
}

// RateConfig configures the per-template rate spike and rate drop
// detectors. Counts are kept per template in event-time buckets; the
// baseline is the median and MAD of the History buckets before the
// record's bucket.
type RateConfig struct {
	SpikeEnabled bool          `mapstructure:"spike_enabled"`
	DropEnabled  bool          `mapstructure:"drop_enabled"`
	Bucket       time.Duration `mapstructure:"bucket"`
	History      int           `mapstructure:"history"`
	// MinHistory is how many buckets a template must have been tracked
	// before its rate is judged.
	MinHistory int `mapstructure:"min_history"`
	// Threshold is the robust z-score: a spike is a bucket count above
	// median + Threshold*max(1.4826*MAD, sqrt(median), 1); a drop is a
	// count below median - Threshold*max(...).
	Threshold float64 `mapstructure:"threshold"`
	// SpikeFactor: a spike must also be at least SpikeFactor times the
	// median.
	SpikeFactor float64 `mapstructure:"spike_factor"`
	// SpikeMinBaseline: templates whose median bucket count is below this
	// (templates that are usually absent) are not judged for spikes; a
	// burst of such a template is left to the rare/new/error detectors.
	SpikeMinBaseline float64 `mapstructure:"spike_min_baseline"`
	// DropMinBaseline: only templates with at least this median count per
	// bucket are judged for drops.
	DropMinBaseline float64 `mapstructure:"drop_min_baseline"`
	// DropFraction: a drop must also be at most DropFraction times the
	// median.
	DropFraction float64 `mapstructure:"drop_fraction"`
}

// ErrorBurstConfig configures the error-severity burst detector: the number
// of records with SeverityNumber >= MinSeverity in the last Window (and in
// the last LongWindow) of event time, against the Poisson expectation from
// the Baseline period before the windows. The short window reacts fast to
// storms; the long window catches slow, sustained increases (as in
// multi-window burn-rate alerting).
type ErrorBurstConfig struct {
	Enabled     bool          `mapstructure:"enabled"`
	MinSeverity int32         `mapstructure:"min_severity"`
	Window      time.Duration `mapstructure:"window"`
	// LongWindow is a second, longer window (0 disables it).
	LongWindow time.Duration `mapstructure:"long_window"`
	Baseline   time.Duration `mapstructure:"baseline"`
	MinCount   int           `mapstructure:"min_count"`
	MaxPValue  float64       `mapstructure:"max_p_value"`
}

// SessionConfig configures the session detector. It only acts on records
// that carry a session key. A session whose records include a template seen
// in at most MaxRatio of the service's sessions is anomalous from that record
// on.
type SessionConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// TTL: a session idle for longer than this (event time) is closed.
	TTL time.Duration `mapstructure:"ttl"`
	// MaxSessions bounds open sessions per service (least recently used
	// evicted beyond it, counted).
	MaxSessions int `mapstructure:"max_sessions"`
	// MaxTemplatesPerSession bounds the distinct templates remembered per
	// session (beyond it, counted, further templates are not tracked).
	MaxTemplatesPerSession int `mapstructure:"max_templates_per_session"`
	// MinSessions: sessions that must have started before any is judged.
	MinSessions int64   `mapstructure:"min_sessions"`
	MaxRatio    float64 `mapstructure:"max_ratio"`
}

// DefaultConfig returns defaults meant to work on any log source without
// tuning. See docs/detectors.md for the reasoning behind each value.
func DefaultConfig() Config {
	return Config{
		Warmup:       WarmupConfig{Lines: 1000, Duration: 15 * time.Minute},
		NewTemplate:  NewTemplateConfig{Enabled: true},
		RareTemplate: RareTemplateConfig{Enabled: true, MaxRatio: 0.001, ErrorMaxRatio: 0.01, MaxCount: 100, MaxActiveBuckets: 10},
		Rate: RateConfig{
			SpikeEnabled:     true,
			DropEnabled:      true,
			Bucket:           time.Minute,
			History:          60,
			MinHistory:       30,
			Threshold:        6,
			SpikeFactor:      3,
			SpikeMinBaseline: 1,
			DropMinBaseline:  10,
			DropFraction:     0.2,
		},
		ErrorBurst: ErrorBurstConfig{
			Enabled:     true,
			MinSeverity: 17,
			Window:      10 * time.Minute,
			LongWindow:  time.Hour,
			Baseline:    24 * time.Hour,
			MinCount:    3,
			MaxPValue:   0.001,
		},
		Session: SessionConfig{
			Enabled:                true,
			TTL:                    time.Hour,
			MaxSessions:            20000,
			MaxTemplatesPerSession: 32,
			MinSessions:            1000,
			MaxRatio:               0.01,
		},
		AllowedLateness:     time.Minute,
		WatermarkResetAfter: 1000,
		MaxTemplates:        2000,
	}
}

// Validate reports configuration errors using the YAML key names.
func (c Config) Validate() error {
	var errs []error
	add := func(cond bool, format string, a ...any) {
		if cond {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	add(c.Warmup.Lines < 0, "warmup.lines must not be negative")
	add(c.Warmup.Duration < 0, "warmup.duration must not be negative")
	add(c.RareTemplate.MaxRatio <= 0 || c.RareTemplate.MaxRatio >= 1, "rare_template.max_ratio must be in (0, 1)")
	add(c.RareTemplate.MaxCount < 1, "rare_template.max_count must be positive")
	add(c.RareTemplate.MaxActiveBuckets < 0, "rare_template.max_active_buckets must not be negative")
	add(c.RareTemplate.ErrorMaxRatio < 0 || c.RareTemplate.ErrorMaxRatio >= 1, "rare_template.error_max_ratio must be in [0, 1) (0 disables)")
	add(c.Rate.Bucket <= 0, "rate.bucket must be positive")
	add(c.Rate.History < 3 || c.Rate.History > 10000, "rate.history must be between 3 and 10000")
	add(c.Rate.MinHistory < 1 || c.Rate.MinHistory > c.Rate.History, "rate.min_history must be between 1 and rate.history")
	add(c.Rate.Threshold <= 0, "rate.threshold must be positive")
	add(c.Rate.SpikeFactor < 1, "rate.spike_factor must be at least 1")
	add(c.Rate.SpikeMinBaseline < 0, "rate.spike_min_baseline must not be negative")
	add(c.Rate.DropMinBaseline <= 0, "rate.drop_min_baseline must be positive")
	add(c.Rate.DropFraction < 0 || c.Rate.DropFraction >= 1, "rate.drop_fraction must be in [0, 1)")
	add(c.ErrorBurst.MinSeverity < 1 || c.ErrorBurst.MinSeverity > 24, "error_burst.min_severity must be between 1 and 24")
	add(c.ErrorBurst.Window <= 0, "error_burst.window must be positive")
	add(c.ErrorBurst.LongWindow != 0 && c.ErrorBurst.LongWindow < c.ErrorBurst.Window, "error_burst.long_window must be 0 or at least error_burst.window")
	add(c.ErrorBurst.Baseline < c.ErrorBurst.Window || c.ErrorBurst.Baseline < c.ErrorBurst.LongWindow, "error_burst.baseline must be at least error_burst.window and error_burst.long_window")
	add(c.ErrorBurst.Window > 0 && c.ErrorBurst.LongWindow/c.ErrorBurst.Window > 100, "error_burst.long_window must be at most 100 times error_burst.window")
	add(c.ErrorBurst.Window > 0 && c.ErrorBurst.Baseline/c.ErrorBurst.Window > 1000, "error_burst.baseline must be at most 1000 times error_burst.window")
	add(c.ErrorBurst.MinCount < 1, "error_burst.min_count must be positive")
	add(c.ErrorBurst.MaxPValue <= 0 || c.ErrorBurst.MaxPValue >= 1, "error_burst.max_p_value must be in (0, 1)")
	add(c.Session.TTL <= 0, "session.ttl must be positive")
	add(c.Session.MaxSessions < 1, "session.max_sessions must be positive")
	add(c.Session.MaxTemplatesPerSession < 1 || c.Session.MaxTemplatesPerSession > 1024, "session.max_templates_per_session must be between 1 and 1024")
	add(c.Session.MinSessions < 0, "session.min_sessions must not be negative")
	add(c.Session.MaxRatio <= 0 || c.Session.MaxRatio >= 1, "session.max_ratio must be in (0, 1)")
	add(c.AllowedLateness < 0, "allowed_lateness must not be negative")
	add(c.Rate.Bucket > 0 && c.AllowedLateness/c.Rate.Bucket > 1000, "allowed_lateness must be at most 1000 times rate.bucket")
	add(c.WatermarkResetAfter < 1, "watermark_reset_after must be positive")
	add(c.MaxTemplates < 1, "max_templates must be positive")
	return errors.Join(errs...)
}

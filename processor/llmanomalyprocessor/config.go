// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor // import "github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
	"github.com/otelcol-aiops/otelcol-aiops/internal/detect"
	"github.com/otelcol-aiops/otelcol-aiops/internal/miner"
)

// Config defines the configuration of the llm_anomaly processor.
type Config struct {
	// AllowedLateness is how far behind the services' event time a record may arrive and still be
	// analysed in order. Records are held until event time (the second most advanced service's
	// latest timestamp) has passed them by allowed_lateness, then each service's records are
	// analysed in event-time order, so arrival order and batching never change a verdict.
	AllowedLateness time.Duration `mapstructure:"allowed_lateness"`
	// MaxClockSkew: while event time follows the wall clock, a record stamped more than this far
	// ahead of the wall clock is re-stamped with its observed time (else the wall clock) and
	// counted. 0 disables the check. Timestamps before 1971 or more than a day ahead are always
	// re-stamped.
	MaxClockSkew time.Duration `mapstructure:"max_clock_skew"`
	// Timeout: when no record has arrived for this long (wall clock), every held record is
	// analysed and forwarded (the input has stopped, or is too sparse to move event time).
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxHeldRecords bounds the records held across all services. When a new request would exceed
	// it, everything held is analysed and forwarded at once on the caller's goroutine
	// (back-pressure): nothing is dropped, but records that arrive later than that are late.
	MaxHeldRecords int `mapstructure:"max_held_records"`

	// MessageFields are the keys searched, in order, for the log message in map bodies and in
	// JSON or logfmt string bodies.
	MessageFields []string `mapstructure:"message_fields"`
	// Session configures the optional session key used by the session detector.
	Session SessionConfig `mapstructure:"session"`

	// Templates configures the online template miner (one per service).
	Templates miner.Config `mapstructure:"templates"`
	// MaxServices bounds the services (template trees plus detector state) kept in memory.
	MaxServices int `mapstructure:"max_services"`
	// IncludeParams adds log.record.template.params (the variable parts of the message) to records.
	IncludeParams bool `mapstructure:"include_params"`
	// AnnotateNormal writes anomaly.detected=false on records that are not anomalous.
	AnnotateNormal bool `mapstructure:"annotate_normal"`
	// Detectors configures the statistical detectors.
	Detectors detect.Config `mapstructure:"detectors"`

	// Storage is the ID of a storage extension (for example file_storage) used to keep the mined
	// templates across restarts. Without it, state lives only in memory.
	Storage *component.ID `mapstructure:"storage"`
	// SnapshotInterval is how often the template snapshot is saved to Storage (and on shutdown).
	SnapshotInterval time.Duration `mapstructure:"snapshot_interval"`

	// LLM, when set, asks a model about flagged windows (and a sample of normal ones) in the
	// background and adds its verdicts to records and as verdict records. Off by default: the
	// statistical path stands alone.
	LLM configoptional.Optional[LLMConfig] `mapstructure:"llm"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SessionConfig selects the session key of a record: a record attribute, else the first match
// of a regular expression in the message (its first capture group when it has one).
type SessionConfig struct {
	// Attribute is a log record attribute whose value is the session key (for example trace_id
	// holders or request ids).
	Attribute string `mapstructure:"attribute"`
	// Regex extracts the session key from the message, for example `blk_-?\d+`.
	Regex string `mapstructure:"regex"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; nested configs (templates, detectors) validate themselves.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.AllowedLateness < 0 || cfg.AllowedLateness > time.Hour {
		errs = append(errs, errors.New("allowed_lateness must be between 0 and 1h"))
	}
	if cfg.MaxClockSkew < 0 {
		errs = append(errs, errors.New("max_clock_skew must not be negative"))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	if cfg.MaxHeldRecords <= 0 {
		errs = append(errs, errors.New("max_held_records must be positive"))
	}
	if len(cfg.MessageFields) == 0 {
		errs = append(errs, errors.New("message_fields must not be empty"))
	}
	for i, f := range cfg.MessageFields {
		if f == "" {
			errs = append(errs, fmt.Errorf("message_fields[%d] must not be empty", i))
		}
	}
	if cfg.MaxServices <= 0 {
		errs = append(errs, errors.New("max_services must be positive"))
	}
	if cfg.Session.Regex != "" {
		if _, err := regexp.Compile(cfg.Session.Regex); err != nil {
			errs = append(errs, fmt.Errorf("session.regex is invalid: %w", err))
		}
	}
	if cfg.Storage != nil && cfg.SnapshotInterval <= 0 {
		errs = append(errs, errors.New("snapshot_interval must be positive when storage is set"))
	}
	return errors.Join(errs...)
}

// analyzerConfig converts the user configuration to the analyzer's.
func (cfg *Config) analyzerConfig() analyzer.Config {
	ac := analyzer.DefaultConfig()
	ac.Miner = cfg.Templates
	ac.Detectors = cfg.Detectors
	ac.MaxServices = cfg.MaxServices
	ac.SessionRegex = cfg.Session.Regex
	return ac
}

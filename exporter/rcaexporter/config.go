// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmconfig"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
)

// Config defines the configuration of the rca exporter.
type Config struct {
	// Incidents configures how anomalies are grouped into incidents.
	Incidents IncidentsConfig `mapstructure:"incidents"`
	// Sinks selects where incidents are forwarded; each section is optional.
	Sinks sink.Config `mapstructure:"sinks"`
	// Storage is the ID of a storage extension that keeps the incident knowledge base across
	// restarts. Without it the knowledge base lives only in memory (bounded).
	Storage *component.ID `mapstructure:"storage"`
	// SnapshotInterval is how often (wall clock) the engine's state (open incidents, knowledge
	// base, learned baselines) is saved to Storage, besides when an incident resolves and on
	// shutdown, so that a crash loses at most this much of it; 0 saves only then.
	SnapshotInterval time.Duration `mapstructure:"snapshot_interval"`
	// AllowedLateness is how far behind the log services' event time (the second most advanced
	// service's latest timestamp) an anomaly may arrive and still be applied in order. Evidence is
	// applied in event-time order once every live input has passed it, so the same input gives
	// the same incidents whatever the arrival interleaving of pipelines.
	AllowedLateness time.Duration `mapstructure:"allowed_lateness"`
	// IdleTimeout (event time): an input (the log services, or one logs2graph edge stream) whose
	// progress lags the most advanced input by more than this stops holding event time back.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxClockSkew: while event time follows the wall clock, a record stamped more than this far
	// ahead of the wall clock is re-stamped with its observed time (else the wall clock) and
	// counted. 0 disables the check.
	MaxClockSkew time.Duration `mapstructure:"max_clock_skew"`
	// MaxPendingEvidence bounds the anomalies and edge windows waiting for event time; beyond it
	// everything waiting is applied at once (counted as pressure).
	MaxPendingEvidence int `mapstructure:"max_pending_evidence"`
	// IdleAdvance: when no record has arrived for this long (wall clock), the evidence waiting is
	// applied and event time is moved forward by the idle time so that quiet incidents still
	// resolve. 0 disables it.
	IdleAdvance time.Duration `mapstructure:"idle_advance"`

	// HTTP, when set, serves the investigation API: POST /api/v1/rca (rank root causes for a
	// moment) and POST /api/v1/alerts (Alertmanager webhook; results are forwarded to the sinks).
	// It is a confighttp server (endpoint, TLS, auth extension, CORS, limits). Off by default;
	// `http:` without an endpoint listens on 127.0.0.1:8199 (loopback only). See api.go.
	HTTP configoptional.Optional[confighttp.ServerConfig] `mapstructure:"http"`

	// LLM, when set, asks a language model for a narrative of each incident (root-cause issue,
	// explanation, remediation suggestions) after the statistical incident went out, and lets
	// POST /api/v1/ask plan and answer with it. Off by default: everything works without it.
	LLM configoptional.Optional[LLMConfig] `mapstructure:"llm"`
	// Ask bounds the in-memory window of recent records, incidents, edge anomalies and verdicts
	// that POST /api/v1/ask searches (only kept when http is set).
	Ask AskConfig `mapstructure:"ask"`

	// QueueConfig is the sending queue of incident deliveries (exporterhelper).
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// RetryConfig retries failed deliveries with exponential backoff (exporterhelper).
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// TimeoutConfig bounds one delivery attempt to all sinks (exporterhelper).
	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// IncidentsConfig is the user-facing part of the incident engine's settings.
type IncidentsConfig struct {
	// OpenThreshold is the summed anomaly score of one service within OpenWindow that opens an
	// incident (at least one anomaly must be Medium or above).
	OpenThreshold float64 `mapstructure:"open_threshold"`
	// OpenWindow is the window over which a service's anomaly scores are summed.
	OpenWindow time.Duration `mapstructure:"open_window"`
	// CorrelationWindow: anomalies of connected services within this time join an open incident.
	CorrelationWindow time.Duration `mapstructure:"correlation_window"`
	// MaxHops is the graph distance within which services are correlated.
	MaxHops int `mapstructure:"max_hops"`
	// QuietPeriod: an incident resolves after this long without new evidence (event time).
	QuietPeriod time.Duration `mapstructure:"quiet_period"`
	// EdgeTTL: graph edges not seen for this long are forgotten (event time).
	EdgeTTL time.Duration `mapstructure:"edge_ttl"`
	// KnowledgeBaseSize bounds the past incidents kept for similarity search.
	KnowledgeBaseSize int `mapstructure:"knowledge_base_size"`
	// InternalEdgesOpen lets a latency or error anomaly of a busy internal edge open an incident
	// by itself (by default only entry edges, services' own signals and quiet edges do).
	InternalEdgesOpen bool `mapstructure:"internal_edges_open"`
	// LatencyPersistence is the number of consecutive off windows of a busy edge's latency
	// before it is an anomaly.
	LatencyPersistence int `mapstructure:"latency_persistence"`
	// OwnTimeFactor and OwnTimePersistence: a service's own time is an anomaly when it is at
	// least OwnTimeFactor times its recent median for OwnTimePersistence windows in a row (0
	// disables own-time anomalies). An edge's call gap is changed at OwnTimeFactor times its
	// median too, and late after LatencyPersistence windows.
	OwnTimeFactor      float64 `mapstructure:"own_time_factor"`
	OwnTimePersistence int     `mapstructure:"own_time_persistence"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LLMConfig is the optional LLM section: the model, budgets, retries, cache and redaction shared
// with the llm_anomaly processor (internal/llmconfig), and how often incidents are narrated.
type LLMConfig struct {
	llmconfig.Config `mapstructure:",squash"`

	// MaxNarrativesPerIncident bounds the questions asked about one incident: when it opens, then
	// on significant updates (root cause changed, severity raised, a service joined).
	MaxNarrativesPerIncident int `mapstructure:"max_narratives_per_incident"`
	// MinUpdateInterval (wall clock) is the least time between two questions about one incident;
	// a significant update within it is asked about when it has passed.
	MinUpdateInterval time.Duration `mapstructure:"min_update_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the exporter's own LLM settings; the shared ones (llmconfig.Config) validate
// themselves when the configuration tree is validated.
func (c *LLMConfig) Validate() error {
	var errs []error
	if c.MaxNarrativesPerIncident < 1 || c.MaxNarrativesPerIncident > 100 {
		errs = append(errs, errors.New("max_narratives_per_incident must be between 1 and 100"))
	}
	if c.MinUpdateInterval < 0 {
		errs = append(errs, errors.New("min_update_interval must not be negative"))
	}
	return errors.Join(errs...)
}

// AskConfig bounds the index searched by POST /api/v1/ask.
type AskConfig struct {
	// Window (event time) is how far back items are kept.
	Window time.Duration `mapstructure:"window"`
	// MaxItems bounds the items kept; the oldest goes first.
	MaxItems int `mapstructure:"max_items"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the ask index bounds.
func (c *AskConfig) Validate() error {
	var errs []error
	if c.Window <= 0 || c.Window > 7*24*time.Hour {
		errs = append(errs, errors.New("window must be between 0 (excluded) and 168h"))
	}
	if c.MaxItems < 1 || c.MaxItems > 1_000_000 {
		errs = append(errs, errors.New("max_items must be between 1 and 1000000"))
	}
	return errors.Join(errs...)
}

func defaultLLMConfig() LLMConfig {
	return LLMConfig{
		Config:                   llmconfig.NewDefaultConfig(),
		MaxNarrativesPerIncident: 5,
		MinUpdateInterval:        time.Minute,
	}
}

func defaultAskConfig() AskConfig {
	return AskConfig{Window: time.Hour, MaxItems: 10_000}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; sink sections validate themselves.
func (cfg *Config) Validate() error {
	var errs []error
	s := &cfg.Sinks
	if !s.Webhook.HasValue() && !s.Slack.HasValue() && !s.PagerDuty.HasValue() && !s.Jira.HasValue() &&
		!s.Alertmanager.HasValue() && !s.Console.HasValue() {
		errs = append(errs, errors.New("sinks must configure at least one of webhook, slack, pagerduty, jira, alertmanager, console"))
	}
	if cfg.SnapshotInterval < 0 {
		errs = append(errs, errors.New("snapshot_interval must not be negative"))
	}
	if cfg.IdleAdvance < 0 {
		errs = append(errs, errors.New("idle_advance must not be negative"))
	}
	if cfg.AllowedLateness < 0 || cfg.AllowedLateness > time.Hour {
		errs = append(errs, errors.New("allowed_lateness must be between 0 and 1h"))
	}
	if cfg.IdleTimeout <= 0 {
		errs = append(errs, errors.New("idle_timeout must be positive"))
	}
	if cfg.MaxClockSkew < 0 {
		errs = append(errs, errors.New("max_clock_skew must not be negative"))
	}
	if cfg.MaxPendingEvidence <= 0 {
		errs = append(errs, errors.New("max_pending_evidence must be positive"))
	}
	if h := cfg.HTTP.Get(); h != nil {
		switch h.NetAddr.Transport {
		case "", "tcp", "tcp4", "tcp6", "unix":
		default:
			errs = append(errs, errors.New("http::transport must be tcp, tcp4, tcp6 or unix"))
		}
	}
	if err := cfg.engineConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (cfg *Config) engineConfig() rca.Config {
	c := rca.DefaultConfig()
	in := cfg.Incidents
	c.OpenThreshold = in.OpenThreshold
	c.OpenWindow = in.OpenWindow
	c.CorrelationWindow = in.CorrelationWindow
	c.MaxHops = in.MaxHops
	c.QuietPeriod = in.QuietPeriod
	c.EdgeTTL = in.EdgeTTL
	c.KnowledgeBaseSize = in.KnowledgeBaseSize
	c.InternalEdgesOpen = in.InternalEdgesOpen
	c.LatencyPersistence = in.LatencyPersistence
	c.OwnTimeFactor = in.OwnTimeFactor
	c.OwnTimePersistence = in.OwnTimePersistence
	return c
}

func defaultIncidentsConfig() IncidentsConfig {
	c := rca.DefaultConfig()
	return IncidentsConfig{
		OpenThreshold:      c.OpenThreshold,
		OpenWindow:         c.OpenWindow,
		CorrelationWindow:  c.CorrelationWindow,
		MaxHops:            c.MaxHops,
		QuietPeriod:        c.QuietPeriod,
		EdgeTTL:            c.EdgeTTL,
		KnowledgeBaseSize:  c.KnowledgeBaseSize,
		InternalEdgesOpen:  c.InternalEdgesOpen,
		LatencyPersistence: c.LatencyPersistence,
		OwnTimeFactor:      c.OwnTimeFactor,
		OwnTimePersistence: c.OwnTimePersistence,
	}
}

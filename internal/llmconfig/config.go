// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package llmconfig is the user configuration of the LLM stage shared by the llm_anomaly
// processor and the rca exporter: models (provider, endpoint through confighttp, api_key as
// configopaque), budgets, retries, cache and redaction. It turns that configuration into
// internal/llm clients and an internal/redact redactor at Start.
package llmconfig // import "github.com/otelcol-aiops/otelcol-aiops/internal/llmconfig"

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/redact"
)

// Default values.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxOutputTokens = 512
	DefaultTemperature     = 0.1
	DefaultCacheSizeMiB    = 32
	DefaultCacheTTL        = time.Hour
	DefaultMaxConcurrency  = 2
	DefaultQueueSize       = 64
	DefaultScreenMinConf   = 0.5
)

// ModelConfig is one model: its provider, HTTP client settings (endpoint, timeout, TLS, headers,
// proxy), key, generation settings and price.
type ModelConfig struct {
	// Provider is openai (also any OpenAI-compatible server: vLLM, llama.cpp server, Ollama's /v1,
	// LM Studio), anthropic or ollama (native API).
	Provider string `mapstructure:"provider"`
	// Model is the provider's model name, for example gpt-4o-mini or llama3.1:8b.
	Model string `mapstructure:"model"`
	// APIKey is sent as the provider's key header. Empty is allowed for local servers.
	APIKey configopaque.String `mapstructure:"api_key"`
	// ClientConfig holds endpoint (the provider's base URL; empty = the provider's public API or
	// http://localhost:11434 for ollama), timeout (per attempt), TLS, headers and proxy.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// MaxOutputTokens bounds the answer.
	MaxOutputTokens int `mapstructure:"max_output_tokens"`
	// Temperature of generation (default 0.1).
	Temperature float64 `mapstructure:"temperature"`
	// JSONMode asks for a JSON object where the provider supports it (OpenAI response_format,
	// Ollama format); Anthropic gets a prefilled "{" instead. Answers are validated either way.
	JSONMode bool `mapstructure:"json_mode"`
	// Price is the money per 1000 tokens, used for the cost metric and the daily budget.
	Price PriceConfig `mapstructure:"price"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// PriceConfig is the price per 1000 input and output tokens.
type PriceConfig struct {
	InputPer1K  float64 `mapstructure:"input_per_1k"`
	OutputPer1K float64 `mapstructure:"output_per_1k"`
}

// BudgetConfig limits spending. Zero means unlimited. When a budget is spent the stage is
// statistical-only until it refills, and every skipped question is counted.
type BudgetConfig struct {
	CallsPerMinute  int     `mapstructure:"calls_per_minute"`
	TokensPerMinute int     `mapstructure:"tokens_per_minute"`
	CostPerDay      float64 `mapstructure:"cost_per_day"`
}

// RetryConfig retries timeouts and 5xx with exponential backoff and jitter, and 429 after its
// Retry-After (at most MaxRetryAfter). Permanent errors are not retried.
type RetryConfig struct {
	MaxAttempts    int           `mapstructure:"max_attempts"`
	InitialBackoff time.Duration `mapstructure:"initial_backoff"`
	MaxBackoff     time.Duration `mapstructure:"max_backoff"`
	MaxRetryAfter  time.Duration `mapstructure:"max_retry_after"`
}

// CacheConfig bounds the verdict cache (bigcache): size in MiB (0 disables it) and TTL.
type CacheConfig struct {
	MaxSizeMiB int           `mapstructure:"max_size_mib"`
	TTL        time.Duration `mapstructure:"ttl"`
}

// RedactionConfig selects what is redacted before anything is sent to a model. Secrets (API
// keys, tokens, JWTs, passwords in URLs, private keys) and personal data (e-mail addresses, card
// and phone numbers) are always redacted; values become keyed-hash pseudonyms so equal values
// stay equal (and the cache still hits).
type RedactionConfig struct {
	// IPs also redacts IPv4 and IPv6 addresses.
	IPs bool `mapstructure:"ips"`
	// Patterns are extra regular expressions (RE2) to redact; the first capture group when there
	// is one, else the whole match.
	Patterns []string `mapstructure:"patterns"`
	// HashKey keys the pseudonyms; empty = a random key per process.
	HashKey configopaque.String `mapstructure:"hash_key"`
}

// Config is the llm section of a component.
type Config struct {
	// Model is the primary model.
	Model ModelConfig `mapstructure:"model"`
	// Screening is an optional cheap model asked first with a short prompt; only its positive,
	// confident answers (confidence >= screening_min_confidence) go to the primary model.
	Screening              configoptional.Optional[ModelConfig] `mapstructure:"screening"`
	ScreeningMinConfidence float64                              `mapstructure:"screening_min_confidence"`

	Budget    BudgetConfig    `mapstructure:"budget"`
	Retry     RetryConfig     `mapstructure:"retry"`
	Cache     CacheConfig     `mapstructure:"cache"`
	Redaction RedactionConfig `mapstructure:"redaction"`
	// MaxConcurrency bounds the calls in flight; QueueSize the questions waiting for a worker.
	// A question that finds the queue full is not asked (counted as queue_full).
	MaxConcurrency int `mapstructure:"max_concurrency"`
	QueueSize      int `mapstructure:"queue_size"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultModelConfig returns a model configuration with the defaults filled in.
func NewDefaultModelConfig() ModelConfig {
	cc := confighttp.NewDefaultClientConfig()
	cc.Timeout = DefaultTimeout
	return ModelConfig{
		Provider:        llm.ProviderOpenAI,
		ClientConfig:    cc,
		MaxOutputTokens: DefaultMaxOutputTokens,
		Temperature:     DefaultTemperature,
		JSONMode:        true,
	}
}

// NewDefaultConfig returns the llm section's defaults (no model named: the user must name one).
func NewDefaultConfig() Config {
	return Config{
		Model:                  NewDefaultModelConfig(),
		Screening:              configoptional.Default(NewDefaultModelConfig()),
		ScreeningMinConfidence: DefaultScreenMinConf,
		Retry: RetryConfig{
			MaxAttempts:    3,
			InitialBackoff: 500 * time.Millisecond,
			MaxBackoff:     10 * time.Second,
			MaxRetryAfter:  30 * time.Second,
		},
		Cache:          CacheConfig{MaxSizeMiB: DefaultCacheSizeMiB, TTL: DefaultCacheTTL},
		MaxConcurrency: DefaultMaxConcurrency,
		QueueSize:      DefaultQueueSize,
	}
}

// Validate checks one model.
func (m *ModelConfig) Validate() error {
	var errs []error
	switch m.Provider {
	case llm.ProviderOpenAI, llm.ProviderAnthropic, llm.ProviderOllama:
	default:
		errs = append(errs, fmt.Errorf("provider %q is not one of openai, anthropic, ollama", m.Provider))
	}
	if m.Model == "" {
		errs = append(errs, errors.New("model must be set"))
	}
	if m.ClientConfig.Endpoint != "" {
		u, err := url.Parse(m.ClientConfig.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q must be an http(s) URL", m.ClientConfig.Endpoint))
		}
	}
	if m.ClientConfig.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive (an LLM call must never wait forever)"))
	}
	if m.MaxOutputTokens <= 0 || m.MaxOutputTokens > 32768 {
		errs = append(errs, errors.New("max_output_tokens must be between 1 and 32768"))
	}
	if m.Temperature < 0 || m.Temperature > 2 {
		errs = append(errs, errors.New("temperature must be between 0 and 2"))
	}
	if m.Price.InputPer1K < 0 || m.Price.OutputPer1K < 0 {
		errs = append(errs, errors.New("price must not be negative"))
	}
	return errors.Join(errs...)
}

// Validate checks the llm section's own fields; the models (model, screening) validate
// themselves when the configuration tree is validated (confmap.Validate).
func (c *Config) Validate() error {
	var errs []error
	if c.ScreeningMinConfidence < 0 || c.ScreeningMinConfidence > 1 {
		errs = append(errs, errors.New("screening_min_confidence must be between 0 and 1"))
	}
	if c.Budget.CallsPerMinute < 0 || c.Budget.TokensPerMinute < 0 || c.Budget.CostPerDay < 0 {
		errs = append(errs, errors.New("budget values must not be negative (0 = unlimited)"))
	}
	if c.Retry.MaxAttempts < 1 || c.Retry.MaxAttempts > 10 {
		errs = append(errs, errors.New("retry.max_attempts must be between 1 and 10"))
	}
	if c.Retry.InitialBackoff <= 0 || c.Retry.MaxBackoff < c.Retry.InitialBackoff || c.Retry.MaxRetryAfter < 0 {
		errs = append(errs, errors.New("retry: initial_backoff must be positive, max_backoff >= initial_backoff, max_retry_after >= 0"))
	}
	if c.Cache.MaxSizeMiB < 0 || c.Cache.MaxSizeMiB > 4096 {
		errs = append(errs, errors.New("cache.max_size_mib must be between 0 (off) and 4096"))
	}
	if c.Cache.MaxSizeMiB > 0 && c.Cache.TTL <= 0 {
		errs = append(errs, errors.New("cache.ttl must be positive"))
	}
	if err := c.redactConfig().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("redaction: %w", err))
	}
	if c.MaxConcurrency < 1 || c.MaxConcurrency > 64 {
		errs = append(errs, errors.New("max_concurrency must be between 1 and 64"))
	}
	if c.QueueSize < 1 || c.QueueSize > 100000 {
		errs = append(errs, errors.New("queue_size must be between 1 and 100000"))
	}
	return errors.Join(errs...)
}

func (c *Config) redactConfig() redact.Config {
	return redact.Config{IPs: c.Redaction.IPs, Patterns: c.Redaction.Patterns, HashKey: string(c.Redaction.HashKey)}
}

// NewRedactor builds the redactor of the configuration.
func (c *Config) NewRedactor() (*redact.Redactor, error) {
	return redact.New(c.redactConfig())
}

// Options converts one model's configuration, with the section's budgets, retries and cache, to
// the client's options. Budgets and the cache belong to the primary model; a screening model
// shares the budgets' spirit through its own (same) limits.
func (c *Config) Options(m *ModelConfig, r *redact.Redactor) llm.Options {
	o := llm.Options{
		Provider:         m.Provider,
		Model:            m.Model,
		Endpoint:         m.ClientConfig.Endpoint,
		APIKey:           string(m.APIKey),
		Timeout:          m.ClientConfig.Timeout,
		MaxOutputTokens:  m.MaxOutputTokens,
		Temperature:      m.Temperature,
		JSONMode:         m.JSONMode,
		PriceInputPer1K:  m.Price.InputPer1K,
		PriceOutputPer1K: m.Price.OutputPer1K,
		Retry: llm.RetryOptions{
			MaxAttempts:    c.Retry.MaxAttempts,
			InitialBackoff: c.Retry.InitialBackoff,
			MaxBackoff:     c.Retry.MaxBackoff,
			MaxRetryAfter:  c.Retry.MaxRetryAfter,
		},
		Budget: llm.BudgetOptions{
			CallsPerMinute:  c.Budget.CallsPerMinute,
			TokensPerMinute: c.Budget.TokensPerMinute,
			CostPerDay:      c.Budget.CostPerDay,
		},
		Cache: llm.CacheOptions{MaxSizeMiB: c.Cache.MaxSizeMiB, TTL: c.Cache.TTL},
	}
	if r != nil {
		o.Redact = r.Redact
	}
	return o
}

// Clients are the clients built from a configuration.
type Clients struct {
	Primary   *llm.Client
	Screening *llm.Client // nil without a screening model
	Redactor  *redact.Redactor
}

// Close releases the clients.
func (cl *Clients) Close() error {
	if cl == nil {
		return nil
	}
	var errs []error
	if cl.Primary != nil {
		errs = append(errs, cl.Primary.Close())
	}
	if cl.Screening != nil {
		errs = append(errs, cl.Screening.Close())
	}
	return errors.Join(errs...)
}

// NewClients builds the HTTP clients (confighttp, with the host's extensions) and the LLM
// clients. It is called from a component's Start.
func (c *Config) NewClients(ctx context.Context, host component.Host, set component.TelemetrySettings, obs llm.Observer, clock clockwork.Clock) (*Clients, error) {
	r, err := c.NewRedactor()
	if err != nil {
		return nil, err
	}
	cl := &Clients{Redactor: r}
	build := func(m *ModelConfig) (*llm.Client, error) {
		hc, err := m.ClientConfig.ToClient(ctx, host.GetExtensions(), set)
		if err != nil {
			return nil, fmt.Errorf("llm %s/%s: creating HTTP client: %w", m.Provider, m.Model, err)
		}
		return llm.New(c.Options(m, r), hc, obs, clock)
	}
	if cl.Primary, err = build(&c.Model); err != nil {
		return nil, err
	}
	if s := c.Screening.Get(); s != nil {
		if cl.Screening, err = build(s); err != nil {
			_ = cl.Close()
			return nil, err
		}
	}
	return cl, nil
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by New to zero values.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxOutputTokens = 512
	DefaultMaxAttempts     = 3
	DefaultInitialBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff      = 10 * time.Second
	DefaultMaxRetryAfter   = 30 * time.Second
	DefaultCacheTTL        = time.Hour

	// Default base URLs of the providers.
	DefaultOpenAIEndpoint    = "https://api.openai.com/v1"
	DefaultAnthropicEndpoint = "https://api.anthropic.com/v1"
	DefaultOllamaEndpoint    = "http://localhost:11434"
)

// Validate reports every problem of the options at once.
func (o Options) Validate() error {
	var errs []error
	switch o.Provider {
	case ProviderOpenAI, ProviderAnthropic, ProviderOllama:
	case "":
		errs = append(errs, errors.New("provider must be set (openai, anthropic or ollama)"))
	default:
		errs = append(errs, fmt.Errorf("unknown provider %q (want openai, anthropic or ollama)", o.Provider))
	}
	if strings.TrimSpace(o.Model) == "" {
		errs = append(errs, errors.New("model must be set"))
	}
	if o.Endpoint != "" {
		if err := checkEndpoint(o.Endpoint); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout must not be negative, got %v", o.Timeout))
	}
	if o.MaxOutputTokens < 0 {
		errs = append(errs, fmt.Errorf("max output tokens must not be negative, got %d", o.MaxOutputTokens))
	}
	maxTemp := 2.0
	if o.Provider == ProviderAnthropic {
		maxTemp = 1
	}
	if o.Temperature < 0 || o.Temperature > maxTemp {
		errs = append(errs, fmt.Errorf("temperature must be between 0 and %g, got %g", maxTemp, o.Temperature))
	}
	if o.PriceInputPer1K < 0 || o.PriceOutputPer1K < 0 {
		errs = append(errs, errors.New("prices must not be negative"))
	}
	if o.Retry.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("retry max attempts must not be negative, got %d", o.Retry.MaxAttempts))
	}
	if o.Retry.InitialBackoff < 0 || o.Retry.MaxBackoff < 0 || o.Retry.MaxRetryAfter < 0 {
		errs = append(errs, errors.New("retry durations must not be negative"))
	}
	if o.Retry.InitialBackoff > 0 && o.Retry.MaxBackoff > 0 && o.Retry.MaxBackoff < o.Retry.InitialBackoff {
		errs = append(errs, fmt.Errorf("retry max backoff %v is below the initial backoff %v", o.Retry.MaxBackoff, o.Retry.InitialBackoff))
	}
	if o.Budget.CallsPerMinute < 0 || o.Budget.TokensPerMinute < 0 || o.Budget.CostPerDay < 0 {
		errs = append(errs, errors.New("budgets must not be negative (0 = unlimited)"))
	}
	if o.Cache.MaxSizeMiB < 0 {
		errs = append(errs, fmt.Errorf("cache size must not be negative, got %d MiB", o.Cache.MaxSizeMiB))
	}
	if o.Cache.TTL < 0 {
		errs = append(errs, fmt.Errorf("cache TTL must not be negative, got %v", o.Cache.TTL))
	}
	return errors.Join(errs...)
}

func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q is not a URL: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("endpoint %q must be an http or https URL", endpoint)
	}
	if u.Host == "" {
		return fmt.Errorf("endpoint %q has no host", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("endpoint %q must be a base URL without query or fragment", endpoint)
	}
	return nil
}

// withDefaults returns the options with the zero values replaced by the defaults.
func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxOutputTokens == 0 {
		o.MaxOutputTokens = DefaultMaxOutputTokens
	}
	if o.Retry.MaxAttempts == 0 {
		o.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if o.Retry.InitialBackoff == 0 {
		o.Retry.InitialBackoff = DefaultInitialBackoff
	}
	if o.Retry.MaxBackoff == 0 {
		o.Retry.MaxBackoff = max(DefaultMaxBackoff, o.Retry.InitialBackoff)
	}
	if o.Retry.MaxRetryAfter == 0 {
		o.Retry.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Cache.TTL == 0 {
		o.Cache.TTL = DefaultCacheTTL
	}
	o.Endpoint = baseURL(o.Provider, o.Endpoint)
	return o
}

// baseURL returns the endpoint to give to langchaingo.
func baseURL(provider, endpoint string) string {
	if endpoint == "" {
		switch provider {
		case ProviderAnthropic:
			return DefaultAnthropicEndpoint
		case ProviderOllama:
			return DefaultOllamaEndpoint
		default:
			return DefaultOpenAIEndpoint
		}
	}
	endpoint = strings.TrimRight(endpoint, "/")
	if provider == ProviderOpenAI || provider == ProviderAnthropic {
		if u, err := url.Parse(endpoint); err == nil && u.Path == "" {
			endpoint += "/v1"
		}
	}
	return endpoint
}

// isOpenAIHosted reports whether the base URL is OpenAI's own service (or Azure OpenAI),
// which rejects max_tokens for reasoning models and a request carrying both token fields.
func isOpenAIHosted(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "api.openai.com" || strings.HasSuffix(h, ".openai.azure.com")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package llm is the one LLM client of otelcol-aiops. It is pdata-free and collector-free:
// callers give it options, an *http.Client and requests whose prompt text is already built.
//
// Around every call, in this order: redaction of the prompt (a last safety net: callers redact
// first), cache lookup (a hit costs nothing, so it is served even when the budgets are spent),
// in-flight de-duplication (one call per key at a time), budgets and rate limits (calls and
// tokens per minute, money per day), timeout, retries (exponential backoff with jitter on
// timeouts and 5xx, Retry-After honoured on 429, no retry on permanent errors), strict JSON
// parsing and validation by the caller's validator, one repair attempt, then a clear failure
// result (*Error with an Outcome) that the caller counts. Nothing is downloaded at run time:
// tokens come from the response's usage, estimated before the call from the prompt length.
package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import "time"

// Provider names.
const (
	ProviderOpenAI    = "openai"    // OpenAI and any OpenAI-compatible server (vLLM, llama.cpp, Ollama /v1, LM Studio)
	ProviderAnthropic = "anthropic" // Anthropic messages API
	ProviderOllama    = "ollama"    // Ollama's native API
)

// Outcome of one request, used as the `outcome` attribute of the request metrics.
type Outcome string

// Outcomes.
const (
	OutcomeOK          Outcome = "ok"           // valid answer on the first parse
	OutcomeRepaired    Outcome = "repaired"     // valid after the one repair attempt
	OutcomeCached      Outcome = "cached"       // served from the cache, no call
	OutcomeTimeout     Outcome = "timeout"      // every attempt timed out
	OutcomeRateLimited Outcome = "rate_limited" // 429 after the retries
	OutcomeServerError Outcome = "server_error" // 5xx after the retries
	OutcomeClientError Outcome = "client_error" // permanent error (4xx other than 429, bad key, unknown model)
	OutcomeInvalidJSON Outcome = "invalid_json" // invalid after the repair attempt
	OutcomeBudget      Outcome = "budget"       // skipped: money per day or tokens per minute spent
	OutcomeRate        Outcome = "rate"         // skipped: calls per minute spent
	OutcomeCanceled    Outcome = "canceled"     // caller's context ended (shutdown)
	OutcomeError       Outcome = "error"        // anything else (network error, empty answer)
)

// Options configure a Client. Zero values take the defaults documented per field.
type Options struct {
	// Provider is one of ProviderOpenAI, ProviderAnthropic, ProviderOllama.
	Provider string
	// Model is the provider's model name; it is also part of the cache key.
	Model string
	// Endpoint is the provider's base URL; "" is the provider's default (DefaultOpenAIEndpoint,
	// DefaultAnthropicEndpoint, DefaultOllamaEndpoint). For openai and anthropic a URL without a
	// path gets "/v1" appended (http://localhost:8000 -> http://localhost:8000/v1), since every
	// OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's /v1) serves the API there.
	Endpoint string
	// APIKey may be empty for local servers: no Authorization / x-api-key header is sent then.
	APIKey string
	// Timeout bounds each attempt (not the whole Do, which the caller's context bounds);
	// 0 is DefaultTimeout. A shorter Timeout of the http.Client given to New wins. Both are
	// applied as the attempt's context deadline.
	Timeout time.Duration
	// MaxOutputTokens bounds the answer; 0 is DefaultMaxOutputTokens.
	MaxOutputTokens int
	// Temperature of the sampling (callers default to 0.1). 0..2 (0..1 for anthropic).
	Temperature float64
	// JSONMode asks for a JSON answer the provider's way: response_format json_object for
	// openai, format "json" for ollama, and for anthropic (no native mode) a prefilled "{"
	// assistant turn. The answer is validated in every case.
	JSONMode bool
	// PriceInputPer1K and PriceOutputPer1K are the money per 1000 input and output tokens.
	PriceInputPer1K, PriceOutputPer1K float64
	// Retry configures the retries of one call.
	Retry RetryOptions
	// Budget configures the budgets and rate limits; 0 values are unlimited.
	Budget BudgetOptions
	// Cache configures the result cache; MaxSizeMiB 0 is no cache.
	Cache CacheOptions
	// Redact, when set, is applied to System and Prompt before anything else (cache keys
	// are the caller's and are not redacted). It is a last safety net: callers redact first.
	Redact func(string) string
}

// RetryOptions configure the retries of one call.
type RetryOptions struct {
	// MaxAttempts counts the first attempt; 0 is DefaultMaxAttempts, 1 is no retry.
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the exponential backoff (full jitter) between
	// attempts after a timeout, a 5xx or a network error; 0 takes the defaults.
	InitialBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After of a 429 that is waited for; a longer one (or
	// one beyond the caller's deadline) ends the call as OutcomeRateLimited. 0 is
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
}

// BudgetOptions configure the budgets and rate limits (0 = unlimited). A request that would
// exceed one is refused at once (never queued): OutcomeRate for calls per minute,
// OutcomeBudget for tokens per minute and money per day.
type BudgetOptions struct {
	// CallsPerMinute bounds the provider calls in any sliding minute.
	CallsPerMinute int
	// TokensPerMinute bounds the tokens (input + output) in any sliding minute. Before a
	// call its input is estimated (EstimateTokens) and its output counted at the maximum;
	// the reservation is replaced by the responses' usage afterwards (kept when no response
	// arrived, e.g. after timeouts).
	TokensPerMinute int
	// CostPerDay bounds the money spent per UTC day. A call is refused when the day's spend
	// plus the call's estimated worst-case cost would exceed it.
	CostPerDay float64
}

// CacheOptions configure the result cache.
type CacheOptions struct {
	// MaxSizeMiB is the cache's memory bound; 0 disables the cache.
	MaxSizeMiB int
	// TTL is how long a result is served; 0 is DefaultCacheTTL.
	TTL time.Duration
}

// Request is one question to the model.
type Request struct {
	// Task names the kind of question ("verdict", "screen", "rca", "ask_plan", "ask_answer"):
	// the metric attribute and the cache namespace.
	Task string
	// System and Prompt are the system and user messages, already built (and redacted).
	System string
	Prompt string
	// CacheKey identifies the question for the cache and the in-flight de-duplication; the
	// cache key is (model, Task, CacheKey). "" is neither cached nor de-duplicated.
	CacheKey string
	// Validate checks the extracted JSON object strictly; nil accepts any JSON object.
	Validate func(raw []byte) error
	// MaxOutputTokens overrides Options.MaxOutputTokens when positive.
	MaxOutputTokens int
}

// Result is a validated answer.
type Result struct {
	// Raw is the validated JSON object.
	Raw []byte
	// Outcome is OutcomeOK, OutcomeRepaired or OutcomeCached. A request that shared the call
	// of an identical request in flight is served like a cache hit: OutcomeCached, no tokens,
	// no cost (the call that made the answer counted them once).
	Outcome Outcome
	Model   string
	// InputTokens and OutputTokens are the usage of the calls of this Do (both calls when it
	// was repaired), from the responses or estimated when a server does not report it.
	InputTokens, OutputTokens int
	// Cost is InputTokens/1000*PriceInputPer1K + OutputTokens/1000*PriceOutputPer1K.
	Cost float64
	// Latency is the time of the Do on the client's clock, waits between attempts included.
	Latency time.Duration
}

// Error is the error of every failed Do.
type Error struct {
	Outcome Outcome
	Err     error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "llm: " + string(e.Outcome)
	}
	return "llm: " + string(e.Outcome) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Observer receives the client's measurements.
type Observer interface {
	// Request is called once per decision of a Do that did not hit the cache: each answer or
	// failure, skips for budget and rate included, with the usage and cost of its calls.
	// Requests that shared an identical request's call in flight are not reported again.
	Request(task, model string, outcome Outcome, latency time.Duration, inputTokens, outputTokens int, cost float64)
	// Cache is called on each cache lookup (Do with a CacheKey, Cached) of a client with a cache.
	Cache(task string, hit bool)
}

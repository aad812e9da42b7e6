// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptionsValidate(t *testing.T) {
	valid := Options{Provider: ProviderOpenAI, Model: "gpt-4o-mini"}
	tests := []struct {
		name   string
		mutate func(*Options)
		errs   []string // substrings; none = valid
	}{
		{name: "minimal", mutate: func(*Options) {}},
		{name: "local server without key", mutate: func(o *Options) { o.Endpoint = "http://vllm:8000/v1" }},
		{name: "anthropic", mutate: func(o *Options) { o.Provider, o.Model, o.Temperature = ProviderAnthropic, "claude-haiku-4-5", 1 }},
		{name: "unknown provider", mutate: func(o *Options) { o.Provider = "gemini" }, errs: []string{`unknown provider "gemini"`}},
		{name: "no provider", mutate: func(o *Options) { o.Provider = "" }, errs: []string{"provider must be set"}},
		{name: "no model", mutate: func(o *Options) { o.Model = " " }, errs: []string{"model must be set"}},
		{name: "endpoint not http", mutate: func(o *Options) { o.Endpoint = "ftp://x" }, errs: []string{"http or https"}},
		{name: "endpoint without host", mutate: func(o *Options) { o.Endpoint = "http://" }, errs: []string{"no host"}},
		{name: "endpoint not a URL", mutate: func(o *Options) { o.Endpoint = "http://a b:%zz" }, errs: []string{"not a URL"}},
		{name: "endpoint with query", mutate: func(o *Options) { o.Endpoint = "http://x/v1?a=b" }, errs: []string{"without query"}},
		{name: "negative timeout", mutate: func(o *Options) { o.Timeout = -time.Second }, errs: []string{"timeout"}},
		{name: "negative tokens", mutate: func(o *Options) { o.MaxOutputTokens = -1 }, errs: []string{"max output tokens"}},
		{name: "temperature", mutate: func(o *Options) { o.Temperature = 2.5 }, errs: []string{"temperature"}},
		{name: "anthropic temperature", mutate: func(o *Options) { o.Provider, o.Temperature = ProviderAnthropic, 1.5 }, errs: []string{"between 0 and 1"}},
		{name: "prices", mutate: func(o *Options) { o.PriceOutputPer1K = -1 }, errs: []string{"prices"}},
		{name: "retries", mutate: func(o *Options) { o.Retry.MaxAttempts = -1 }, errs: []string{"max attempts"}},
		{name: "backoffs", mutate: func(o *Options) { o.Retry.InitialBackoff, o.Retry.MaxBackoff = time.Second, time.Millisecond }, errs: []string{"below the initial"}},
		{name: "negative backoff", mutate: func(o *Options) { o.Retry.MaxRetryAfter = -1 }, errs: []string{"retry durations"}},
		{name: "budgets", mutate: func(o *Options) { o.Budget.CostPerDay = -1 }, errs: []string{"budgets"}},
		{name: "cache", mutate: func(o *Options) { o.Cache.MaxSizeMiB, o.Cache.TTL = -1, -1 }, errs: []string{"cache size", "cache TTL"}},
		{name: "several at once", mutate: func(o *Options) { o.Provider, o.Model = "x", "" }, errs: []string{"unknown provider", "model must be set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mutate(&o)
			err := o.Validate()
			if len(tt.errs) == 0 {
				require.NoError(t, err)
				c, err := New(o, nil, nil, nil)
				require.NoError(t, err)
				require.NoError(t, c.Close())
				return
			}
			require.Error(t, err)
			for _, s := range tt.errs {
				require.ErrorContains(t, err, s)
			}
			_, err = New(o, nil, nil, nil)
			assert.ErrorContains(t, err, tt.errs[0], "New validates")
		})
	}
}

func TestDefaults(t *testing.T) {
	o := Options{Provider: ProviderAnthropic, Model: "m"}.withDefaults()
	assert.Equal(t, DefaultAnthropicEndpoint, o.Endpoint)
	assert.Equal(t, 30*time.Second, o.Timeout)
	assert.Equal(t, 512, o.MaxOutputTokens)
	assert.Equal(t, RetryOptions{MaxAttempts: 3, InitialBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second, MaxRetryAfter: 30 * time.Second}, o.Retry)
	assert.Equal(t, time.Hour, o.Cache.TTL)

	for _, tt := range []struct{ provider, in, want string }{
		{ProviderOpenAI, "", DefaultOpenAIEndpoint},
		{ProviderOllama, "", DefaultOllamaEndpoint},
		{ProviderOpenAI, "http://vllm:8000", "http://vllm:8000/v1"},
		{ProviderOpenAI, "http://vllm:8000/", "http://vllm:8000/v1"},
		{ProviderOpenAI, "http://llama:8080/v1/", "http://llama:8080/v1"},
		{ProviderAnthropic, "https://api.anthropic.com", "https://api.anthropic.com/v1"},
		{ProviderOllama, "http://ollama:11434/", "http://ollama:11434"},
	} {
		assert.Equal(t, tt.want, baseURL(tt.provider, tt.in), tt.in)
	}
	assert.True(t, isOpenAIHosted(DefaultOpenAIEndpoint))
	assert.True(t, isOpenAIHosted("https://my.openai.azure.com/openai/v1"))
	assert.False(t, isOpenAIHosted("http://localhost:8000/v1"))
}

func TestExtractJSON(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{name: "bare", in: `{"a":1}`, want: `{"a":1}`},
		{name: "fenced with prose", in: "Here you go:\n```json\n{\"a\": {\"b\": [1, 2]}}\n```\nDone.", want: `{"a": {"b": [1, 2]}}`},
		{name: "braces in strings", in: `{"msg": "unbalanced } and { and \" quote"} trailing {x}`, want: `{"msg": "unbalanced } and { and \" quote"}`},
		{name: "prose braces first", in: `Use {placeholders} like this: {"ok": true}`, want: `{"ok": true}`},
		{name: "unicode", in: `→ {"svc": "paiement é"}`, want: `{"svc": "paiement é"}`},
		{name: "no object", in: "no JSON here", err: "no JSON object"},
		{name: "array only", in: `[1, 2]`, err: "no JSON object"},
		{name: "cut off", in: `{"a": [1, 2`, err: "not terminated"},
		{name: "trailing comma", in: `{"a": 1,}`, err: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractJSON(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestEstimateTokens(t *testing.T) {
	assert.Equal(t, 0, EstimateTokens(""))
	assert.Equal(t, 1, EstimateTokens("a"))
	assert.Equal(t, 1, EstimateTokens("abcd"))
	assert.Equal(t, 2, EstimateTokens("abcde"))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ra, ms string
		want   time.Duration
		ok     bool
	}{
		{ra: "7", want: 7 * time.Second, ok: true},
		{ra: "0.5", want: 500 * time.Millisecond, ok: true},
		{ra: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second, ok: true},
		{ra: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, ok: true},
		{ms: "250", ra: "1", want: 250 * time.Millisecond, ok: true},
		{ra: "1e300", want: maxRetryAfterSeconds * time.Second, ok: true},
		{ra: "-3"},
		{ra: "soon"},
		{},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.ra, tt.ms, now)
		assert.Equal(t, tt.ok, ok, tt.ra)
		assert.Equal(t, tt.want, got, tt.ra)
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{opts: Options{Retry: RetryOptions{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}}
	c.jitter = func(limit time.Duration) time.Duration { return limit }
	assert.Equal(t, 100*time.Millisecond, c.backoff(0))
	assert.Equal(t, 400*time.Millisecond, c.backoff(2))
	assert.Equal(t, time.Second, c.backoff(10))

	// The default jitter stays within [0, limit].
	rc, err := New(Options{Provider: ProviderOllama, Model: "m"}, nil, nil, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, rc.Close()) }()
	for range 100 {
		d := rc.jitter(time.Second)
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, time.Second)
	}
	assert.Zero(t, rc.jitter(0))
}

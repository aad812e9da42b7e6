// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"
)

// TestProviders runs one request end to end per provider and checks what the server got.
func TestProviders(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		key      string
		answer   string
		official bool // the endpoint is api.openai.com (redirected to the test server)
		check    func(t *testing.T, call llmtest.Call)
	}{
		{
			name: "openai-compatible server", provider: ProviderOpenAI, key: "sk-test-key", answer: verdictJSON,
			check: func(t *testing.T, call llmtest.Call) {
				t.Helper()
				assert.Equal(t, "/v1/chat/completions", call.Path)
				assert.Equal(t, "Bearer sk-test-key", call.Header.Get("Authorization"))
				assert.Equal(t, "json_object", bodyField(t, call.Body, "response_format", "type"))
				// Local servers read max_tokens; langchaingo never sends both fields.
				assert.InDelta(t, 300, bodyField(t, call.Body, "max_tokens"), 0)
				assert.False(t, hasField(t, call.Body, "max_completion_tokens"))
				assert.Equal(t, systemPrompt, call.System)
			},
		},
		{
			name: "openai-compatible server without a key", provider: ProviderOpenAI, key: "", answer: fenced(verdictJSON),
			check: func(t *testing.T, call llmtest.Call) {
				t.Helper()
				assert.Empty(t, call.Header.Values("Authorization"), "no placeholder credential is sent")
				assert.InDelta(t, 300, bodyField(t, call.Body, "max_tokens"), 0)
			},
		},
		{
			name: "openai", provider: ProviderOpenAI, key: "sk-test-key", answer: verdictJSON, official: true,
			check: func(t *testing.T, call llmtest.Call) {
				t.Helper()
				assert.Equal(t, "Bearer sk-test-key", call.Header.Get("Authorization"))
				// OpenAI itself: the modern field only (reasoning models refuse max_tokens).
				assert.InDelta(t, 300, bodyField(t, call.Body, "max_completion_tokens"), 0)
				assert.False(t, hasField(t, call.Body, "max_tokens"))
			},
		},
		{
			name: "anthropic", provider: ProviderAnthropic, key: "sk-ant-test",
			// The answer continues the prefilled "{".
			answer: strings.TrimPrefix(verdictJSON, "{"),
			check: func(t *testing.T, call llmtest.Call) {
				t.Helper()
				assert.Equal(t, "/v1/messages", call.Path)
				assert.Equal(t, "sk-ant-test", call.Header.Get("X-Api-Key"))
				assert.Equal(t, "2023-06-01", call.Header.Get("Anthropic-Version"))
				assert.Empty(t, call.Header.Values("Authorization"))
				assert.Equal(t, "{", call.Prefill, "JSON mode is a prefilled assistant turn")
				assert.InDelta(t, 300, bodyField(t, call.Body, "max_tokens"), 0)
				assert.Equal(t, systemPrompt, bodyField(t, call.Body, "system"))
				assert.Len(t, call.Messages, 2)
			},
		},
		{
			name: "ollama", provider: ProviderOllama, answer: fenced(verdictJSON),
			check: func(t *testing.T, call llmtest.Call) {
				t.Helper()
				assert.Equal(t, "/api/chat", call.Path)
				assert.Equal(t, "json", bodyField(t, call.Body, "format"))
				assert.InDelta(t, 300, bodyField(t, call.Body, "options", "num_predict"), 0)
				assert.True(t, call.Stream, "langchaingo omits stream, so Ollama streams")
				assert.Empty(t, call.Header.Values("Authorization"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tt.provider, llmtest.Static(tt.answer))
			opts := testOptions(srv, tt.provider)
			opts.APIKey = tt.key
			var hc *http.Client
			if tt.official {
				opts.Endpoint = ""
				hc = redirectClient(t, srv)
			}
			c, _, rec := newTestClient(t, opts, hc)

			res, err := c.Do(t.Context(), verdictRequest())
			require.NoError(t, err)
			assert.Equal(t, OutcomeOK, res.Outcome)
			assert.JSONEq(t, verdictJSON, string(res.Raw))
			assert.Equal(t, "test-model", res.Model)

			require.Equal(t, 1, srv.Calls())
			call := srv.Requests()[0]
			assert.Equal(t, "test-model", call.Model)
			require.NotNil(t, call.Temperature)
			assert.InDelta(t, 0.1, *call.Temperature, 1e-6)
			assert.Equal(t, 300, call.MaxTokens)
			assert.True(t, call.JSONMode)
			assert.Equal(t, userPrompt, call.Prompt)
			tt.check(t, call)

			// The server's estimate of the usage (no explicit numbers given) is what counts.
			assert.Positive(t, res.InputTokens)
			assert.Positive(t, res.OutputTokens)
			ev := rec.Events()
			require.Len(t, ev, 1)
			assert.Equal(t, event{"verdict", "test-model", OutcomeOK, 0, res.InputTokens, res.OutputTokens, res.Cost}, ev[0])
		})
	}
}

// TestUsageAndCost checks the token usage read per provider and the cost.
func TestUsageAndCost(t *testing.T) {
	for _, provider := range []string{ProviderOpenAI, ProviderAnthropic, ProviderOllama} {
		t.Run(provider, func(t *testing.T) {
			srv := llmtest.NewServer(t, provider, llmtest.Sequence(
				llmtest.Reply{Content: verdictJSON, InputTokens: 1234, OutputTokens: 321},
				// A server that reports no usage: estimated from the text.
				llmtest.Reply{Content: verdictJSON, InputTokens: -1, OutputTokens: -1},
			))
			opts := testOptions(srv, provider)
			opts.JSONMode = false
			c, _, rec := newTestClient(t, opts, nil)

			res, err := c.Do(t.Context(), verdictRequest())
			require.NoError(t, err)
			assert.Equal(t, 1234, res.InputTokens)
			assert.Equal(t, 321, res.OutputTokens)
			assert.InDelta(t, 1.234*0.5+0.321*1.5, res.Cost, 1e-9)

			res, err = c.Do(t.Context(), verdictRequest())
			require.NoError(t, err)
			assert.Equal(t, EstimateTokens(systemPrompt)+EstimateTokens(userPrompt), res.InputTokens)
			assert.Equal(t, EstimateTokens(verdictJSON), res.OutputTokens)

			ev := rec.Events()
			require.Len(t, ev, 2)
			assert.Equal(t, 1234, ev[0].in)
			assert.InDelta(t, res.Cost, ev[1].cost, 1e-12)
		})
	}
}

func TestCache(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Static(verdictJSON))
	opts := testOptions(srv, ProviderOpenAI)
	opts.Cache = CacheOptions{MaxSizeMiB: 1, TTL: time.Hour}
	c, clock, rec := newTestClient(t, opts, nil)
	req := verdictRequest()
	req.CacheKey = "window-1"

	_, ok := c.Cached("verdict", "window-1")
	assert.False(t, ok)

	first, err := c.Do(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, OutcomeOK, first.Outcome)

	second, err := c.Do(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, OutcomeCached, second.Outcome)
	assert.JSONEq(t, verdictJSON, string(second.Raw))
	assert.Equal(t, "test-model", second.Model)
	assert.Zero(t, second.InputTokens)
	assert.Zero(t, second.Cost)
	assert.Equal(t, 1, srv.Calls(), "a cache hit makes no call")

	got, ok := c.Cached("verdict", "window-1")
	require.True(t, ok)
	assert.Equal(t, OutcomeCached, got.Outcome)
	assert.JSONEq(t, verdictJSON, string(got.Raw))
	_, ok = c.Cached("screen", "window-1")
	assert.False(t, ok, "the task is part of the key")

	hits, misses := rec.counts("verdict")
	assert.Equal(t, 2, hits)
	assert.Equal(t, 2, misses)
	assert.Len(t, rec.Events(), 1, "cache hits are not requests")

	// Past the TTL on the client's clock, the answer is asked again.
	clock.Advance(time.Hour + time.Second)
	third, err := c.Do(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, OutcomeOK, third.Outcome)
	assert.Equal(t, 2, srv.Calls())

	// Without a key nothing is cached.
	req.CacheKey = ""
	_, err = c.Do(t.Context(), req)
	require.NoError(t, err)
	_, err = c.Do(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, 4, srv.Calls())
}

func TestSingleflight(t *testing.T) {
	const n = 8
	release := make(chan struct{})
	started := make(chan struct{}, n)
	srv := llmtest.NewServer(t, ProviderOpenAI, func(llmtest.Call) llmtest.Reply {
		started <- struct{}{}
		<-release
		return llmtest.Reply{Content: verdictJSON, InputTokens: 100, OutputTokens: 50}
	})
	opts := testOptions(srv, ProviderOpenAI)
	opts.Cache = CacheOptions{MaxSizeMiB: 1}
	c, _, rec := newTestClient(t, opts, nil)
	joined := make(chan struct{}, n)
	c.beforeFlight = func() { joined <- struct{}{} }

	req := verdictRequest()
	req.CacheKey = "same-window"
	results := make([]<-chan doResult, n)
	for i := range results {
		results[i] = doAsync(t.Context(), c, req)
	}
	for range n {
		<-joined
	}
	<-started
	close(release)

	outcomes := map[Outcome]int{}
	for _, ch := range results {
		r := <-ch
		require.NoError(t, r.err)
		assert.JSONEq(t, verdictJSON, string(r.res.Raw))
		outcomes[r.res.Outcome]++
	}
	assert.Equal(t, 1, srv.Calls(), "identical requests in flight make one call")
	assert.Equal(t, map[Outcome]int{OutcomeOK: 1, OutcomeCached: n - 1}, outcomes)
	ev := rec.Events()
	require.Len(t, ev, 1, "the shared call is reported once")
	assert.Equal(t, 100, ev[0].in)
}

func TestRetryAfter429(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		wait       time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 7 * time.Second},
		{"http date", func(now time.Time) string { return now.Add(5 * time.Second).Format(http.TimeFormat) }, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Sequence(
				llmtest.Reply{Status: http.StatusTooManyRequests, RetryAfter: tt.retryAfter(t0), Content: "Rate limit reached for requests"},
				llmtest.Reply{Content: verdictJSON},
			))
			c, clock, _ := newTestClient(t, testOptions(srv, ProviderOpenAI), nil)

			done := doAsync(t.Context(), c, verdictRequest())
			require.NoError(t, clock.BlockUntilContext(t.Context(), 1))
			clock.Advance(tt.wait - time.Second)
			select {
			case r := <-done:
				t.Fatalf("Do returned before the Retry-After elapsed: %+v", r)
			default:
			}
			assert.Equal(t, 1, srv.Calls())
			clock.Advance(time.Second)
			r := <-done
			require.NoError(t, r.err)
			assert.Equal(t, OutcomeOK, r.res.Outcome)
			assert.Equal(t, 2, srv.Calls())
			assert.Equal(t, tt.wait, r.res.Latency, "the wait is on the client's clock")
		})
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderAnthropic, llmtest.Sequence(
		llmtest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "120"},
		llmtest.Reply{Content: verdictJSON},
	))
	c, _, rec := newTestClient(t, testOptions(srv, ProviderAnthropic), nil)
	_, err := c.Do(t.Context(), verdictRequest())
	assert.Equal(t, OutcomeRateLimited, outcomeOf(t, err))
	assert.Equal(t, 1, srv.Calls())
	assert.Equal(t, OutcomeRateLimited, rec.Events()[0].outcome)

	// A Retry-After beyond the caller's deadline is not waited for either.
	srv2 := llmtest.NewServer(t, ProviderOllama, llmtest.Sequence(
		llmtest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "20"},
		llmtest.Reply{Content: verdictJSON},
	))
	c2, _, _ := newTestClient(t, testOptions(srv2, ProviderOllama), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = c2.Do(ctx, verdictRequest())
	assert.Equal(t, OutcomeRateLimited, outcomeOf(t, err))
	assert.Equal(t, 1, srv2.Calls())
}

func TestServerErrors(t *testing.T) {
	for _, provider := range []string{ProviderOpenAI, ProviderAnthropic, ProviderOllama} {
		t.Run(provider+"/500 then success", func(t *testing.T) {
			srv := llmtest.NewServer(t, provider, llmtest.Sequence(
				llmtest.Reply{Status: http.StatusInternalServerError},
				llmtest.Reply{Content: verdictJSON},
			))
			opts := testOptions(srv, provider)
			opts.JSONMode = false
			c, clock, _ := newTestClient(t, opts, nil)
			done := doAsync(t.Context(), c, verdictRequest())
			require.NoError(t, clock.BlockUntilContext(t.Context(), 1))
			clock.Advance(100 * time.Millisecond) // InitialBackoff (jitter pinned to its bound)
			r := <-done
			require.NoError(t, r.err)
			assert.Equal(t, OutcomeOK, r.res.Outcome)
			assert.Equal(t, 2, srv.Calls())
		})
		t.Run(provider+"/503 forever", func(t *testing.T) {
			srv := llmtest.NewServer(t, provider, llmtest.Sequence(llmtest.Reply{Status: http.StatusServiceUnavailable}))
			c, clock, rec := newTestClient(t, testOptions(srv, provider), nil)
			done := doAsync(t.Context(), c, verdictRequest())
			for range 2 { // waits of 100ms and 200ms
				require.NoError(t, clock.BlockUntilContext(t.Context(), 1))
				clock.Advance(time.Second)
			}
			r := <-done
			assert.Equal(t, OutcomeServerError, outcomeOf(t, r.err))
			assert.Equal(t, 3, srv.Calls(), "MaxAttempts calls, no more (langchaingo does not retry)")
			assert.Equal(t, OutcomeServerError, rec.Events()[0].outcome)
		})
	}
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		provider string
		status   int
		msg      string
	}{
		{ProviderOpenAI, http.StatusUnauthorized, "Incorrect API key provided: sk-test*****"},
		{ProviderAnthropic, http.StatusUnauthorized, "invalid x-api-key"},
		{ProviderOllama, http.StatusNotFound, `model "test-model" not found, try pulling it first`},
		{ProviderOpenAI, http.StatusBadRequest, "This model's maximum context length is 8192 tokens."},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+http.StatusText(tt.status), func(t *testing.T) {
			srv := llmtest.NewServer(t, tt.provider, llmtest.Sequence(llmtest.Reply{Status: tt.status, Content: tt.msg}))
			c, _, _ := newTestClient(t, testOptions(srv, tt.provider), nil)
			_, err := c.Do(t.Context(), verdictRequest())
			assert.Equal(t, OutcomeClientError, outcomeOf(t, err))
			assert.Equal(t, 1, srv.Calls(), "a permanent error is not retried")
		})
	}
}

// TestTimeouts uses short real timeouts: the HTTP layer runs on real time. They assert the
// outcome, not a duration.
func TestTimeouts(t *testing.T) {
	for _, provider := range []string{ProviderOpenAI, ProviderAnthropic, ProviderOllama} {
		t.Run(provider+"/hanging server", func(t *testing.T) {
			srv := llmtest.NewServer(t, provider, llmtest.Sequence(llmtest.Reply{Hang: true}))
			opts := testOptions(srv, provider)
			opts.Timeout = 50 * time.Millisecond
			opts.Retry.MaxAttempts = 1
			c, _, rec := newTestClient(t, opts, nil)
			_, err := c.Do(t.Context(), verdictRequest())
			assert.Equal(t, OutcomeTimeout, outcomeOf(t, err))
			assert.Equal(t, OutcomeTimeout, rec.Events()[0].outcome)
		})
		t.Run(provider+"/slow answer then retry", func(t *testing.T) {
			srv := llmtest.NewServer(t, provider, llmtest.Sequence(
				llmtest.Reply{Delay: time.Minute, Content: verdictJSON},
				llmtest.Reply{Content: verdictJSON},
			))
			opts := testOptions(srv, provider)
			opts.Timeout = 50 * time.Millisecond
			c, clock, _ := newTestClient(t, opts, nil)
			done := doAsync(t.Context(), c, verdictRequest())
			require.NoError(t, clock.BlockUntilContext(t.Context(), 1))
			clock.Advance(time.Second)
			r := <-done
			require.NoError(t, r.err)
			assert.Equal(t, 2, srv.Calls())
		})
		t.Run(provider+"/http client timeout", func(t *testing.T) {
			srv := llmtest.NewServer(t, provider, llmtest.Sequence(llmtest.Reply{Hang: true}))
			opts := testOptions(srv, provider)
			opts.Retry.MaxAttempts = 1
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			c, _, _ := newTestClient(t, opts, &http.Client{Transport: tr, Timeout: 50 * time.Millisecond})
			_, err := c.Do(t.Context(), verdictRequest())
			assert.Equal(t, OutcomeTimeout, outcomeOf(t, err), "%v", err)
		})
	}
}

func TestCanceled(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := llmtest.NewServer(t, ProviderOpenAI, func(llmtest.Call) llmtest.Reply {
		started <- struct{}{}
		return llmtest.Reply{Hang: true}
	})
	c, _, rec := newTestClient(t, testOptions(srv, ProviderOpenAI), nil)

	ctx, cancel := context.WithCancel(t.Context())
	done := doAsync(ctx, c, verdictRequest())
	<-started
	cancel()
	r := <-done
	assert.Equal(t, OutcomeCanceled, outcomeOf(t, r.err))
	assert.Equal(t, 1, srv.Calls())

	_, err := c.Do(ctx, verdictRequest())
	assert.Equal(t, OutcomeCanceled, outcomeOf(t, err))
	assert.Equal(t, 1, srv.Calls(), "a canceled context makes no call")
	ev := rec.Events()
	require.Len(t, ev, 2)
	assert.Equal(t, OutcomeCanceled, ev[1].outcome)
}

func TestRepair(t *testing.T) {
	tests := []struct {
		name    string
		first   string
		problem string // in the repair message
	}{
		{"malformed JSON", `Sure! {"is_anomaly": true, "severity": "High", "confidence": 0.9,}`, "invalid JSON"},
		{"cut off", "```json\n{\"is_anomaly\": true, \"severity\": \"Hi", "not terminated"},
		{"missing field", verdictNoSeverity, "missing required field severity"},
		{"prose only", "I cannot tell from these lines.", "no JSON object"},
	}
	for _, provider := range []string{ProviderOpenAI, ProviderAnthropic, ProviderOllama} {
		for _, tt := range tests {
			t.Run(provider+"/"+tt.name, func(t *testing.T) {
				srv := llmtest.NewServer(t, provider, llmtest.Sequence(
					llmtest.Reply{Content: tt.first, InputTokens: 200, OutputTokens: 40},
					llmtest.Reply{Content: verdictJSON, InputTokens: 260, OutputTokens: 90},
				))
				opts := testOptions(srv, provider)
				opts.JSONMode = false
				c, _, rec := newTestClient(t, opts, nil)
				res, err := c.Do(t.Context(), verdictRequest())
				require.NoError(t, err)
				assert.Equal(t, OutcomeRepaired, res.Outcome)
				assert.JSONEq(t, verdictJSON, string(res.Raw))
				assert.Equal(t, 460, res.InputTokens, "both calls are counted")
				assert.Equal(t, 130, res.OutputTokens)
				assert.Equal(t, OutcomeRepaired, rec.Events()[0].outcome)

				require.Equal(t, 2, srv.Calls())
				repair := srv.Requests()[1]
				assert.Equal(t, systemPrompt, repair.System)
				require.Len(t, repair.Messages, 3)
				assert.Equal(t, userPrompt, repair.Messages[0].Content)
				assert.Equal(t, "assistant", repair.Messages[1].Role)
				assert.Equal(t, tt.first, repair.Messages[1].Content, "the previous answer")
				assert.Contains(t, repair.Prompt, tt.problem)
				assert.Contains(t, repair.Prompt, "only the corrected JSON object")
			})
		}
	}
}

func TestRepairAnthropicPrefill(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderAnthropic, llmtest.Sequence(
		llmtest.Reply{Content: strings.TrimPrefix(verdictNoSeverity, "{")},
		llmtest.Reply{Content: strings.TrimPrefix(verdictJSON, "{")},
	))
	c, _, _ := newTestClient(t, testOptions(srv, ProviderAnthropic), nil)
	res, err := c.Do(t.Context(), verdictRequest())
	require.NoError(t, err)
	assert.Equal(t, OutcomeRepaired, res.Outcome)
	assert.JSONEq(t, verdictJSON, string(res.Raw))
	repair := srv.Requests()[1]
	require.Len(t, repair.Messages, 4, "user, previous answer, repair request, prefill")
	assert.JSONEq(t, verdictNoSeverity, repair.Messages[1].Content, "the previous answer with its prefill")
	assert.Equal(t, "{", repair.Prefill)

	// A server that ignores the prefill and answers the whole object is understood too.
	srv2 := llmtest.NewServer(t, ProviderAnthropic, llmtest.Static(verdictJSON))
	c2, _, _ := newTestClient(t, testOptions(srv2, ProviderAnthropic), nil)
	res, err = c2.Do(t.Context(), verdictRequest())
	require.NoError(t, err)
	assert.Equal(t, OutcomeOK, res.Outcome)
}

func TestInvalidTwice(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderOllama, llmtest.Sequence(
		llmtest.Reply{Content: `{"is_anomaly": true,`, InputTokens: 100, OutputTokens: 10},
		llmtest.Reply{Content: verdictNoSeverity, InputTokens: 150, OutputTokens: 60},
	))
	c, _, rec := newTestClient(t, testOptions(srv, ProviderOllama), nil)
	_, err := c.Do(t.Context(), verdictRequest())
	assert.Equal(t, OutcomeInvalidJSON, outcomeOf(t, err))
	require.ErrorContains(t, err, "severity")
	assert.Equal(t, 2, srv.Calls(), "one repair attempt only")
	ev := rec.Events()
	require.Len(t, ev, 1)
	assert.Equal(t, event{"verdict", "test-model", OutcomeInvalidJSON, 0, 250, 70, 0.25*0.5 + 0.07*1.5}, ev[0], "billed tokens are counted")
}

func TestEmptyAnswer(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderAnthropic, llmtest.Static(""))
	opts := testOptions(srv, ProviderAnthropic)
	opts.JSONMode = false
	c, _, _ := newTestClient(t, opts, nil)
	_, err := c.Do(t.Context(), verdictRequest())
	assert.Equal(t, OutcomeError, outcomeOf(t, err))
	assert.Equal(t, 1, srv.Calls())

	_, err = c.Do(t.Context(), Request{Task: "verdict", Prompt: "  "})
	assert.Equal(t, OutcomeError, outcomeOf(t, err))
	assert.Equal(t, 1, srv.Calls(), "an empty prompt is not sent")
}

func TestJSONHintForOpenAI(t *testing.T) {
	// OpenAI refuses json_object when no message mentions JSON (the test server too).
	srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Static(verdictJSON))
	c, _, _ := newTestClient(t, testOptions(srv, ProviderOpenAI), nil)
	_, err := c.Do(t.Context(), Request{Task: "screen", System: "You are a senior SRE.", Prompt: userPrompt})
	require.NoError(t, err)
	assert.Contains(t, srv.Requests()[0].System, jsonHint)
}

func TestBudgets(t *testing.T) {
	tests := []struct {
		name    string
		budget  BudgetOptions
		reply   llmtest.Reply
		outcome Outcome
		recover time.Duration
	}{
		{
			name: "calls per minute", budget: BudgetOptions{CallsPerMinute: 1},
			reply: llmtest.Reply{Content: verdictJSON}, outcome: OutcomeRate, recover: time.Minute,
		},
		{
			// 500+50 used; the next one needs its estimate plus 100 output tokens.
			name: "tokens per minute", budget: BudgetOptions{TokensPerMinute: 600},
			reply: llmtest.Reply{Content: verdictJSON, InputTokens: 500, OutputTokens: 50}, outcome: OutcomeBudget, recover: time.Minute,
		},
		{
			// 1000 in and 100 out cost 0.5+0.15; the next one may cost up to about 0.2.
			name: "cost per day", budget: BudgetOptions{CostPerDay: 0.8},
			reply: llmtest.Reply{Content: verdictJSON, InputTokens: 1000, OutputTokens: 100}, outcome: OutcomeBudget, recover: 2 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Sequence(tt.reply))
			opts := testOptions(srv, ProviderOpenAI)
			opts.MaxOutputTokens = 100
			opts.Budget = tt.budget
			opts.Cache = CacheOptions{MaxSizeMiB: 1}
			c, clock, rec := newTestClient(t, opts, nil)
			req := verdictRequest()
			req.CacheKey = "k1"

			_, err := c.Do(t.Context(), req)
			require.NoError(t, err)

			req2 := req
			req2.CacheKey = "k2"
			_, err = c.Do(t.Context(), req2)
			assert.Equal(t, tt.outcome, outcomeOf(t, err))
			assert.Equal(t, 1, srv.Calls(), "a spent budget makes no call")
			ev := rec.Events()
			require.Len(t, ev, 2)
			assert.Equal(t, tt.outcome, ev[1].outcome)

			// A cache hit costs nothing: served even now.
			res, err := c.Do(t.Context(), req)
			require.NoError(t, err)
			assert.Equal(t, OutcomeCached, res.Outcome)

			clock.Advance(tt.recover - time.Second)
			_, err = c.Do(t.Context(), req2)
			assert.Equal(t, tt.outcome, outcomeOf(t, err), "still spent just before the window ends")
			clock.Advance(time.Second)
			_, err = c.Do(t.Context(), req2)
			require.NoError(t, err)
			assert.Equal(t, 2, srv.Calls())
		})
	}
}

func TestBudgetCountsRetries(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Sequence(
		llmtest.Reply{Status: http.StatusBadGateway},
		llmtest.Reply{Content: verdictJSON},
	))
	opts := testOptions(srv, ProviderOpenAI)
	opts.Budget.CallsPerMinute = 2
	c, clock, _ := newTestClient(t, opts, nil)
	done := doAsync(t.Context(), c, verdictRequest())
	require.NoError(t, clock.BlockUntilContext(t.Context(), 1))
	clock.Advance(100 * time.Millisecond)
	require.NoError(t, (<-done).err)
	_, err := c.Do(t.Context(), verdictRequest())
	assert.Equal(t, OutcomeRate, outcomeOf(t, err), "the retry was a call too")
}

func TestRedact(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Static(verdictJSON))
	opts := testOptions(srv, ProviderOpenAI)
	opts.Redact = func(s string) string { return strings.ReplaceAll(s, "s3cr3t-p4ss", "[REDACTED]") }
	c, _, _ := newTestClient(t, opts, nil)
	req := verdictRequest()
	req.System += " Never repeat s3cr3t-p4ss."
	req.Prompt += "4 ERROR login failed password=s3cr3t-p4ss\n"
	_, err := c.Do(t.Context(), req)
	require.NoError(t, err)
	body := string(srv.Requests()[0].Body)
	assert.NotContains(t, body, "s3cr3t-p4ss")
	assert.Contains(t, body, "password=[REDACTED]")
}

func TestClosed(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Static(verdictJSON))
	opts := testOptions(srv, ProviderOpenAI)
	opts.Cache.MaxSizeMiB = 1
	c, err := New(opts, nil, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "test-model", c.Model())
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	_, err = c.Do(t.Context(), verdictRequest())
	require.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, OutcomeError, outcomeOf(t, err))
	assert.Zero(t, srv.Calls())
}

func TestErrorType(t *testing.T) {
	e := &Error{Outcome: OutcomeBudget, Err: context.DeadlineExceeded}
	require.ErrorIs(t, e, context.DeadlineExceeded)
	assert.Equal(t, "llm: budget: context deadline exceeded", e.Error())
	assert.Equal(t, "llm: rate", (&Error{Outcome: OutcomeRate}).Error())
}

func TestConcurrentDistinctRequests(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderOllama, llmtest.Static(verdictJSON))
	opts := testOptions(srv, ProviderOllama)
	opts.Cache.MaxSizeMiB = 1
	opts.Budget = BudgetOptions{CallsPerMinute: 1000, TokensPerMinute: 1 << 30, CostPerDay: 1000}
	c, _, rec := newTestClient(t, opts, nil)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			req := verdictRequest()
			req.CacheKey = string(rune('a' + i%4))
			_, err := c.Do(t.Context(), req)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, srv.Calls(), 16)
	assert.GreaterOrEqual(t, srv.Calls(), 4)
	assert.Len(t, rec.Events(), srv.Calls())
}

func BenchmarkCacheHit(b *testing.B) {
	srv := llmtest.NewServer(b, ProviderOpenAI, llmtest.Static(verdictJSON))
	opts := Options{Provider: ProviderOpenAI, Model: "m", Endpoint: srv.URL(), Cache: CacheOptions{MaxSizeMiB: 8}}
	c, err := New(opts, nil, nil, nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	req := Request{Task: "verdict", System: systemPrompt, Prompt: userPrompt, CacheKey: "window", Validate: validateVerdict}
	_, err = c.Do(b.Context(), req)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Do(b.Context(), req)
		if err != nil || res.Outcome != OutcomeCached {
			b.Fatal(res.Outcome, err)
		}
	}
}

func TestValidJSONHelpers(t *testing.T) {
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(verdictJSON), &v))
	require.NoError(t, validateVerdict([]byte(verdictJSON)))
	require.Error(t, validateVerdict([]byte(verdictNoSeverity)))
}

// TestSingleflightLeaderCanceled: when the request whose call is shared gives up, the others
// ask again instead of failing with its cancellation.
func TestSingleflightLeaderCanceled(t *testing.T) {
	started := make(chan struct{}, 2)
	srv := llmtest.NewServer(t, ProviderAnthropic, func(c llmtest.Call) llmtest.Reply {
		started <- struct{}{}
		if c.N == 1 {
			return llmtest.Reply{Hang: true}
		}
		return llmtest.Reply{Content: strings.TrimPrefix(verdictJSON, "{")}
	})
	opts := testOptions(srv, ProviderAnthropic)
	opts.Cache.MaxSizeMiB = 1
	c, _, rec := newTestClient(t, opts, nil)
	joined := make(chan struct{}, 4)
	c.beforeFlight = func() { joined <- struct{}{} }
	req := verdictRequest()
	req.CacheKey = "w"

	leaderCtx, cancel := context.WithCancel(t.Context())
	leader := doAsync(leaderCtx, c, req)
	<-joined
	<-started
	follower := doAsync(t.Context(), c, req)
	<-joined
	cancel()
	assert.Equal(t, OutcomeCanceled, outcomeOf(t, (<-leader).err))
	r := <-follower
	require.NoError(t, r.err)
	assert.JSONEq(t, verdictJSON, string(r.res.Raw))
	assert.Equal(t, 2, srv.Calls())
	outcomes := []Outcome{}
	for _, e := range rec.Events() {
		outcomes = append(outcomes, e.outcome)
	}
	assert.ElementsMatch(t, []Outcome{OutcomeCanceled, OutcomeOK}, outcomes)
}

// TestCallerDeadline: the caller's deadline ends the Do as a timeout, without a retry.
func TestCallerDeadline(t *testing.T) {
	srv := llmtest.NewServer(t, ProviderOpenAI, llmtest.Sequence(llmtest.Reply{Hang: true}))
	c, _, _ := newTestClient(t, testOptions(srv, ProviderOpenAI), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, verdictRequest())
	assert.Equal(t, OutcomeTimeout, outcomeOf(t, err))
	assert.Equal(t, 1, srv.Calls())
}

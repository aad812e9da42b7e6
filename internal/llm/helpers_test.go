// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is late in a UTC day, so that a few hours later is the next day.
var t0 = time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)

const (
	verdictJSON = `{"is_anomaly": true, "severity": "High", "anomaly_type": "DatabaseConnectionTimeout",` +
		` "root_cause": "the pool of PaymentService is exhausted: \"timeout acquiring connection {pool=main}\"",` +
		` "affected_services": ["PaymentService", "DatabasePool"],` +
		` "remediation_steps": ["check pool usage: SELECT * FROM pg_stat_activity;", "raise max_connections"],` +
		` "confidence": 0.92, "explanation": "line 3 and 7: HikariPool-1 - Connection is not available"}`
	verdictNoSeverity = `{"is_anomaly": true, "anomaly_type": "DatabaseConnectionTimeout", "root_cause": "pool exhausted",` +
		` "affected_services": ["PaymentService"], "remediation_steps": [], "confidence": 0.8, "explanation": "line 3"}`
	systemPrompt = "You are a senior SRE. Analyse the log lines step by step and answer with a JSON object."
	userPrompt   = "Logs of service PaymentService, 10:00:00-10:00:30:\n" +
		"1 INFO request accepted id=42\n2 WARN slow query 2.3s\n3 ERROR HikariPool-1 - Connection is not available, request timed out after 30000ms\n"
)

// validateVerdict is a strict validator of the verdict schema (required fields and types).
func validateVerdict(raw []byte) error {
	var v struct {
		IsAnomaly  *bool    `json:"is_anomaly"`
		Severity   *string  `json:"severity"`
		Confidence *float64 `json:"confidence"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	switch {
	case v.IsAnomaly == nil:
		return errors.New("missing required field is_anomaly")
	case v.Severity == nil:
		return errors.New("missing required field severity")
	case v.Confidence == nil:
		return errors.New("missing required field confidence")
	}
	return nil
}

func verdictRequest() Request {
	return Request{Task: "verdict", System: systemPrompt, Prompt: userPrompt, Validate: validateVerdict}
}

type event struct {
	task, model string
	outcome     Outcome
	latency     time.Duration
	in, out     int
	cost        float64
}

// recorder is an Observer that keeps what it sees.
type recorder struct {
	mu     sync.Mutex
	events []event
	hits   map[string]int
	misses map[string]int
}

func newRecorder() *recorder {
	return &recorder{hits: map[string]int{}, misses: map[string]int{}}
}

func (r *recorder) Request(task, model string, outcome Outcome, latency time.Duration, in, out int, cost float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{task, model, outcome, latency, in, out, cost})
}

func (r *recorder) Cache(task string, hit bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hit {
		r.hits[task]++
	} else {
		r.misses[task]++
	}
}

func (r *recorder) Events() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func (r *recorder) counts(task string) (hits, misses int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[task], r.misses[task]
}

// testOptions are options for a server, with short backoffs and a fixed key.
func testOptions(srv *llmtest.Server, provider string) Options {
	return Options{
		Provider:         provider,
		Model:            "test-model",
		Endpoint:         srv.URL(),
		APIKey:           "sk-test-key",
		Timeout:          10 * time.Second,
		MaxOutputTokens:  300,
		Temperature:      0.1,
		JSONMode:         true,
		PriceInputPer1K:  0.5,
		PriceOutputPer1K: 1.5,
		Retry:            RetryOptions{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 30 * time.Second},
	}
}

// newTestClient builds a client on a fake clock, with the backoff jitter pinned to its upper
// bound, closed when the test ends.
func newTestClient(t *testing.T, opts Options, hc *http.Client) (*Client, *clockwork.FakeClock, *recorder) {
	t.Helper()
	clock := clockwork.NewFakeClockAt(t0)
	rec := newRecorder()
	c, err := New(opts, hc, rec, clock)
	require.NoError(t, err)
	c.jitter = func(limit time.Duration) time.Duration { return limit }
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c, clock, rec
}

type doResult struct {
	res Result
	err error
}

// doAsync runs Do in a goroutine.
func doAsync(ctx context.Context, c *Client, req Request) <-chan doResult {
	ch := make(chan doResult, 1)
	go func() {
		res, err := c.Do(ctx, req)
		ch <- doResult{res, err}
	}()
	return ch
}

// outcomeOf is the Outcome of a Do error.
func outcomeOf(t *testing.T, err error) Outcome {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e, "every failure of Do is an *Error")
	return e.Outcome
}

// redirectClient sends every request to the test server whatever the URL's host (to test
// behaviour that depends on the official endpoint).
func redirectClient(t *testing.T, srv *llmtest.Server) *http.Client {
	t.Helper()
	target, err := url.Parse(srv.URL())
	require.NoError(t, err)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, ""
		return tr.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// bodyField decodes one field of a JSON request body.
func bodyField(t *testing.T, body []byte, path ...string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v, ok = m[p]
		if !ok {
			return nil
		}
	}
	return v
}

func hasField(t *testing.T, body []byte, path ...string) bool {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[p]; !ok {
			return false
		}
	}
	return true
}

func fenced(s string) string {
	return fmt.Sprintf("Here is my analysis.\n```json\n%s\n```\nLet me know if you need more.", s)
}

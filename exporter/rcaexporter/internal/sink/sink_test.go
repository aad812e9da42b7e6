// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

var (
	t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(90 * time.Second)
	t2 = t0.Add(10 * time.Minute)
)

// testIncident is a fully populated open incident.
func testIncident() *incident.Incident {
	return &incident.Incident{
		ID:               "inc-42",
		Version:          1,
		Status:           incident.StatusOpen,
		Severity:         incident.SeverityCritical,
		Title:            "Checkout failures caused by db connection pool exhaustion",
		RootCauseService: "db",
		RootCauseIssue:   "connection pool exhausted",
		PropagationPath:  []string{"db", "payment", "checkout", "frontend"},
		Evidence: []string{
			"2026-03-04T10:00:01Z payment: pool timeout after 5000ms",
			"2026-03-04T10:00:02Z checkout: upstream payment returned 503",
			"2026-03-04T10:00:03Z frontend: request failed <500>",
			"2026-03-04T10:00:04Z frontend: request failed again",
		},
		Confidence:       0.87,
		Explanation:      "payment calls to db time out first; errors spread upstream",
		DependencyPaths:  [][]string{{"frontend", "checkout", "payment", "db"}},
		Candidates:       []incident.Candidate{{Service: "db", Score: 0.8, Kind: "database"}, {Service: "payment", Score: 0.15, Kind: "service"}},
		AffectedServices: []string{"payment", "checkout", "frontend"},
		RemediationSteps: []string{"Increase the pool size", "Kill long-running queries"},
		StartedAt:        t0,
		UpdatedAt:        t1,
		Source:           "statistical",
	}
}

func resolvedIncident() *incident.Incident {
	inc := testIncident()
	inc.Version = 3
	inc.Status = incident.StatusResolved
	end := t2
	inc.ResolvedAt = &end
	inc.UpdatedAt = t2
	return inc
}

func clientConfig(endpoint string) confighttp.ClientConfig {
	c := confighttp.NewDefaultClientConfig()
	c.Endpoint = endpoint
	return c
}

// start starts s and shuts it down at the end of the test.
func start(t *testing.T, s Sink) {
	t.Helper()
	require.NoError(t, s.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, s.Shutdown(context.Background())) })
}

// request is one captured request.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// recorder is an httptest server that records requests and answers with a fixed status/body.
type recorder struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []request
	status   int
	header   http.Header
	body     string
	handler  func(w http.ResponseWriter, r *http.Request, body []byte) bool
}

func newRecorder(t *testing.T, status int, body string) *recorder {
	t.Helper()
	rec := &recorder{status: status, body: body, header: http.Header{}}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		rec.mu.Lock()
		rec.requests = append(rec.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: b})
		h := rec.handler
		status, respBody := rec.status, rec.body
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		rec.mu.Unlock()
		if h != nil && h(w, r, b) {
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, respBody)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) all() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

func (r *recorder) set(status int, body string, kv ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.body = status, body
	r.header = http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		r.header.Set(kv[i], kv[i+1])
	}
}

// blockingServer never answers until the test ends.
func blockingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv
}

// newTestSink builds every HTTP sink type pointed at endpoint (Slack via its webhook URL).
func newTestSinks(endpoint string, timeout time.Duration) []Sink {
	set := componenttest.NewNopTelemetrySettings()
	wc := NewDefaultWebhookConfig()
	wc.ClientConfig = clientConfig(endpoint + "/hook")
	wc.Secret = "hmac-secret-value"
	sc := NewDefaultSlackConfig()
	sc.ClientConfig = clientConfig("")
	sc.WebhookURL = "" // set below
	pc := NewDefaultPagerDutyConfig()
	pc.ClientConfig = clientConfig(endpoint)
	pc.RoutingKey = "routing-key-secret"
	jc := NewDefaultJiraConfig()
	jc.ClientConfig = clientConfig(endpoint)
	jc.ProjectKey, jc.User, jc.APIToken = "OPS", "bot@example.com", "jira-token-secret"
	ac := NewDefaultAlertmanagerConfig()
	ac.ClientConfig = clientConfig(endpoint)
	sc.WebhookURL = toOpaque(endpoint + "/services/T000/B000/slack-secret-path")
	for _, c := range []*confighttp.ClientConfig{&wc.ClientConfig, &sc.ClientConfig, &pc.ClientConfig, &jc.ClientConfig, &ac.ClientConfig} {
		c.Timeout = timeout
	}
	return []Sink{NewWebhook(wc, set), NewSlack(sc, set), NewPagerDuty(pc, set), NewJira(jc, set), NewAlertmanager(ac, set)}
}

var secrets = []string{"hmac-secret-value", "slack-secret-path", "routing-key-secret", "jira-token-secret"}

func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	for _, s := range secrets {
		assert.NotContains(t, err.Error(), s)
	}
	assert.NotContains(t, err.Error(), "pool timeout", "payload must not leak into errors")
}

func TestClassification(t *testing.T) {
	retryAt := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		status    int
		kv        []string
		permanent bool
		throttle  string // expected "Throttle (...)" prefix; "" for none
	}{
		{name: "429 retry-after seconds", status: 429, kv: []string{"Retry-After", "7"}, throttle: "Throttle (7s), error: "},
		{name: "503 retry-after date", status: 503, kv: []string{"Retry-After", retryAt}, throttle: "Throttle ("},
		{name: "429 without retry-after", status: 429},
		{name: "503", status: 503},
		{name: "502", status: 502},
		{name: "504", status: 504},
		{name: "503 bad retry-after", status: 503, kv: []string{"Retry-After", "soon"}},
		{name: "500", status: 500},
		{name: "500 retry-after", status: 500, kv: []string{"Retry-After", "2"}, throttle: "Throttle (2s), error: "},
		{name: "501", status: 501},
		{name: "599", status: 599},
		{name: "408", status: 408},
		{name: "400", status: 400, permanent: true},
		{name: "401", status: 401, permanent: true},
		{name: "403", status: 403, permanent: true},
		{name: "404", status: 404, permanent: true},
		{name: "409", status: 409, permanent: true},
		{name: "422", status: 422, permanent: true},
		{name: "304", status: 304, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.status, `{"errorMessages":["pool timeout echoed"],"token":"x"}`)
			rec.set(tt.status, `{"error":"bad"}`, tt.kv...)
			for _, s := range newTestSinks(rec.srv.URL, 5*time.Second) {
				start(t, s)
				err := s.Send(context.Background(), testIncident())
				require.Error(t, err, s.Name())
				assert.Equal(t, tt.permanent, consumererror.IsPermanent(err), s.Name())
				if tt.throttle != "" {
					assert.True(t, strings.HasPrefix(err.Error(), tt.throttle), "%s: %v", s.Name(), err)
				} else {
					assert.NotContains(t, err.Error(), "Throttle", s.Name())
				}
				assert.Contains(t, err.Error(), s.Name()+" sink: HTTP ")
				assertNoSecrets(t, err)
			}
		})
	}
}

func TestThrottleErrorText(t *testing.T) {
	rec := newRecorder(t, 429, "")
	rec.set(429, "", "Retry-After", "7")
	s := newTestSinks(rec.srv.URL, 5*time.Second)[0]
	start(t, s)
	err := s.Send(context.Background(), testIncident())
	assert.EqualError(t, err, "Throttle (7s), error: webhook sink: HTTP 429 Too Many Requests")
}

func TestTimeoutIsRetryable(t *testing.T) {
	srv := blockingServer(t)
	for _, s := range newTestSinks(srv.URL, 50*time.Millisecond) {
		start(t, s)
		err := s.Send(context.Background(), testIncident())
		require.Error(t, err, s.Name())
		assert.False(t, consumererror.IsPermanent(err), s.Name())
		var ne net.Error
		assert.True(t, errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()), "%s: %v", s.Name(), err)
		assert.NotContains(t, err.Error(), srv.URL, "URLs (secret for Slack) must not appear")
		assertNoSecrets(t, err)
	}
}

func TestContextCancelIsRetryable(t *testing.T) {
	srv := blockingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := newTestSinks(srv.URL, time.Minute)[1] // slack
	start(t, s)
	errc := make(chan error, 1)
	go func() { errc <- s.Send(ctx, testIncident()) }()
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, consumererror.IsPermanent(err))
	assertNoSecrets(t, err)
}

func TestTransportErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	for _, s := range newTestSinks(url, 5*time.Second) {
		start(t, s)
		err := s.Send(context.Background(), testIncident())
		require.Error(t, err, s.Name())
		assert.False(t, consumererror.IsPermanent(err), s.Name())
		assert.Contains(t, err.Error(), s.Name()+" sink: request failed: ")
		assertNoSecrets(t, err)
	}
}

func TestSendBeforeStartAndShutdownTwice(t *testing.T) {
	for _, s := range newTestSinks("http://127.0.0.1:1", time.Second) {
		require.NoError(t, s.Shutdown(context.Background()), s.Name())
		err := s.Send(context.Background(), testIncident())
		require.Error(t, err, s.Name())
		assert.True(t, consumererror.IsPermanent(err), s.Name())
		assert.NoError(t, s.Shutdown(context.Background()), s.Name())
	}
}

func TestLargeResponseBodyIsBounded(t *testing.T) {
	big := strings.Repeat("x", 4*maxResponseBytes)
	rec := newRecorder(t, 200, big)
	s := newTestSinks(rec.srv.URL, 5*time.Second)[0].(*Webhook)
	start(t, s)
	b, err := s.http.do(context.Background(), http.MethodPost, rec.srv.URL, []byte("{}"), nil)
	require.NoError(t, err)
	assert.Len(t, b, maxResponseBytes)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"-3", 0, false},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), 0, false},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		d, ok := parseRetryAfter(tt.in, now)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, d, tt.in)
	}
}

func TestTruncate(t *testing.T) {
	assert.Equal(t, "abc", truncate("abc", 3))
	assert.Equal(t, "a…", truncate("abcdef", 4))
	got := truncate("ééééé", 6) // 2-byte runes: never split one
	assert.LessOrEqual(t, len(got), 6)
	assert.True(t, strings.HasSuffix(got, "…"))
	assert.Equal(t, "é…", got)
	assert.Equal(t, "ab…", truncateRunes("abcdef", 3))
	assert.Equal(t, "a", truncateRunes("abcdef", 1))
	assert.Equal(t, "héllo", truncateRunes("héllo", 5))
}

func TestExpandURL(t *testing.T) {
	assert.Empty(t, expandURL("", "x"))
	assert.Equal(t, "https://ui.example/i/a%2Fb", expandURL("https://ui.example/i/{id}", "a/b"))
}

func toOpaque(s string) configopaque.String { return configopaque.String(s) }

// nanValue makes json.Marshal fail (NaN is not representable in JSON).
func nanValue() float64 { return math.NaN() }

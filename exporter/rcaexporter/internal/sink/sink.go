// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package sink holds the destinations the rca exporter forwards incidents to: a generic
// webhook, Slack, PagerDuty, Jira, Alertmanager and a console (log) sink, plus a Multi fan-out.
//
// Every HTTP sink is built from its config section (a squashed confighttp.ClientConfig plus
// product settings), creates its client in Start, and classifies failures for exporterhelper:
// transport errors (refused or closed connections, timeouts) and HTTP 408, 429 and every 5xx
// are transient for every API spoken here (webhook, Slack, PagerDuty Events v2, Jira,
// Alertmanager) and retryable (Retry-After becomes a throttle delay); every other 4xx, any
// other non-2xx status and marshal errors are permanent. Multi decides when a retryable failure
// is given up (RetryPolicy) and reports every version given up. Error texts never contain
// secrets, URLs of secret endpoints, request payloads or response bodies.
package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// Sink is one incident destination.
type Sink interface {
	// Name is the sink's config key (webhook, slack, pagerduty, jira, alertmanager, console).
	Name() string
	// Start creates the HTTP client; it must be called before Send.
	Start(ctx context.Context, host component.Host) error
	// Send forwards one incident. Errors are permanent (consumererror) or retryable.
	Send(ctx context.Context, inc *incident.Incident) error
	// Shutdown releases idle connections. Safe without Start and safe to call twice.
	Shutdown(ctx context.Context) error
}

const (
	// maxResponseBytes bounds how much of a response body is read.
	maxResponseBytes = 64 << 10
	// defaultTimeout is the default HTTP client timeout of every sink.
	defaultTimeout = 10 * time.Second
	// userAgent is sent on every request.
	userAgent = "otelcol-aiops-rca"
)

var errNotStarted = errors.New("sink not started")

// newDefaultClientConfig is the confighttp default with the sink timeout.
func newDefaultClientConfig() confighttp.ClientConfig {
	c := confighttp.NewDefaultClientConfig()
	c.Timeout = defaultTimeout
	return c
}

// httpSender is the HTTP plumbing shared by the HTTP sinks.
type httpSender struct {
	name   string
	cfg    *confighttp.ClientConfig
	set    component.TelemetrySettings
	client *http.Client
}

func (h *httpSender) start(ctx context.Context, host component.Host) error {
	client, err := h.cfg.ToClient(ctx, host.GetExtensions(), h.set)
	if err != nil {
		return fmt.Errorf("%s sink: creating HTTP client: %w", h.name, err)
	}
	h.client = client
	return nil
}

func (h *httpSender) shutdown(context.Context) error {
	if h.client != nil {
		h.client.CloseIdleConnections()
	}
	return nil
}

// do sends body to rawURL and returns the (size-limited) response body of a 2xx response.
// rawURL may be secret (Slack): it never appears in the returned error.
func (h *httpSender) do(ctx context.Context, method, rawURL string, body []byte, header http.Header) ([]byte, error) {
	if h.client == nil {
		return nil, consumererror.NewPermanent(fmt.Errorf("%s sink: %w", h.name, errNotStarted))
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		// The parse error would quote the URL; keep it out.
		return nil, consumererror.NewPermanent(fmt.Errorf("%s sink: invalid request URL", h.name))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s sink: request failed: %w", h.name, stripURL(err))
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	// Drain a bounded remainder so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if readErr != nil {
			return nil, fmt.Errorf("%s sink: reading response: %w", h.name, stripURL(readErr))
		}
		return respBody, nil
	}
	return nil, classifyStatus(h.name, resp)
}

// stripURL removes the *url.Error wrapper, whose text contains the (possibly secret) URL.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// classifyStatus turns a non-2xx response into a retryable, throttled or permanent error.
func classifyStatus(name string, resp *http.Response) error {
	err := fmt.Errorf("%s sink: HTTP %d %s", name, resp.StatusCode, http.StatusText(resp.StatusCode))
	if !retryableStatus(resp.StatusCode) {
		return consumererror.NewPermanent(err)
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return exporterhelper.NewThrottleRetry(err, d)
	}
	return err
}

// retryableStatus reports whether a non-2xx status is transient: 408 Request Timeout,
// 429 Too Many Requests and every 5xx (Slack, PagerDuty, Jira and Alertmanager all document
// 5xx as "try again"; a generic webhook cannot be assumed to know better). Other 4xx mean the
// request itself is refused (bad payload, credentials, routing key, project) and repeating it
// cannot help.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || (code >= 500 && code <= 599)
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0, false
		}
		const maxSecs = int64(24 * time.Hour / time.Second)
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// marshalError wraps a marshal failure as permanent without the payload.
func marshalError(name string, err error) error {
	return consumererror.NewPermanent(fmt.Errorf("%s sink: encoding request: %w", name, err))
}

// validateEndpoint checks an http(s) URL; key is the YAML key used in messages.
func validateEndpoint(key, v string) error {
	if v == "" {
		return fmt.Errorf("`%s` must be set", key)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("`%s` must be an absolute http or https URL", key)
	}
	return nil
}

// validateURLTemplate checks an optional incident URL template.
func validateURLTemplate(key, v string) error {
	if v == "" {
		return nil
	}
	if !strings.Contains(v, "{id}") {
		return fmt.Errorf("`%s` must contain the {id} placeholder", key)
	}
	return validateEndpoint(key, strings.ReplaceAll(v, "{id}", "x"))
}

// expandURL fills the {id} placeholder of an incident URL template ("" when unset).
func expandURL(tmpl, id string) string {
	if tmpl == "" {
		return ""
	}
	return strings.ReplaceAll(tmpl, "{id}", url.PathEscape(id))
}

// joinURL appends an API path to a base endpoint.
func joinURL(base, path string) string {
	return strings.TrimRight(base, "/") + path
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	cut := n - len(ell)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

// truncateRunes cuts s to at most n runes (Slack and PagerDuty count characters).
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// title returns the incident title, or a generated one.
func title(inc *incident.Incident) string {
	if inc.Title != "" {
		return inc.Title
	}
	if inc.RootCauseService != "" {
		return "Incident in " + inc.RootCauseService
	}
	return "Incident " + inc.ID
}

// pathString renders a propagation path with arrows.
func pathString(p []string) string {
	return strings.Join(p, " → ")
}

// topEvidence returns at most n evidence lines.
func topEvidence(inc *incident.Incident, n int) []string {
	if len(inc.Evidence) <= n {
		return inc.Evidence
	}
	return inc.Evidence[:n]
}

// eventTime is the time of the latest change of the incident.
func eventTime(inc *incident.Incident) time.Time {
	if inc.Status == incident.StatusResolved && inc.ResolvedAt != nil && !inc.ResolvedAt.IsZero() {
		return *inc.ResolvedAt
	}
	if !inc.UpdatedAt.IsZero() {
		return inc.UpdatedAt
	}
	return inc.StartedAt
}

func isResolved(inc *incident.Incident) bool { return inc.Status == incident.StatusResolved }

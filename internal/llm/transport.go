// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// noKey is given to langchaingo when Options.APIKey is empty (its clients refuse an empty
// key); the transport removes the header carrying it, so no fake credential is ever sent.
const noKey = "otelcol-aiops-no-api-key"

// attemptInfo is what the transport saw of one attempt's HTTP exchange. It travels in the
// request's context, so the classification does not depend on how langchaingo wraps (or
// flattens) the errors.
type attemptInfo struct {
	mu         sync.Mutex
	status     int    // status code of the last response, 0 when none arrived
	retryAfter string // its Retry-After header
	retryMs    string // its retry-after-ms header (Azure OpenAI and some proxies)
	timedOut   bool   // the transport or the body read hit a timeout
	netErr     bool   // the transport failed without a response
}

type attemptInfoKey struct{}

func withAttemptInfo(ctx context.Context, ai *attemptInfo) context.Context {
	return context.WithValue(ctx, attemptInfoKey{}, ai)
}

func (ai *attemptInfo) snapshot() (status int, retryAfter, retryMs string, timedOut, netErr bool) {
	ai.mu.Lock()
	defer ai.mu.Unlock()
	return ai.status, ai.retryAfter, ai.retryMs, ai.timedOut, ai.netErr
}

// noteErr records whether a failed exchange (or body read) of a request timed out.
func (ai *attemptInfo) noteErr(reqCtx context.Context, err error) {
	if err == nil || errors.Is(err, io.EOF) {
		return
	}
	if isTimeout(err) || errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
		ai.mu.Lock()
		ai.timedOut = true
		ai.mu.Unlock()
	}
}

// transport records each exchange into the attemptInfo of the request's context and removes
// placeholder credentials.
type transport struct {
	base http.RoundTripper
	// stripHeader is the header carrying the placeholder key ("" when a real key is set).
	stripHeader string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.stripHeader != "" && strings.Contains(req.Header.Get(t.stripHeader), noKey) {
		req = req.Clone(req.Context()) // a RoundTripper must not modify the caller's request
		req.Header.Del(t.stripHeader)
	}
	resp, err := t.base.RoundTrip(req)
	ai, _ := req.Context().Value(attemptInfoKey{}).(*attemptInfo)
	if ai == nil {
		return resp, err
	}
	if err != nil {
		ai.mu.Lock()
		ai.netErr = true
		ai.mu.Unlock()
		ai.noteErr(req.Context(), err)
		return resp, err
	}
	ai.mu.Lock()
	ai.status = resp.StatusCode
	ai.retryAfter = resp.Header.Get("Retry-After")
	ai.retryMs = resp.Header.Get("Retry-After-Ms")
	ai.mu.Unlock()
	resp.Body = &recordingBody{ReadCloser: resp.Body, ai: ai, ctx: req.Context()}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the wrapped transport.
func (t *transport) CloseIdleConnections() {
	type closeIdler interface{ CloseIdleConnections() }
	if ci, ok := t.base.(closeIdler); ok {
		ci.CloseIdleConnections()
	}
}

// recordingBody notes a timeout while the body is read (a slow answer after the headers).
type recordingBody struct {
	io.ReadCloser
	ai  *attemptInfo
	ctx context.Context // the request's
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.ai.noteErr(b.ctx, err)
	return n, err
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// maxRetryAfterSeconds caps absurd Retry-After values before they overflow a Duration.
const maxRetryAfterSeconds = 1e6

// parseRetryAfter reads a Retry-After header (delay-seconds or an HTTP date) or, when given,
// a retry-after-ms header. ok is false when there is no usable value.
func parseRetryAfter(retryAfter, retryMs string, now time.Time) (time.Duration, bool) {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(retryMs), 64); err == nil && ms >= 0 {
		return time.Duration(min(ms, maxRetryAfterSeconds*1000) * float64(time.Millisecond)), true
	}
	v := strings.TrimSpace(retryAfter)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, maxRetryAfterSeconds) * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

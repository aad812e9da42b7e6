// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package otlppost is the small OTLP/HTTP sender shared by the project's commands (load
// generator, simulator, demo sender): loopback-only endpoints and one protobuf POST.
package otlppost // import "github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxResponse bounds how much of a response is read.
const maxResponse = 1 << 20

// IsLoopback reports whether host is localhost or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BaseURL validates an http(s) endpoint on a loopback host and returns it without a trailing
// slash. These commands send traffic only to this machine.
func BaseURL(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("invalid endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", endpoint)
	}
	if !IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("endpoint %q: host %q is not a loopback address", endpoint, u.Hostname())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// SignalURL is BaseURL with defaultPath (e.g. /v1/logs) added when the endpoint has no path.
func SignalURL(endpoint, defaultPath string) (string, error) {
	u, err := BaseURL(endpoint)
	if err != nil {
		return "", err
	}
	if u.Path == "" {
		u.Path = defaultPath
	}
	return u.String(), nil
}

// Post sends one protobuf export request and returns the body (at most 1 MiB, e.g. a
// partial-success message) and content type of a 2xx answer. Other statuses are errors carrying
// the start of the response text.
func Post(ctx context.Context, client *http.Client, target string, body []byte) (respBody []byte, contentType string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }() // read below; nothing to report on close
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, "", fmt.Errorf("%s: reading response: %w", target, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return nil, "", fmt.Errorf("%s: HTTP %s: %s", target, resp.Status, msg)
	}
	return data, resp.Header.Get("Content-Type"), nil
}

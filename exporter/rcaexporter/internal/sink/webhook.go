// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

const (
	// DefaultSignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
	DefaultSignatureHeader = "X-Aiops-Signature"
	// HeaderIncidentID and HeaderIncidentVersion let receivers deduplicate deliveries.
	HeaderIncidentID      = "X-Aiops-Incident-Id"
	HeaderIncidentVersion = "X-Aiops-Incident-Version"
)

// WebhookConfig configures the generic webhook sink: the incident is POSTed as JSON to `endpoint`.
type WebhookConfig struct {
	// ClientConfig holds endpoint (required), timeout, TLS, proxy, headers and auth.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// Secret, when set, signs the body with HMAC-SHA256; the signature goes in SignatureHeader.
	Secret configopaque.String `mapstructure:"secret"`
	// SignatureHeader is the header carrying "sha256=<hex>" (default X-Aiops-Signature).
	SignatureHeader string `mapstructure:"signature_header"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultWebhookConfig returns the webhook defaults.
func NewDefaultWebhookConfig() WebhookConfig {
	return WebhookConfig{ClientConfig: newDefaultClientConfig(), SignatureHeader: DefaultSignatureHeader}
}

// Validate checks the webhook section.
func (c *WebhookConfig) Validate() error {
	var errs []error
	if err := validateEndpoint("endpoint", c.ClientConfig.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.Secret != "" && c.SignatureHeader == "" {
		errs = append(errs, errors.New("`signature_header` must be set when `secret` is set"))
	}
	return errors.Join(errs...)
}

// Webhook POSTs the incident JSON, optionally signed.
type Webhook struct {
	cfg  WebhookConfig
	http httpSender
}

var _ Sink = (*Webhook)(nil)

// NewWebhook builds a webhook sink; call Start before Send.
func NewWebhook(cfg WebhookConfig, set component.TelemetrySettings) *Webhook {
	w := &Webhook{cfg: cfg}
	w.http = httpSender{name: "webhook", cfg: &w.cfg.ClientConfig, set: set}
	return w
}

// Name returns "webhook".
func (*Webhook) Name() string { return "webhook" }

// Start creates the HTTP client.
func (w *Webhook) Start(ctx context.Context, host component.Host) error {
	return w.http.start(ctx, host)
}

// Shutdown closes idle connections.
func (w *Webhook) Shutdown(ctx context.Context) error { return w.http.shutdown(ctx) }

// Send POSTs the incident.
func (w *Webhook) Send(ctx context.Context, inc *incident.Incident) error {
	body, err := json.Marshal(inc)
	if err != nil {
		return marshalError(w.Name(), err)
	}
	h := http.Header{}
	h.Set(HeaderIncidentID, inc.ID)
	h.Set(HeaderIncidentVersion, strconv.Itoa(inc.Version))
	if w.cfg.Secret != "" {
		h.Set(w.cfg.SignatureHeader, Sign([]byte(w.cfg.Secret), body))
	}
	_, err = w.http.do(ctx, http.MethodPost, w.cfg.ClientConfig.Endpoint, body, h)
	return err
}

// Sign returns "sha256=<hex HMAC-SHA256(secret, body)>", the webhook signature header value.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

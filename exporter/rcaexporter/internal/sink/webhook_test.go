// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// verifyHMAC is what a receiver does: recompute the HMAC with the shared secret.
func verifyHMAC(secret string, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func TestWebhookWireFormat(t *testing.T) {
	rec := newRecorder(t, http.StatusNoContent, "")
	cfg := NewDefaultWebhookConfig()
	cfg.ClientConfig = clientConfig(rec.srv.URL + "/aiops/incidents")
	cfg.ClientConfig.Headers.Set("X-Tenant", "team-a")
	cfg.Secret = "s3cr3t"
	require.NoError(t, cfg.Validate())
	s := NewWebhook(cfg, componenttest.NewNopTelemetrySettings())
	start(t, s)

	inc := testIncident()
	require.NoError(t, s.Send(context.Background(), inc))

	reqs := rec.all()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/aiops/incidents", r.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "team-a", r.Header.Get("X-Tenant"))
	assert.Equal(t, "inc-42", r.Header.Get("X-Aiops-Incident-Id"))
	assert.Equal(t, "1", r.Header.Get("X-Aiops-Incident-Version"))
	sig := r.Header.Get("X-Aiops-Signature")
	assert.True(t, verifyHMAC("s3cr3t", r.Body, sig), "signature %q must verify with the secret", sig)
	assert.False(t, verifyHMAC("other", r.Body, sig))
	assert.Equal(t, Sign([]byte("s3cr3t"), r.Body), sig)

	var got incident.Incident
	require.NoError(t, json.Unmarshal(r.Body, &got))
	assert.Equal(t, *inc, got)
	// The wire names are the RCA schema's.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &raw))
	for _, k := range []string{"id", "root_cause_service", "root_cause_issue", "propagation_path", "evidence", "confidence", "explanation", "dependency_paths", "candidates", "severity", "status"} {
		assert.Contains(t, raw, k)
	}
	assert.Equal(t, "db", raw["root_cause_service"])
}

func TestWebhookSignatureKnownVector(t *testing.T) {
	// RFC 4231 test case 2.
	assert.Equal(t, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		Sign([]byte("Jefe"), []byte("what do ya want for nothing?")))
}

func TestWebhookCustomHeaderAndUnsigned(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "ok")
	cfg := NewDefaultWebhookConfig()
	cfg.ClientConfig = clientConfig(rec.srv.URL)
	s := NewWebhook(cfg, componenttest.NewNopTelemetrySettings())
	start(t, s)
	require.NoError(t, s.Send(context.Background(), testIncident()))

	cfg.Secret = "k"
	cfg.SignatureHeader = "X-Hub-Signature-256"
	s2 := NewWebhook(cfg, componenttest.NewNopTelemetrySettings())
	start(t, s2)
	require.NoError(t, s2.Send(context.Background(), testIncident()))

	reqs := rec.all()
	require.Len(t, reqs, 2)
	assert.Empty(t, reqs[0].Header.Get("X-Aiops-Signature"), "no secret, no signature")
	assert.Empty(t, reqs[1].Header.Get("X-Aiops-Signature"))
	assert.True(t, verifyHMAC("k", reqs[1].Body, reqs[1].Header.Get("X-Hub-Signature-256")))
}

func TestWebhookMalformedResponseIsIgnored(t *testing.T) {
	// The webhook contract is the status code; a 2xx with an unparsable body is a success.
	rec := newRecorder(t, http.StatusOK, "{not json")
	cfg := NewDefaultWebhookConfig()
	cfg.ClientConfig = clientConfig(rec.srv.URL)
	s := NewWebhook(cfg, componenttest.NewNopTelemetrySettings())
	start(t, s)
	assert.NoError(t, s.Send(context.Background(), testIncident()))
}

func TestWebhookMarshalErrorIsPermanent(t *testing.T) {
	rec := newRecorder(t, http.StatusOK, "")
	cfg := NewDefaultWebhookConfig()
	cfg.ClientConfig = clientConfig(rec.srv.URL)
	s := NewWebhook(cfg, componenttest.NewNopTelemetrySettings())
	start(t, s)
	inc := testIncident()
	inc.Confidence = nanValue()
	err := s.Send(context.Background(), inc)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "webhook sink: encoding request")
	assert.Empty(t, rec.all())
}

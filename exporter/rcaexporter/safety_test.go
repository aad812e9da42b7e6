// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/redact"
)

// rawSink records the raw bodies the webhook sink posts.
type rawSink struct {
	mu     sync.Mutex
	bodies [][]byte
	srv    *httptest.Server
}

func newRawSink(t *testing.T) *rawSink {
	t.Helper()
	s := &rawSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *rawSink) snapshot() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

func (s *rawSink) narrated() bool {
	for _, b := range s.snapshot() {
		var inc incident.Incident
		if json.Unmarshal(b, &inc) == nil && inc.Source == "llm" {
			return true
		}
	}
	return false
}

// texts returns a JSON document's raw bytes and every string in it, decoded (JSON escapes
// would hide a secret from a plain search of the raw bytes).
func texts(raw []byte) string {
	var v any
	var b strings.Builder
	b.Write(raw)
	if json.Unmarshal(raw, &v) != nil {
		return b.String()
	}
	var walk func(any)
	walk = func(x any) {
		switch y := x.(type) {
		case string:
			b.WriteString("\n" + y)
		case []any:
			for _, z := range y {
				walk(z)
			}
		case map[string]any:
			for k, z := range y {
				b.WriteString("\n" + k)
				walk(z)
			}
		}
	}
	walk(v)
	return b.String()
}

// Log lines full of secrets go through the exporter with an LLM configured: no secret reaches the
// model, the sinks or the ask API. Lines and templates are redacted before the engine sees them,
// so incidents' evidence and top templates are clean too.
func TestNoSecretLeaves(t *testing.T) {
	lines, secrets := redact.TestCorpus()
	require.NotEmpty(t, lines)
	require.NotEmpty(t, secrets)

	sink := newRawSink(t)
	srv := llmtest.NewServer(t, llmtest.OpenAI, modelHandler("orders-db"))
	cfg := withLLM(t, apiConfig(t, sink.srv.URL, nil), srv.URL(), nil)
	e, c := startAPIExporter(t, newAPIExporter(cfg, nil), componenttest.NewNopHost())

	feedHealthy(t, e)
	// Every line is a payment anomaly whose template is the line itself (the worst case: a
	// miner that kept the secret as a constant token).
	feedFault(t, e, func(i int) (string, string) {
		l := lines[i%len(lines)]
		return l, l
	})
	require.Eventually(t, sink.narrated, 10*time.Second, 5*time.Millisecond, "the model was asked and answered")

	var answers []string
	for _, q := range []string{"what did payment log?", "show the incidents", "errors of payment in the last hour"} {
		r := c.post(askPath, map[string]any{"question": q})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		answers = append(answers, texts(r.raw))
	}
	r := c.post(rcaPath, map[string]any{"time": rfc(faultEnd)})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	answers = append(answers, texts(r.raw))
	feedRecovery(t, e)
	require.NoError(t, e.Shutdown(t.Context()))

	var sent []string
	for _, call := range srv.Requests() {
		sent = append(sent, call.System+"\n"+call.Prompt+"\n"+texts(call.Body))
	}
	require.NotEmpty(t, sent)
	var delivered []string
	for _, b := range sink.snapshot() {
		delivered = append(delivered, texts(b))
	}
	require.NotEmpty(t, delivered)
	for _, secret := range secrets {
		for _, s := range sent {
			assert.NotContains(t, s, secret, "sent to the model")
		}
		for _, s := range delivered {
			assert.NotContains(t, s, secret, "delivered to a sink")
		}
		for _, s := range answers {
			assert.NotContains(t, s, secret, "answered by the API")
		}
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
)

// FuzzAPIRequests sends arbitrary bodies to every route of the investigation API: every answer
// is JSON with a 2xx or 4xx status (a 503 only when the exporter is stopping), never a panic or
// a 500. The seed corpus runs in make test; make fuzz runs it for a fixed time.
func FuzzAPIRequests(f *testing.F) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	f.Cleanup(sink.Close)
	cfg := testConfig(sink.URL)
	if err := confmap.NewFromStringMap(map[string]any{"http": map[string]any{"endpoint": "127.0.0.1:0"}}).Unmarshal(cfg); err != nil {
		f.Fatal(err)
	}
	e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg, clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	if err != nil {
		f.Fatal(err)
	}
	if err := e.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	h := e.api.handler()
	paths := []string{rcaPath, alertsPath, askPath, "/nope"}

	seed := func(route uint8, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(route, b)
	}
	seed(0, map[string]any{"time": rfc(t0), "service": "payment", "window": "10m"})
	seed(0, map[string]any{"time": "yesterday"})
	seed(1, webhookBody(alertJSON("firing", "abc", map[string]string{"service": "payment", "alertname": "HighErrorRate"}, t0, time.Time{})))
	seed(1, map[string]any{"version": "4", "alerts": []any{map[string]any{"labels": 7}}})
	seed(2, map[string]any{"question": "why did checkout fail in the last hour?"})
	seed(2, map[string]any{"question": ""})
	f.Add(uint8(2), []byte(`{"question": "x", "extra": 1}`))
	f.Add(uint8(0), []byte(`{"time":`))
	f.Add(uint8(1), []byte(`[]`))
	f.Add(uint8(3), []byte(`{}`))

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		req := httptest.NewRequest(http.MethodPost, paths[int(route)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q for %q", ct, body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body.String())
		}
	})
}

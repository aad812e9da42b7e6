// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
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
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

func TestRealisticFlag(t *testing.T) {
	var mu sync.Mutex
	kinds := map[ptrace.SpanKind]int{}
	attrs, statusSet := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.URL.Path != "/v1/traces" {
			return
		}
		er := ptraceotlp.NewExportRequest()
		if err := er.UnmarshalProto(body); err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, rs := range er.Traces().ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					kinds[sp.Kind()]++
					attrs += sp.Attributes().Len()
					if sp.Status().Code() != ptrace.StatusCodeUnset {
						statusSet++
					}
				}
			}
		}
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{
		"-endpoint", srv.URL, "-realistic", "-scenario", "caller_log_change", "-target", "payment", "-duration", "12m",
		"-rate", "2", "-speed", "0", "-step", "10s", "-start", "2026-01-01T00:00:00Z",
	}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	line, _, _ := strings.Cut(strings.TrimPrefix(out.String(), "ground truth: "), "\n")
	var tr truth
	require.NoError(t, json.Unmarshal([]byte(line), &tr))
	require.Len(t, tr.Faults, 1)
	assert.Equal(t, "caller_log_change", tr.Faults[0].Kind)
	assert.Equal(t, "payment", tr.Faults[0].RootCause)
	assert.Equal(t, 10*time.Minute, tr.Faults[0].Start.Sub(tr.Start), "the realistic mode's short warm-up")
	require.NotNil(t, tr.Realistic)
	assert.NotEmpty(t, tr.Realistic.SpikyCalls)
	assert.GreaterOrEqual(t, tr.Realistic.BurstFactor, 3.0)
	assert.Zero(t, tr.Realistic.StatusCodeFraction)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []ptrace.SpanKind{ptrace.SpanKindUnspecified}, keys(kinds))
	assert.Zero(t, attrs)
	assert.Zero(t, statusSet)
}

func keys(m map[ptrace.SpanKind]int) []ptrace.SpanKind {
	var out []ptrace.SpanKind
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRealisticScenarios(t *testing.T) {
	base := flags{scenario: "random", topology: "default", start: "2026-01-01T00:00:00Z", duration: 25 * time.Minute,
		faultAt: 18 * time.Minute, step: time.Second, rate: 5, realistic: true}
	for seed := range uint64(12) {
		f := base
		f.seed = seed
		sc, err := buildScenario(f, time.Now())
		require.NoError(t, err)
		assert.True(t, sc.Realistic)
		assert.Contains(t, sim.RealisticFaultKinds(), sc.Faults[0].Kind)
	}
	// The status-code knob reaches the scenario; it needs -realistic and a share in 0..1.
	f := base
	f.scenario, f.statusCodes = "egress_delay", 0.25
	sc, err := buildScenario(f, time.Now())
	require.NoError(t, err)
	assert.InDelta(t, 0.25, sc.Realism.StatusCodeFraction, 0)
	f.statusCodes = 2
	_, err = buildScenario(f, time.Now())
	require.Error(t, err)
	f.statusCodes, f.realistic = 0.25, false
	_, err = buildScenario(f, time.Now())
	require.Error(t, err)
	// Without -realistic nothing changes.
	f.statusCodes = 0
	sc, err = buildScenario(f, time.Now())
	require.NoError(t, err)
	assert.False(t, sc.Realistic)
	var out bytes.Buffer
	require.NoError(t, printTruth(&out, sc))
	assert.NotContains(t, out.String(), "realistic")
}

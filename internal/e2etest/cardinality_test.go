// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2etest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"
)

// word is n in base 26, letters only: a token that the miner's masks keep (no digits).
func word(n int) string {
	var b []byte
	for {
		b = append(b, byte('a'+n%26))
		n /= 26
		if n == 0 {
			return string(b)
		}
	}
}

// peakRSS is the process's peak resident set (VmHWM), in MiB.
func peakRSS(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, err := strconv.ParseFloat(strings.Fields(line)[1], 64)
			require.NoError(t, err)
			return kb / 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// flood starts a collector, sends batches built by next (nil when done) and returns its peak
// RSS and a metrics reader, before stopping it.
func flood(t *testing.T, next func(i int) (string, []byte)) (float64, func(string) float64) {
	t.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer sink.Close()
	endpoint, metrics := freePort(t), freePort(t)
	_, port, _ := strings.Cut(metrics, ":")
	c := startTier(t, "cardinality.yaml", "OTLP_ENDPOINT="+endpoint, "WEBHOOK_URL="+sink.URL, "METRICS_PORT="+port)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for i := 0; ; i++ {
		path, body := next(i)
		if body == nil {
			break
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, _, err := otlppost.Post(context.Background(), client, "http://"+endpoint+path, body)
			if err == nil {
				break
			}
			require.True(t, i == 0 && time.Now().Before(deadline), "request %d: %v\n%s", i, err, c.logs.String())
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second)
	rss := peakRSS(t, c.cmd.Process.Pid)
	values := map[string]float64{}
	read := func(m string) float64 {
		if v, ok := values[m]; ok {
			return v
		}
		values[m] = scrape(metrics, m)
		return values[m]
	}
	for _, m := range []string{"otelcol_processor_llm_anomaly_records_in", "otelcol_processor_llm_anomaly_templates_evicted",
		"otelcol_processor_llm_anomaly_templates_live", "otelcol_processor_llm_anomaly_services_live",
		"otelcol_connector_logs2graph_spans_in", "otelcol_connector_logs2graph_dropped", "otelcol_connector_logs2graph_pending_spans"} {
		read(m)
	}
	c.stop(t)
	return rss, read
}

const (
	floodLines   = 1_000_000
	floodBatch   = 5_000
	floodSvcs    = 10_000
	floodTraces  = 100_000
	floodSpanBat = 2_000
)

// logBatch is request i of floodLines unique lines (nil after the last), over services
// services.
func logBatch(t *testing.T, i, services int) []byte {
	if i*floodBatch >= floodLines {
		return nil
	}
	ld := plog.NewLogs()
	byService := map[int]plog.LogRecordSlice{}
	at := pcommon.NewTimestampFromTime(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second))
	for k := range floodBatch {
		n := i*floodBatch + k
		s := n % services
		lrs, ok := byService[s]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("flood-%d", s))
			lrs = rl.ScopeLogs().AppendEmpty().LogRecords()
			byService[s] = lrs
		}
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(at)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr("worker " + word(n) + " finished stage " + word(n/7+3) + " of plan " + word(n/13+11))
	}
	return logsRequest(t, ld).body
}

// TestCardinalityFloods sends the built collector (default settings) floods of unique values
// over OTLP: 1,000,000 unique log lines of one service, the same spread over 10,000 services,
// and 100,000 traces of unique ids whose spans all wait for a parent that never comes. The peak
// RSS stays under 512 MiB in each, every record is taken, the state stays within its bounds
// (templates per service, services, pending spans) and the counters say what was shed.
func TestCardinalityFloods(t *testing.T) {
	const bound = 512.0 // MiB
	rss, m := flood(t, func(i int) (string, []byte) { return "/v1/logs", logBatch(t, i, 1) })
	t.Logf("RESULT 1,000,000 unique lines, one service: peak RSS %.0f MiB, records in %.0f, templates live %.0f, evicted %.0f",
		rss, m("otelcol_processor_llm_anomaly_records_in"), m("otelcol_processor_llm_anomaly_templates_live"), m("otelcol_processor_llm_anomaly_templates_evicted"))
	assert.Less(t, rss, bound)
	assert.Equal(t, float64(floodLines), m("otelcol_processor_llm_anomaly_records_in"), "every record taken")
	assert.LessOrEqual(t, m("otelcol_processor_llm_anomaly_templates_live"), 1000.0,
		"templates.max_templates (1000) per service; unique lines of one shape mine into few templates")

	rss, m = flood(t, func(i int) (string, []byte) { return "/v1/logs", logBatch(t, i, floodSvcs) })
	t.Logf("RESULT 1,000,000 unique lines over 10,000 services: peak RSS %.0f MiB, records in %.0f, services live %.0f, templates live %.0f, evicted %.0f",
		rss, m("otelcol_processor_llm_anomaly_records_in"), m("otelcol_processor_llm_anomaly_services_live"),
		m("otelcol_processor_llm_anomaly_templates_live"), m("otelcol_processor_llm_anomaly_templates_evicted"))
	assert.Less(t, rss, bound)
	assert.Equal(t, float64(floodLines), m("otelcol_processor_llm_anomaly_records_in"))
	assert.LessOrEqual(t, m("otelcol_processor_llm_anomaly_services_live"), 100.0, "max_services (100)")
	assert.Positive(t, m("otelcol_processor_llm_anomaly_templates_evicted"), "the evicted services' templates are counted")

	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	rss, m = flood(t, func(i int) (string, []byte) {
		if i*floodSpanBat >= floodTraces {
			return "", nil
		}
		td := ptrace.NewTraces()
		for k := range floodSpanBat {
			n := uint64(i*floodSpanBat + k)
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", n%50))
			sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			var tid [16]byte
			binary.BigEndian.PutUint64(tid[8:], n+1)
			sp.SetTraceID(tid)
			var sid, pid [8]byte
			binary.BigEndian.PutUint64(sid[:], n+1)
			binary.BigEndian.PutUint64(pid[:], n+1<<40)
			sp.SetSpanID(sid)
			sp.SetParentSpanID(pid) // a parent that never comes
			sp.SetName("work")
			at := start.Add(time.Duration(i) * time.Second)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(5 * time.Millisecond)))
		}
		return "/v1/traces", tracesRequest(t, td).body
	})
	t.Logf("RESULT 100,000 unique trace ids (spans waiting for parents): peak RSS %.0f MiB, spans in %.0f, pending %.0f, dropped %.0f",
		rss, m("otelcol_connector_logs2graph_spans_in"), m("otelcol_connector_logs2graph_pending_spans"), m("otelcol_connector_logs2graph_dropped"))
	assert.Less(t, rss, bound)
	assert.Equal(t, float64(floodTraces), m("otelcol_connector_logs2graph_spans_in"), "every span taken")
	assert.LessOrEqual(t, m("otelcol_connector_logs2graph_pending_spans"), 200000.0, "max_pending_spans (200,000)")
}

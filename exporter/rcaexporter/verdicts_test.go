// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

// addVerdict appends a verdict record as the llm_anomaly processor sends it.
func addVerdict(ld plog.Logs, service string, end time.Time, isAnomaly bool, explanation string) {
	rl := ld.ResourceLogs().AppendEmpty()
	if service != "" {
		rl.Resource().Attributes().PutStr(contract.AttrServiceName, service)
	}
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(end))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(end.Add(time.Hour)))
	lr.SetEventName(contract.EventVerdict)
	lr.Body().SetStr(explanation)
	a := lr.Attributes()
	a.PutStr(contract.AttrEventName, contract.EventVerdict)
	a.PutStr(contract.AttrSource, contract.SourceLLM)
	a.PutStr(contract.AttrLLMVerdictID, fmt.Sprintf("v-%s-%d", service, end.UnixNano()))
	a.PutStr(contract.AttrLLMModel, "screen-model")
	a.PutBool(contract.AttrLLMIsAnomaly, isAnomaly)
	a.PutStr(contract.AttrLLMSeverity, "High")
	a.PutStr(contract.AttrLLMType, "error_burst")
	a.PutStr(contract.AttrLLMRootCause, "database unreachable")
	a.PutDouble(contract.AttrLLMConfidence, 0.8)
	a.PutStr(contract.AttrLLMExplanation, explanation)
	a.PutInt(contract.AttrLLMWindowStart, end.Add(-30*time.Second).UnixNano())
	a.PutInt(contract.AttrLLMWindowEnd, end.UnixNano())
	// A verdict record carries what a record would: it must still not be taken as an anomaly.
	a.PutBool(contract.AttrDetected, true)
	a.PutDouble(contract.AttrScore, 0.95)
}

func TestVerdictRecordsAreNeitherEvidenceNorProgress(t *testing.T) {
	ld := plog.NewLogs()
	addVerdict(ld, "payment", t0, true, "payment cannot reach its database")
	addVerdict(ld, "", t0, true, "no service")
	var in batchInput
	in.read(ld, eventtime.New(eventtime.DefaultConfig()), t0.UnixNano())
	assert.Empty(t, in.evidence)
	assert.Empty(t, in.logs, "no event-time progress")
	assert.Zero(t, in.maxTime)
	assert.Equal(t, 1, in.bad, "a verdict without service")
	require.Len(t, in.verdicts, 1)
	v := in.verdicts[0]
	assert.Equal(t, "payment", v.service)
	assert.True(t, v.isAnomaly)
	assert.Equal(t, "High", v.severity)
	assert.InDelta(t, 0.8, v.confidence, 1e-9)
	assert.Equal(t, t0.UnixNano(), v.end)
	assert.Equal(t, t0.Add(-30*time.Second).UnixNano(), v.start)
	assert.Contains(t, v.line(300), "anomaly High error_burst (confidence 0.80): root cause database unreachable; payment cannot reach its database")
}

func TestVerdictStoreIsBounded(t *testing.T) {
	s := newVerdictStore(3)
	for i := range 5 {
		s.add(verdict{service: "a", start: int64(i), end: int64(i)})
	}
	s.add(verdict{service: "b", start: 10, end: 10})
	assert.Equal(t, uint64(3), s.evicted)
	got := s.recent([]string{"b", "a", "c"}, 0, 100, 1)
	require.Len(t, got, 2)
	assert.Equal(t, "b", got[0].service)
	assert.Equal(t, int64(4), got[1].end, "newest of a")
	assert.Empty(t, s.recent([]string{"a"}, 5, 100, 2), "outside the window")
}

// Verdict records interleaved with the input, stamped ahead of and behind everything else,
// change no incident: same ids, versions, times and rankings.
func TestVerdictRecordsDoNotMoveEventTime(t *testing.T) {
	run := func(withVerdicts bool) ([]string, *rcaExporter) {
		wh := newWebhookServer(t)
		e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), testConfig(wh.srv.URL), clockwork.NewFakeClockAt(t0.Add(time.Hour)))
		require.NoError(t, err)
		require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
		w := t0
		feed := func(ld plog.Logs) {
			if withVerdicts {
				addVerdict(ld, "payment", w.Add(20*time.Minute), true, "ahead")
				addVerdict(ld, "ghost", w.Add(-time.Hour), true, "behind, a service nothing else names")
				addVerdict(ld, "checkout", w.Add(5*time.Second), false, "normal")
			}
			require.NoError(t, e.ConsumeLogs(context.Background(), ld))
		}
		for ; w.Before(apiFaultStart); w = w.Add(15 * time.Second) {
			ld := plog.NewLogs()
			addEdges(ld, w, shopEdges(0, 0))
			feed(ld)
		}
		for ; w.Before(faultEnd); w = w.Add(15 * time.Second) {
			ld := plog.NewLogs()
			for s := 2 * time.Second; s < 15*time.Second; s += 3 * time.Second {
				addAnomaly(ld, "payment", w.Add(s), 0.8, "error_burst", "p1", "db query failed <*>", "db query failed x")
			}
			addEdges(ld, w, shopEdges(60, 40))
			feed(ld)
			if withVerdicts {
				// a batch of verdicts only
				vl := plog.NewLogs()
				addVerdict(vl, "payment", w.Add(time.Hour), true, "alone")
				require.NoError(t, e.ConsumeLogs(context.Background(), vl))
			}
		}
		for ; w.Before(faultEnd.Add(8 * time.Minute)); w = w.Add(15 * time.Second) {
			ld := plog.NewLogs()
			addEdges(ld, w, shopEdges(0, 0))
			feed(ld)
		}
		require.NoError(t, e.Shutdown(context.Background()))
		var out []string
		for _, inc := range wh.incidents() {
			b, err := json.Marshal(inc)
			require.NoError(t, err)
			out = append(out, string(b))
		}
		return out, e
	}
	plain, _ := run(false)
	mixed, e := run(true)
	require.NotEmpty(t, plain)
	assert.Equal(t, plain, mixed)
	assert.Positive(t, e.verdicts.n, "the verdicts were kept")
	assert.Zero(t, e.engine.OpenIncidents())
}

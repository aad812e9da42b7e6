// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadatatest"
)

var baseTime = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type logLine struct {
	service string
	body    string
	at      time.Duration // event time offset from baseTime
	sev     plog.SeverityNumber
}

func makeLogs(lines ...logLine) plog.Logs {
	ld := plog.NewLogs()
	bySvc := map[string]plog.LogRecordSlice{}
	for _, l := range lines {
		lrs, ok := bySvc[l.service]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			if l.service != "" {
				rl.Resource().Attributes().PutStr("service.name", l.service)
			}
			lrs = rl.ScopeLogs().AppendEmpty().LogRecords()
			bySvc[l.service] = lrs
		}
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(l.body)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(l.at)))
		lr.SetSeverityNumber(l.sev)
		lr.Attributes().PutStr("keep.me", "yes")
	}
	return ld
}

func newTestProcessor(t *testing.T, cfg *Config, next *consumertest.LogsSink, clock clockwork.Clock, tel *componenttest.Telemetry) *logsProcessor {
	t.Helper()
	set := processortest.NewNopSettings(metadata.Type)
	if tel != nil {
		set = metadatatest.NewSettings(tel)
	}
	p, err := newProcessor(set, cfg, next, clock)
	require.NoError(t, err)
	return p
}

func allRecords(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

func TestBatchFlushesAtMaxRecords(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRecords = 3
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClock(), nil)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(
		logLine{service: "a", body: "user 1 logged in"}, logLine{service: "a", body: "user 2 logged in"},
		logLine{service: "b", body: "disk 80% full"})))
	assert.Equal(t, 0, sink.LogRecordCount(), "below max_records nothing leaves")
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "user 3 logged in"})))
	assert.Equal(t, 3, sink.LogRecordCount(), "resource a reached max_records")

	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, 4, sink.LogRecordCount(), "shutdown flushes the rest")
}

func TestBatchFlushesOnTimeout(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Timeout = 2 * time.Second
	sink := new(consumertest.LogsSink)
	clock := clockwork.NewFakeClock()
	p := newTestProcessor(t, cfg, sink, clock, nil)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "hello world"})))
	require.NoError(t, clock.BlockUntilContext(context.Background(), 1))
	clock.Advance(time.Second)
	// One tick after 1s: the batch is younger than the timeout and stays.
	clock.Advance(500 * time.Millisecond)
	assert.Equal(t, 0, sink.LogRecordCount())
	clock.Advance(time.Second)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 1 }, 5*time.Second, 5*time.Millisecond)
}

func TestOrderIsPreservedPerResource(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRecords = 4
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClock(), nil)
	for i := range 10 {
		require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(
			logLine{service: "a", body: fmt.Sprintf("step %d done", i), at: time.Duration(i) * time.Second},
			logLine{service: "b", body: fmt.Sprintf("tick %d", i), at: time.Duration(i) * time.Second})))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	seen := map[string][]string{}
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			svc, _ := rl.Resource().Attributes().Get("service.name")
			sls := rl.ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					seen[svc.Str()] = append(seen[svc.Str()], sls.At(j).LogRecords().At(k).Body().Str())
				}
			}
		}
	}
	require.Len(t, seen["a"], 10)
	require.Len(t, seen["b"], 10)
	for i := range 10 {
		assert.Equal(t, fmt.Sprintf("step %d done", i), seen["a"][i])
		assert.Equal(t, fmt.Sprintf("tick %d", i), seen["b"][i])
	}
}

func TestPressureFlushesEverythingAndDropsNothing(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRecords = 100
	cfg.MaxHeldRecords = 100
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClock(), tel)

	var lines []logLine
	for i := range 60 {
		lines = append(lines, logLine{service: fmt.Sprintf("svc-%d", i%3), body: fmt.Sprintf("request %d ok", i)})
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(lines...)))
	assert.Equal(t, 0, sink.LogRecordCount())
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(lines...)))
	assert.Equal(t, 120, sink.LogRecordCount(), "over max_held_records: all held batches are flushed")
	require.NoError(t, p.Shutdown(context.Background()))

	metadatatest.AssertEqualProcessorLlmAnomalyFlushes(t, tel, []metricdata.DataPoint[int64]{
		{Value: 3, Attributes: attribute.NewSet(attribute.String("reason", "pressure"))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsIn(t, tel, []metricdata.DataPoint[int64]{{Value: 120}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsOut(t, tel, []metricdata.DataPoint[int64]{{Value: 120}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsHeld(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

func TestAnnotationContract(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.IncludeParams = true
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClock(), nil)

	var lines []logLine
	// Forty minutes of normal traffic (past the detectors' warm-up), then a burst of never-seen errors.
	const normalLines = 2400
	for i := range normalLines {
		lines = append(lines, logLine{service: "payment", body: fmt.Sprintf("payment %d authorized in %dms", 1000+i, 20+i%50), at: time.Duration(i) * time.Second, sev: plog.SeverityNumberInfo})
	}
	for i := range 30 {
		lines = append(lines, logLine{service: "payment", body: fmt.Sprintf("db connection pool exhausted (50/50 in use), waited %dms", 5000+i), at: normalLines*time.Second + time.Duration(i)*100*time.Millisecond, sev: plog.SeverityNumberError})
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(lines...)))
	require.NoError(t, p.Shutdown(context.Background()))

	recs := allRecords(sink)
	require.Len(t, recs, len(lines))
	anomalies := 0
	for i, lr := range recs {
		attrs := lr.Attributes()
		keep, ok := attrs.Get("keep.me")
		require.True(t, ok)
		assert.Equal(t, "yes", keep.Str(), "other attributes pass through")
		assert.Equal(t, lines[i].body, lr.Body().Str(), "body is untouched")
		tmpl, ok := attrs.Get(attrTemplate)
		require.True(t, ok, "every record has %s", attrTemplate)
		assert.Equal(t, pcommon.ValueTypeStr, tmpl.Type())
		id, ok := attrs.Get(attrTemplateID)
		require.True(t, ok)
		assert.Equal(t, pcommon.ValueTypeStr, id.Type())
		assert.NotEmpty(t, id.Str())
		params, ok := attrs.Get(attrTemplateParams)
		require.True(t, ok)
		assert.Equal(t, pcommon.ValueTypeSlice, params.Type())
		det, ok := attrs.Get(attrDetected)
		require.True(t, ok, "annotate_normal writes anomaly.detected on every record")
		require.Equal(t, pcommon.ValueTypeBool, det.Type())
		if !det.Bool() {
			_, has := attrs.Get(attrScore)
			assert.False(t, has)
			continue
		}
		anomalies++
		score, ok := attrs.Get(attrScore)
		require.True(t, ok)
		require.Equal(t, pcommon.ValueTypeDouble, score.Type())
		assert.True(t, score.Double() > 0 && score.Double() <= 1)
		sev, _ := attrs.Get(attrSeverity)
		assert.Contains(t, []string{"Critical", "High", "Medium", "Low"}, sev.Str())
		typ, _ := attrs.Get(attrType)
		assert.Contains(t, []string{"new_template", "rare_template", "rate_spike", "rate_drop", "error_burst", "session"}, typ.Str())
		reason, _ := attrs.Get(attrReason)
		assert.NotEmpty(t, reason.Str())
		src, _ := attrs.Get(attrSource)
		assert.Equal(t, "statistical", src.Str())
	}
	assert.Positive(t, anomalies, "the error burst is flagged")
	// The incident lines share one template, different from the normal one.
	first, _ := recs[0].Attributes().Get(attrTemplateID)
	last, _ := recs[len(recs)-1].Attributes().Get(attrTemplateID)
	assert.NotEqual(t, first.Str(), last.Str())
	lastDet, _ := recs[len(recs)-1].Attributes().Get(attrDetected)
	assert.True(t, lastDet.Bool(), "the incident is still anomalous at its end")
	normal := 0
	for _, lr := range recs[:normalLines] {
		if d, _ := lr.Attributes().Get(attrDetected); !d.Bool() {
			normal++
		}
	}
	assert.GreaterOrEqual(t, normal, normalLines-5, "steady normal traffic is not flagged")
}

func TestAnnotateNormalOff(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.AnnotateNormal = false
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClock(), nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "hello 1"})))
	require.NoError(t, p.Shutdown(context.Background()))
	recs := allRecords(sink)
	require.Len(t, recs, 1)
	_, has := recs[0].Attributes().Get(attrDetected)
	assert.False(t, has)
	_, has = recs[0].Attributes().Get(attrTemplate)
	assert.True(t, has)
}

func TestBadInputPassesThroughAndIsCounted(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClock(), tel)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty() // no service.name
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty() // empty body, zero timestamps
	lrs.AppendEmpty().Body().SetEmptyBytes().FromRaw([]byte{0xff, 0x00, 0x13, 0x37})
	lrs.AppendEmpty().Body().SetStr("bad \xff\xfe utf8 line")
	lrs.AppendEmpty().Body().SetInt(42)
	m := lrs.AppendEmpty().Body().SetEmptyMap()
	m.PutStr("msg", "structured message 7")
	m.PutInt("code", 7)
	lrs.AppendEmpty().Body().SetStr(`{"level":"info","message":"json message 8"}`)
	lrs.AppendEmpty().Body().SetStr("   ")
	lrs.AppendEmpty().Body().SetStr("nul\x00inside")
	long := make([]byte, 100_000)
	for i := range long {
		long[i] = 'a' + byte(i%26)
		if i%7 == 0 {
			long[i] = ' '
		}
	}
	lrs.AppendEmpty().Body().SetStr(string(long))
	n := lrs.Len()

	require.NotPanics(t, func() { require.NoError(t, p.ConsumeLogs(context.Background(), ld)) })
	require.NoError(t, p.Shutdown(context.Background()))
	recs := allRecords(sink)
	require.Len(t, recs, n, "every record passes through")

	tmpl := func(i int) string {
		v, _ := recs[i].Attributes().Get(attrTemplate)
		return v.Str()
	}
	_, has := recs[0].Attributes().Get(attrTemplate)
	assert.False(t, has, "nothing to mine in an empty body")
	_, has = recs[1].Attributes().Get(attrTemplate)
	assert.False(t, has, "binary body is not mined")
	assert.NotEmpty(t, tmpl(2), "invalid UTF-8 is repaired and mined")
	assert.Equal(t, "bad \xff\xfe utf8 line", recs[2].Body().Str(), "body itself is untouched")
	assert.NotEmpty(t, tmpl(3))
	assert.Contains(t, tmpl(4), "structured message")
	assert.Contains(t, tmpl(5), "json message")
	assert.NotEmpty(t, tmpl(8), "over-long line is truncated and mined")

	metadatatest.AssertEqualProcessorLlmAnomalyRecordsMalformed(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "empty_body"))},
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "binary_body"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "invalid_utf8"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "non_string_body"))},
		{Value: int64(n), Attributes: attribute.NewSet(attribute.String("reason", "missing_service"))},
		{Value: int64(n), Attributes: attribute.NewSet(attribute.String("reason", "zero_timestamp"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "line_too_long"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "too_many_tokens"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestDownstreamErrorIsCounted(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p, err := newProcessor(metadatatest.NewSettings(tel), cfg, consumertest.NewErr(errors.New("boom")), clockwork.NewFakeClock())
	require.NoError(t, err)
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "x 1"}, logLine{service: "a", body: "x 2"})))
	require.NoError(t, p.Shutdown(context.Background()))
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsDropped(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "downstream_error"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestConsumeAfterShutdownForwardsImmediately(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, createDefaultConfig().(*Config), sink, clockwork.NewFakeClock(), nil)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()), "shutdown twice is safe")
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "late record"})))
	assert.Equal(t, 1, sink.LogRecordCount())
}

func templateIDs(sink *consumertest.LogsSink) map[string]string {
	out := map[string]string{}
	for _, lr := range allRecords(sink) {
		id, _ := lr.Attributes().Get(attrTemplateID)
		out[lr.Body().Str()] = id.Str()
	}
	return out
}

func TestTemplatesSurviveRestart(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	store := storagetest.NewMemStorage()
	host := storagetest.Host(map[component.ID]component.Component{storageID: store})
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID

	lines := []logLine{
		{service: "a", body: "user 17 logged in from 10.0.0.1"},
		{service: "a", body: "user 18 logged in from 10.0.0.2"},
		{service: "a", body: "cache miss for key session:42"},
		{service: "b", body: "GET /api/items 200 12ms"},
	}
	sink1 := new(consumertest.LogsSink)
	p1 := newTestProcessor(t, cfg, sink1, clockwork.NewFakeClock(), nil)
	require.NoError(t, p1.Start(context.Background(), host))
	require.NoError(t, p1.ConsumeLogs(context.Background(), makeLogs(lines...)))
	require.NoError(t, p1.Shutdown(context.Background()))
	require.NotEmpty(t, store.Value(snapshotKey), "shutdown saves the snapshot")

	// A new processor restores the templates: lines seen before keep their ids and are not new.
	later := []logLine{
		{service: "a", body: "user 99 logged in from 10.0.0.9", at: time.Hour},
		{service: "b", body: "GET /api/items 200 15ms", at: time.Hour},
	}
	sink2 := new(consumertest.LogsSink)
	p2 := newTestProcessor(t, cfg, sink2, clockwork.NewFakeClock(), nil)
	require.NoError(t, p2.Start(context.Background(), host))
	require.NoError(t, p2.ConsumeLogs(context.Background(), makeLogs(later...)))
	require.NoError(t, p2.Shutdown(context.Background()))

	before, after := templateIDs(sink1), templateIDs(sink2)
	assert.Equal(t, before["user 17 logged in from 10.0.0.1"], after["user 99 logged in from 10.0.0.9"])
	assert.Equal(t, before["GET /api/items 200 12ms"], after["GET /api/items 200 15ms"])
}

func TestCorruptSnapshotStartsFresh(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	store := storagetest.NewStorageWith(snapshotKey, "definitely not a snapshot")
	host := storagetest.Host(map[component.ID]component.Component{storageID: store})
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClock(), tel)
	require.NoError(t, p.Start(context.Background(), host))
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "still works 1"})))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, 1, sink.LogRecordCount())
	metadatatest.AssertEqualProcessorLlmAnomalyStorageErrors(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("operation", "load"))},
	}, metricdatatest.IgnoreTimestamp())
	assert.NotEqual(t, "definitely not a snapshot", string(store.Value(snapshotKey)), "a good snapshot replaces the corrupt one")
}

func TestStorageReadErrorStartsFresh(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	store := storagetest.NewFailingStorage()
	host := storagetest.Host(map[component.ID]component.Component{storageID: store})
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	p := newTestProcessor(t, cfg, new(consumertest.LogsSink), clockwork.NewFakeClock(), nil)
	require.NoError(t, p.Start(context.Background(), host))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestMissingStorageExtensionFailsStart(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	p := newTestProcessor(t, cfg, new(consumertest.LogsSink), clockwork.NewFakeClock(), nil)
	require.ErrorIs(t, p.Start(context.Background(), componenttest.NewNopHost()), storageutil.ErrNotFound)
	require.NoError(t, p.Shutdown(context.Background()))

	notStorage := struct {
		component.StartFunc
		component.ShutdownFunc
	}{}
	host := storagetest.Host(map[component.ID]component.Component{storageID: notStorage})
	p2 := newTestProcessor(t, cfg, new(consumertest.LogsSink), clockwork.NewFakeClock(), nil)
	require.ErrorIs(t, p2.Start(context.Background(), host), storageutil.ErrNotStorage)
	require.NoError(t, p2.Shutdown(context.Background()))
}

func TestPeriodicSnapshot(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	store := storagetest.NewMemStorage()
	host := storagetest.Host(map[component.ID]component.Component{storageID: store})
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	cfg.SnapshotInterval = time.Minute
	clock := clockwork.NewFakeClock()
	p := newTestProcessor(t, cfg, new(consumertest.LogsSink), clock, nil)
	require.NoError(t, p.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "periodic 1"})))
	require.NoError(t, clock.BlockUntilContext(context.Background(), 2))
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool {
		return len(store.Value(snapshotKey)) > 0
	}, 5*time.Second, 5*time.Millisecond)
}

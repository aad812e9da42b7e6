// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// wallBase is the fake wall clock of the tests: an hour after the data, so nothing is in the
// future and event time is not live (no skew check) unless a test wants it.
var wallBase = baseTime.Add(time.Hour)

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

func TestRecordsLeaveWhenEventTimePassesThem(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.AllowedLateness = 5 * time.Second
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase), nil)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(
		logLine{service: "a", body: "user 1 logged in"}, logLine{service: "a", body: "user 2 logged in", at: 3 * time.Second},
		logLine{service: "b", body: "disk 80% full", at: time.Second})))
	assert.Equal(t, 0, sink.LogRecordCount(), "event time has not passed the records by allowed_lateness")
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "user 3 logged in", at: 8 * time.Second})))
	assert.Equal(t, 0, sink.LogRecordCount(), "one service alone does not move event time")
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "b", body: "disk 81% full", at: 7 * time.Second})))
	// event time = 7s (the second most advanced service), frontier 2s: a's first chunk has a
	// record at 3s and waits whole; b's record at 1s leaves.
	assert.Equal(t, 1, sink.LogRecordCount())
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "b", body: "disk 82% full", at: 9 * time.Second})))
	assert.Equal(t, 3, sink.LogRecordCount(), "frontier 4s: a's first chunk is complete")

	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, 6, sink.LogRecordCount(), "shutdown flushes the rest")
}

func TestIdleInputReleasesEverything(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Timeout = 2 * time.Second
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	clock := clockwork.NewFakeClockAt(wallBase)
	p := newTestProcessor(t, cfg, sink, clock, tel)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "hello world"})))
	require.NoError(t, clock.BlockUntilContext(context.Background(), 1))
	clock.Advance(time.Second)
	// One tick after 1s: the input has been idle for less than the timeout.
	clock.Advance(500 * time.Millisecond)
	assert.Equal(t, 0, sink.LogRecordCount())
	clock.Advance(time.Second)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 1 }, 5*time.Second, 5*time.Millisecond)

	// Event time moved to the latest record: an older record is late, counted, and still analysed.
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "hello again", at: -time.Second})))
	clock.Advance(3 * time.Second)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 2 }, 5*time.Second, 5*time.Millisecond)
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsMalformed(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "late"))},
	}, metricdatatest.IgnoreTimestamp())
}

// annotations returns, per record body, the annotation attributes the processor wrote.
func annotations(sink *consumertest.LogsSink) map[string]string {
	out := map[string]string{}
	for _, lr := range allRecords(sink) {
		var b strings.Builder
		for _, k := range []string{attrTemplateID, attrDetected, attrType, attrScore, attrReason} {
			if v, ok := lr.Attributes().Get(k); ok {
				fmt.Fprintf(&b, "%s=%s;", k, v.AsString())
			}
		}
		out[lr.Body().Str()+"@"+lr.Timestamp().String()] = b.String()
	}
	return out
}

// streamLines is a service stream with a warm-up, new templates and an error burst, in two
// services and two instances (resources) of one of them.
func streamLines() []logLine {
	var lines []logLine
	for i := range 1500 {
		at := time.Duration(i) * 800 * time.Millisecond
		lines = append(lines,
			logLine{service: "checkout", body: fmt.Sprintf("order %d placed by user %d", i, i%37), at: at, sev: plog.SeverityNumberInfo},
			logLine{service: "payment", body: fmt.Sprintf("charge %d authorized in %dms", i, 20+i%9), at: at + 100*time.Millisecond, sev: plog.SeverityNumberInfo})
		if i > 1300 && i%2 == 0 {
			lines = append(lines, logLine{service: "payment", body: fmt.Sprintf("connection pool exhausted after %dms", 3000+i%5), at: at + 300*time.Millisecond, sev: plog.SeverityNumberError})
		}
		if i%50 == 0 {
			lines = append(lines, logLine{service: "checkout", body: fmt.Sprintf("cache %d refreshed", i), at: at, sev: plog.SeverityNumberInfo})
		}
	}
	return lines
}

// requests cuts lines into requests of about per lines each, two resources per service (pods)
// holding alternate records, as two exporters would.
func requests(lines []logLine, per int) []plog.Logs {
	var out []plog.Logs
	for i := 0; i < len(lines); i += per {
		chunk := lines[i:min(i+per, len(lines))]
		ld := plog.NewLogs()
		pods := map[string]plog.LogRecordSlice{}
		for j, l := range chunk {
			pod := fmt.Sprintf("%s-%d", l.service, j%2)
			lrs, ok := pods[pod]
			if !ok {
				rl := ld.ResourceLogs().AppendEmpty()
				rl.Resource().Attributes().PutStr("service.name", l.service)
				rl.Resource().Attributes().PutStr("k8s.pod.name", pod)
				lrs = rl.ScopeLogs().AppendEmpty().LogRecords()
				pods[pod] = lrs
			}
			lr := lrs.AppendEmpty()
			lr.Body().SetStr(l.body)
			lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(l.at)))
			lr.SetSeverityNumber(l.sev)
		}
		out = append(out, ld)
	}
	return out
}

// The same records give the same annotations whatever the request boundaries, the order of
// requests within the allowed lateness and the wall-clock timing.
func TestArrivalOrderDoesNotChangeVerdicts(t *testing.T) {
	lines := streamLines()
	run := func(reqs []plog.Logs) map[string]string {
		cfg := createDefaultConfig().(*Config)
		sink := new(consumertest.LogsSink)
		p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase), nil)
		for _, ld := range reqs {
			require.NoError(t, p.ConsumeLogs(context.Background(), ld))
		}
		require.NoError(t, p.Shutdown(context.Background()))
		assert.Equal(t, len(lines), sink.LogRecordCount(), "nothing lost")
		return annotations(sink)
	}
	ref := run(requests(lines, 40))

	// Other request boundaries, and neighbouring requests swapped (about 1.5 s apart, within the
	// 5 s allowed lateness), and records reversed inside each request.
	reqs := requests(lines, 17)
	for i := 0; i+1 < len(reqs); i += 2 {
		reqs[i], reqs[i+1] = reqs[i+1], reqs[i]
	}
	for _, ld := range reqs {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
			n := lrs.Len()
			rev := plog.NewLogRecordSlice()
			for j := n - 1; j >= 0; j-- {
				lrs.At(j).CopyTo(rev.AppendEmpty())
			}
			rev.CopyTo(lrs)
		}
	}
	got := run(reqs)
	require.Len(t, got, len(ref))
	assert.Equal(t, ref, got)

	anomalies := 0
	for _, v := range ref {
		if strings.Contains(v, "anomaly.detected=true") {
			anomalies++
		}
	}
	assert.Positive(t, anomalies, "the stream has anomalies to agree on")
}

func TestPressureFlushesEverythingAndDropsNothing(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxHeldRecords = 100
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase), tel)

	var lines []logLine
	for i := range 60 {
		lines = append(lines, logLine{service: fmt.Sprintf("svc-%d", i%3), body: fmt.Sprintf("request %d ok", i)})
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(lines...)))
	assert.Equal(t, 0, sink.LogRecordCount())
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(lines...)))
	assert.Equal(t, 120, sink.LogRecordCount(), "over max_held_records: everything held is flushed")
	require.NoError(t, p.Shutdown(context.Background()))

	metadatatest.AssertEqualProcessorLlmAnomalyFlushes(t, tel, []metricdata.DataPoint[int64]{
		{Value: 6, Attributes: attribute.NewSet(attribute.String("reason", "pressure"))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsIn(t, tel, []metricdata.DataPoint[int64]{{Value: 120}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsOut(t, tel, []metricdata.DataPoint[int64]{{Value: 120}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsHeld(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

// A record stamped far ahead of a live wall clock is re-stamped (original kept, counted); one
// with an impossible timestamp takes its observed time; a record stamped ahead in a replay is
// kept but cannot hold its neighbours back.
func TestSkewedAndImpossibleTimestamps(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	live := baseTime.Add(20 * time.Second) // the wall clock follows the data
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(live), tel)

	ld := makeLogs(logLine{service: "a", body: "normal line"}, logLine{service: "b", body: "other line"},
		logLine{service: "a", body: "from a host ten minutes ahead", at: 10 * time.Minute})
	zero := ld.ResourceLogs().At(1).ScopeLogs().At(0).LogRecords().AppendEmpty()
	zero.Body().SetStr("a record with Go's zero time")
	zero.SetTimestamp(pcommon.Timestamp(uint64(time.Time{}.UnixNano()))) // a large value once unsigned
	zero.SetObservedTimestamp(pcommon.NewTimestampFromTime(baseTime.Add(2 * time.Second)))
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.NoError(t, p.Shutdown(context.Background()))

	byBody := map[string]plog.LogRecord{}
	for _, lr := range allRecords(sink) {
		byBody[lr.Body().Str()] = lr
	}
	ahead := byBody["from a host ten minutes ahead"]
	assert.Equal(t, live, ahead.Timestamp().AsTime(), "no observed time: the wall clock")
	orig, ok := ahead.Attributes().Get(attrOriginalTimestamp)
	require.True(t, ok)
	assert.Equal(t, baseTime.Add(10*time.Minute).UnixNano(), orig.Int())
	assert.Equal(t, baseTime.Add(2*time.Second), byBody["a record with Go's zero time"].Timestamp().AsTime())
	_, ok = byBody["normal line"].Attributes().Get(attrOriginalTimestamp)
	assert.False(t, ok)
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsMalformed(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "clock_ahead"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "impossible_timestamp"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestRecordFarAheadInAReplayDoesNotHoldItsNeighbours(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase.Add(24*time.Hour)), nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(
		logLine{service: "a", body: "line 1"}, logLine{service: "a", body: "stamped ahead", at: 10 * time.Minute},
		logLine{service: "b", body: "line 2"})))
	for i := 1; i <= 20; i++ {
		require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(
			logLine{service: "a", body: fmt.Sprintf("a %d", i), at: time.Duration(i) * time.Second},
			logLine{service: "b", body: fmt.Sprintf("b %d", i), at: time.Duration(i) * time.Second})))
	}
	bodies := map[string]bool{}
	for _, lr := range allRecords(sink) {
		bodies[lr.Body().Str()] = true
	}
	assert.True(t, bodies["line 1"], "the record stamped ahead does not hold back its request's other records")
	assert.True(t, bodies["line 2"])
	assert.False(t, bodies["stamped ahead"], "it waits for event time to reach it")
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, 43, sink.LogRecordCount())
}

func TestAnnotationContract(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.IncludeParams = true
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase), nil)

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
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase), nil)
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
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase), tel)

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
		{Value: int64(n), Attributes: attribute.NewSet(attribute.String("reason", "impossible_timestamp"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "line_too_long"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "too_many_tokens"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestDownstreamErrorIsCounted(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p, err := newProcessor(metadatatest.NewSettings(tel), cfg, consumertest.NewErr(errors.New("boom")), clockwork.NewFakeClockAt(wallBase))
	require.NoError(t, err)
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(logLine{service: "a", body: "x 1"}, logLine{service: "a", body: "x 2"})))
	require.NoError(t, p.Shutdown(context.Background()))
	metadatatest.AssertEqualProcessorLlmAnomalyRecordsDropped(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "downstream_error"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestConsumeAfterShutdownForwardsImmediately(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, createDefaultConfig().(*Config), sink, clockwork.NewFakeClockAt(wallBase), nil)
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
	p1 := newTestProcessor(t, cfg, sink1, clockwork.NewFakeClockAt(wallBase), nil)
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
	p2 := newTestProcessor(t, cfg, sink2, clockwork.NewFakeClockAt(wallBase), nil)
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
	p := newTestProcessor(t, cfg, sink, clockwork.NewFakeClockAt(wallBase), tel)
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
	p := newTestProcessor(t, cfg, new(consumertest.LogsSink), clockwork.NewFakeClockAt(wallBase), nil)
	require.NoError(t, p.Start(context.Background(), host))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestMissingStorageExtensionFailsStart(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	p := newTestProcessor(t, cfg, new(consumertest.LogsSink), clockwork.NewFakeClockAt(wallBase), nil)
	err := p.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorIs(t, err, storageutil.ErrNotFound)
	// validate cannot check the ID (no host), so the Start error names the processor and the ID
	require.ErrorContains(t, err, `llm_anomaly processor "llm_anomaly": storage extension "file_storage" is not configured`)
	require.NoError(t, p.Shutdown(context.Background()))

	notStorage := struct {
		component.StartFunc
		component.ShutdownFunc
	}{}
	host := storagetest.Host(map[component.ID]component.Component{storageID: notStorage})
	p2 := newTestProcessor(t, cfg, new(consumertest.LogsSink), clockwork.NewFakeClockAt(wallBase), nil)
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
	clock := clockwork.NewFakeClockAt(wallBase)
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

// A multi-line record (a Java stack trace) is one template: its first line and its exception
// class, whatever its frames; another exception class is another template. The body is kept.
func TestStackTraceIsOneTemplate(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p := newTestProcessor(t, createDefaultConfig().(*Config), sink, clockwork.NewFakeClockAt(wallBase), nil)
	trace := func(class string, frames int) string {
		b := "Servlet.service() threw exception\n" + class + ": upstream failed"
		for i := range frames {
			b += fmt.Sprintf("\n\tat com.example.svc%d.Handler.handle(Handler.java:%d)", i, 10+i)
		}
		return b + "\n\t... 42 more"
	}
	bodies := []string{trace("java.net.SocketTimeoutException", 3), trace("java.net.SocketTimeoutException", 12), trace("java.lang.IllegalStateException", 5)}
	var lines []logLine
	for i, b := range bodies {
		lines = append(lines, logLine{service: "orders", body: b, at: time.Duration(i) * time.Second, sev: plog.SeverityNumberError})
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), makeLogs(lines...)))
	require.NoError(t, p.Shutdown(context.Background()))
	recs := allRecords(sink)
	require.Len(t, recs, 3)
	tpl := func(i int) string { v, _ := recs[i].Attributes().Get(attrTemplate); return v.Str() }
	assert.Equal(t, tpl(0), tpl(1), "the same failure with other frames")
	assert.Contains(t, tpl(0), "java.net.SocketTimeoutException")
	assert.NotContains(t, tpl(0), "Handler.java")
	assert.NotEqual(t, tpl(0), tpl(2), "another exception class")
	assert.Equal(t, bodies[1], recs[1].Body().Str(), "the body is untouched")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/loadgen"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

// benchTemplates are realistic messages with variable parts, spread over a few services.
var benchTemplates = []string{
	"user %d logged in from 10.0.%d.%d",
	"GET /api/v1/items/%d 200 %dms",
	"payment %d authorized in %dms for order %d",
	"cache miss for key session:%d (%d entries)",
	"connection to db-%d.internal:5432 established in %dms",
	"worker %d finished job %d in %d.%ds",
	"disk usage at %d%% on volume vol-%d",
	"request id=%d queued, queue depth %d",
}

// benchBatches builds nBatches requests of perBatch records over 4 services, event time advancing.
func benchBatches(nBatches, perBatch int) []plog.Logs {
	out := make([]plog.Logs, nBatches)
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for b := range out {
		ld := plog.NewLogs()
		for s := range 4 {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", s))
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for i := range perBatch / 4 {
				n := b*perBatch + s*perBatch/4 + i
				lr := lrs.AppendEmpty()
				lr.Body().SetStr(fmt.Sprintf(benchTemplates[n%len(benchTemplates)], n%977, n%13, n%251))
				ts = ts.Add(10 * time.Millisecond)
				lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
				lr.SetSeverityNumber(plog.SeverityNumberInfo)
			}
		}
		out[b] = ld
	}
	return out
}

// shift moves every record of ld later by d, so replayed batches keep event time moving.
func shift(ld plog.Logs, d time.Duration) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lrs.At(k).SetTimestamp(lrs.At(k).Timestamp() + pcommon.Timestamp(d))
			}
		}
	}
}

// BenchmarkProcessorConsumeLogs measures records/s through ConsumeLogs (batching, mining,
// detection, annotation) with a no-op next consumer.
func BenchmarkProcessorConsumeLogs(b *testing.B) {
	benchConsume(b, createDefaultConfig().(*Config))
}

// BenchmarkProcessorConsumeLogsLLM is the same with the LLM stage on: statistical-only as the
// baseline, then a model that never answers (the stage's cost on the record path, which must
// not depend on the model) and one that answers at once.
func BenchmarkProcessorConsumeLogsLLM(b *testing.B) {
	for _, tc := range []struct {
		name  string
		reply llmtest.Reply
	}{{"hanging", llmtest.Reply{Hang: true}}, {"answering", llmtest.Reply{Content: benignVerdict}}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := llmtest.NewServer(b, llm.ProviderOpenAI, llmtest.Sequence(tc.reply))
			cfg := llmConfig(srv)
			cfg.LLM.Get().Model.ClientConfig.Timeout = time.Minute
			benchConsume(b, cfg)
		})
	}
}

// BenchmarkProcessorOTLPRequests is the in-process counterpart of make bench-collector: the
// load generator's requests (internal/loadgen, as cmd/otlpload sends them) unmarshalled from
// OTLP protobuf and consumed by the processor with default settings, event time moving on by a
// millisecond a record. It reports the CPU time of the record path per record, without the HTTP
// server and the exporter; compare builds with both running at once on two pinned cores
// (docs/benchmarks.md).
func BenchmarkProcessorOTLPRequests(b *testing.B) {
	const perRequest = 1000
	gen, err := loadgen.New(1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Millisecond)
	require.NoError(b, err)
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), createDefaultConfig().(*Config), consumertest.NewNop(), clockwork.NewFakeClockAt(wallBase))
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, p.Start(ctx, componenttest.NewNopHost()))
	var u plog.ProtoUnmarshaler
	var m plog.ProtoMarshaler
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		body, err := m.MarshalLogs(gen.Request(i, i*perRequest, perRequest))
		require.NoError(b, err)
		b.StartTimer()
		ld, err := u.UnmarshalLogs(body)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.ConsumeLogs(ctx, ld); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perRequest), "ns/record")
	require.NoError(b, p.Shutdown(ctx))
}

func benchConsume(b *testing.B, cfg *Config) {
	const perBatch = 1000
	batches := benchBatches(64, perBatch)
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop(), clockwork.NewFakeClockAt(wallBase))
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, p.Start(ctx, componenttest.NewNopHost()))
	// Warm the miner and the detectors.
	for _, ld := range benchBatches(8, perBatch) {
		require.NoError(b, p.ConsumeLogs(ctx, ld))
	}
	work := make([]plog.Logs, len(batches))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		j := i % len(batches)
		work[j] = plog.NewLogs()
		batches[j].CopyTo(work[j])
		shift(work[j], time.Duration(8+i/len(batches)*len(batches))*perBatch*10*time.Millisecond)
		b.StartTimer()
		if err := p.ConsumeLogs(ctx, work[j]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "records/s")
	require.NoError(b, p.Shutdown(ctx))
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

// uniqueWord returns a random lowercase word: no digits, so no built-in mask hides it and every
// line made of such words is a new template.
func uniqueWord(r *rand.Rand, sb *strings.Builder) {
	for range 6 + r.IntN(6) {
		sb.WriteByte(byte('a' + r.IntN(26)))
	}
}

// floodLogs builds one request of n unique lines; uniqueServices gives each line its own service.
func floodLogs(r *rand.Rand, n int, uniqueServices bool, ts *time.Time) plog.Logs {
	ld := plog.NewLogs()
	var lrs plog.LogRecordSlice
	var sb strings.Builder
	for i := range n {
		if i == 0 || uniqueServices {
			rl := ld.ResourceLogs().AppendEmpty()
			sb.Reset()
			sb.WriteString("svc-")
			uniqueWord(r, &sb)
			if !uniqueServices {
				sb.Reset()
				sb.WriteString("flooded")
			}
			rl.Resource().Attributes().PutStr("service.name", sb.String())
			lrs = rl.ScopeLogs().AppendEmpty().LogRecords()
		}
		sb.Reset()
		for w := range 8 {
			if w > 0 {
				sb.WriteByte(' ')
			}
			uniqueWord(r, &sb)
		}
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(sb.String())
		*ts = ts.Add(time.Millisecond)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(*ts))
	}
	return ld
}

// floodTotal is the number of unique lines sent by the flood benchmarks.
var floodTotal = 1_000_000

// benchmarkFlood sends 1,000,000 unique lines and reports the peak live heap, sampled after every
// request, to show that every bound (templates per service, services, held records) holds.
func benchmarkFlood(b *testing.B, uniqueServices bool) {
	b.Helper()
	total, perRequest := floodTotal, 1000
	for i := 0; i < b.N; i++ {
		p, err := newProcessor(processortest.NewNopSettings(metadata.Type), createDefaultConfig().(*Config), consumertest.NewNop(), clockwork.NewFakeClockAt(wallBase))
		require.NoError(b, err)
		r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: reproducible synthetic flood
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		var peak uint64
		for sent := 0; sent < total; sent += perRequest {
			require.NoError(b, p.ConsumeLogs(context.Background(), floodLogs(r, perRequest, uniqueServices, &ts)))
			if (sent/perRequest)%50 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		require.NoError(b, p.Shutdown(context.Background()))
		st := p.an.Stats()
		b.ReportMetric(float64(peak-min(base, peak))/(1<<20), "peak-live-heap-MiB")
		b.ReportMetric(float64(st.TemplatesLive), "templates-live")
		b.ReportMetric(float64(st.Services), "services-live")
	}
}

func BenchmarkFloodUniqueLines(b *testing.B)    { benchmarkFlood(b, false) }
func BenchmarkFloodUniqueServices(b *testing.B) { benchmarkFlood(b, true) }

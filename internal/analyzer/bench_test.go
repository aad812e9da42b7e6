package analyzer

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchRecords generates a multi-service stream: 20 services, each with
// its own mix of parameterised message shapes, ~2% warnings/errors.
func benchRecords(n int) []Record {
	r := rand.New(rand.NewPCG(42, 7)) //nolint:gosec // G404: reproducible benchmark data
	shapes := []string{
		"GET /api/v1/users/%d returned %d in %dms",
		"connection from 10.%d.%d.%d closed after %d bytes",
		"job %d finished with status %d after %d retries",
		"cache miss for key user:%d:%d shard %d",
		"flushed %d entries to segment %d in %d ms",
		"worker-%d heartbeat seq=%d load=%d",
		"request id=%x user=%d path=/orders/%d",
		"ERROR timeout talking to db-%d after %dms attempt %d",
	}
	recs := make([]Record, n)
	for i := range recs {
		svc := r.IntN(20)
		k := (svc + r.IntN(5)) % (len(shapes) - 1)
		sev := int32(9)
		if r.IntN(50) == 0 {
			k = len(shapes) - 1
			sev = 17
		}
		recs[i] = Record{
			Service:        fmt.Sprintf("service-%02d", svc),
			Message:        fmt.Sprintf(shapes[k], r.IntN(100000), r.IntN(600), r.IntN(1000)),
			SeverityNumber: sev,
		}
	}
	return recs
}

func BenchmarkAnalyze(b *testing.B) {
	recs := benchRecords(1 << 14)
	a, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	var res Result
	ts := t0
	// Warm the analyzer (templates, baselines) outside the measurement.
	for i := range recs {
		ts += int64(time.Millisecond)
		recs[i].Time = ts
		a.Analyze(&recs[i], &res)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		rec := &recs[i&(len(recs)-1)]
		ts += int64(time.Millisecond)
		rec.Time = ts
		a.Analyze(rec, &res)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAnalyzeSessions(b *testing.B) {
	recs := benchRecords(1 << 14)
	cfg := DefaultConfig()
	cfg.SessionRegex = `id=([0-9a-f]+)`
	a, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var res Result
	ts := t0
	for i := range recs {
		ts += int64(time.Millisecond)
		recs[i].Time = ts
		a.Analyze(&recs[i], &res)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		rec := &recs[i&(len(recs)-1)]
		ts += int64(time.Millisecond)
		rec.Time = ts
		a.Analyze(rec, &res)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

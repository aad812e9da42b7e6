// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricsig

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 is a minute-aligned event time (2023-11-14T22:13:00Z).
const t0 = int64(1_699_999_980) * int64(time.Second)

func minute(m int) int64 { return t0 + int64(m)*int64(time.Minute) }

func newDet(t testing.TB, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg)
	require.NoError(t, err)
	return d
}

func svcName(i int) string { return fmt.Sprintf("svc-%d", i) }

func podName(i int) string { return fmt.Sprintf("svc-%d-5dc8d4f9fd-llznp", i) }

// fleet generates per-minute samples of n services for one signal: value(service, minute).
func fleet(n, minutes int, sig Signal, count float64, value func(i, m int) float64) [][]Sample {
	out := make([][]Sample, minutes)
	for m := range minutes {
		batch := make([]Sample, 0, n)
		for i := range n {
			batch = append(batch, Sample{Service: svcName(i), Pod: podName(i), Signal: sig, Value: value(i, m),
				Count: count, Time: minute(m)})
		}
		out[m] = batch
	}
	return out
}

// run feeds the batches one minute at a time, then advances past the end; it returns the
// evidence and, per evidence, the minute whose batch produced it.
func run(d *Detector, batches [][]Sample) (evs []Evidence, at []int) {
	for m, b := range batches {
		for _, e := range d.Add(b) {
			evs = append(evs, e)
			at = append(at, m)
		}
	}
	for _, e := range d.Advance(minute(len(batches) + 2)) {
		evs = append(evs, e)
		at = append(at, len(batches))
	}
	return evs, at
}

func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}

func TestDefaultConfigValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
}

func TestValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		mut  func(c *Config)
		want string
	}{
		"period":       {func(c *Config) { c.Period = time.Millisecond }, "period must be at least 1s"},
		"lateness":     {func(c *Config) { c.Lateness = -time.Second }, "lateness must not be negative"},
		"lateness big": {func(c *Config) { c.Lateness = 100 * time.Minute }, "lateness must be less than 60 periods"},
		"window":       {func(c *Config) { c.Window = 2 }, "window must be in [3, 10000]"},
		"warmup":       {func(c *Config) { c.Warmup = 61 }, "warmup must be in [3, window]"},
		"threshold":    {func(c *Config) { c.Threshold = math.NaN() }, "threshold must be positive and finite"},
		"persistence":  {func(c *Config) { c.Persistence = 0 }, "persistence must be in [1, 100]"},
		"max gap":      {func(c *Config) { c.MaxGap = time.Second }, "max_gap must be at least one period"},
		"max hold":     {func(c *Config) { c.MaxHold = -1 }, "max_hold must not be negative"},
		"ratio":        {func(c *Config) { c.CPUMinRatio = 0.5 }, "cpu_min_ratio must be >= 1 and finite"},
		"errors":       {func(c *Config) { c.ErrorMinIncrease = 0 }, "error_min_increase must be in (0, 1]"},
		"min errors":   {func(c *Config) { c.MinErrors = -1 }, "min_errors and min_requests must be >= 0 and finite"},
		"fleet":        {func(c *Config) { c.FleetMinSeries = 1 }, "fleet_min_series must be 0 (disabled) or >= 2"},
		"restart":      {func(c *Config) { c.RestartScore = 2 }, "restart_score must be in (0, 1]"},
		"quorum":       {func(c *Config) { c.Quorum = 0 }, "quorum must be in [1, 16]"},
		"series":       {func(c *Config) { c.MaxSeries = 0 }, "max_series must be >= 1"},
		"stale":        {func(c *Config) { c.StaleAfter = time.Second }, "stale_after must be at least one period"},
		"instances":    {func(c *Config) { c.MaxInstances = 0 }, "max_instances must be >= 1"},
	} {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mut(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = New(c)
			require.Error(t, err)
		})
	}
}

func TestSignalNames(t *testing.T) {
	seen := map[string]bool{}
	for s := SignalUnknown + 1; s < NumSignals; s++ {
		require.True(t, s.Valid())
		require.NotEqual(t, KindUnknown, s.Kind(), s)
		require.False(t, seen[s.String()], "duplicate name %s", s)
		seen[s.String()] = true
	}
	assert.False(t, NumSignals.Valid())
	assert.Equal(t, "unknown", Signal(200).String())
	assert.Equal(t, KindUnknown, SignalUnknown.Kind())
	for k, want := range map[Kind]string{KindCPU: "metric_cpu", KindMemory: "metric_memory",
		KindRestarts: "metric_restarts", KindLatency: "metric_latency", KindErrors: "metric_errors", KindUnknown: ""} {
		assert.Equal(t, want, k.Type())
	}
	assert.Equal(t, "cpu", KindCPU.String())
	assert.Equal(t, "unknown", Kind(99).String())
	assert.Empty(t, Kind(99).Type())
}

// A CPU-contention fault on one of ten services (3x for 5 minutes) is evidence of that service
// only, from the first faulty point on, and is emitted once the second faulty point is judged
// (when the next period's samples move the watermark).
func TestCPUContentionOneOfTen(t *testing.T) {
	const faulty, start, length = 3, 90, 5
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]float64, 10)
	for i := range base {
		base[i] = 0.05 + 0.04*float64(i) // 50m .. 410m
	}
	batches := fleet(10, 150, SignalPodCPU, 0, func(i, m int) float64 {
		v := lognormal(rng, base[i], 0.15)
		if i == faulty && m >= start && m < start+length {
			v *= 3
		}
		return v
	})
	d := newDet(t, DefaultConfig())
	evs, at := run(d, batches)
	require.Len(t, evs, length, "one piece of evidence per faulty point: %v", evs)
	for i, e := range evs {
		assert.Equal(t, svcName(faulty), e.Service)
		assert.Equal(t, "metric_cpu", e.Type)
		assert.Equal(t, SignalPodCPU, e.Signal)
		assert.Equal(t, minute(start+i), e.Time, "evidence carries the event time of its point")
		assert.Greater(t, e.Score, 0.5)
		assert.LessOrEqual(t, e.Score, 1.0)
		assert.Equal(t, podName(faulty), e.Pod)
		assert.InDelta(t, 3, e.Value/e.Baseline, 1.2)
		assert.Regexp(t, `^cpu \d\.\dx its baseline \(median \d+m, now \d+m, z \d+\) on pod svc-3-5dc8d4f9fd-llznp$`, e.Reason)
	}
	// The first two points are confirmed together, when the third minute's samples arrive.
	assert.Equal(t, start+2, at[0])
	assert.Equal(t, start+2, at[1])
	st := d.Stats()
	assert.Equal(t, uint64(length), st.Anomalies[KindCPU])
	assert.Equal(t, uint64(10*150), st.Samples)
	assert.Zero(t, st.Late+st.Future+st.Invalid+st.DroppedSeries)
}

// Periodic bursts of the same size on every service at once are load, not faults.
func TestFleetWideBurstsAreNotEvidence(t *testing.T) {
	burst := func(m int) bool { return m >= 40 && m%20 < 3 }
	gen := func(seed uint64, sig Signal, count float64) [][]Sample {
		rng := rand.New(rand.NewPCG(seed, 7))
		return fleet(10, 240, sig, count, func(i, m int) float64 {
			base := 0.02 + 0.01*float64(i)
			if sig == SignalPodCPU {
				base = 0.1 + 0.05*float64(i)
			}
			v := lognormal(rng, base, 0.1)
			if burst(m) {
				v *= 3
			}
			return v
		})
	}
	for _, sig := range []Signal{SignalHTTPLatency, SignalPodCPU} {
		t.Run(sig.String(), func(t *testing.T) {
			d := newDet(t, DefaultConfig())
			evs, _ := run(d, gen(3, sig, 100))
			assert.Empty(t, evs)
			assert.Positive(t, d.Stats().FleetDiscounted, "the bursts were off each service's own baseline")

			// Without fleet awareness the same data is evidence on every service.
			cfg := DefaultConfig()
			cfg.FleetMinSeries = 0
			d = newDet(t, cfg)
			evs, _ = run(d, gen(3, sig, 100))
			services := map[string]bool{}
			for _, e := range evs {
				services[e.Service] = true
			}
			assert.Len(t, services, 10)
		})
	}
}

// A fault during a fleet-wide burst still stands out: only the shared part is discounted.
func TestFaultDuringFleetBurst(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	batches := fleet(10, 120, SignalHTTPLatency, 100, func(i, m int) float64 {
		v := lognormal(rng, 0.05, 0.1)
		if m >= 80 && m < 84 {
			v *= 3
			if i == 6 {
				v *= 4
			}
		}
		return v
	})
	d := newDet(t, DefaultConfig())
	evs, _ := run(d, batches)
	require.NotEmpty(t, evs)
	for _, e := range evs {
		assert.Equal(t, svcName(6), e.Service)
		assert.Equal(t, "metric_latency", e.Type)
		assert.Contains(t, e.Reason, "fleet-wide rise")
	}
}

// A steady heavy-tailed noisy series produces no evidence over two hours, nor do single spikes.
func TestHeavyTailedNoiseIsQuiet(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	var batches [][]Sample
	for m := range 120 {
		var b []Sample
		for i := range 10 {
			s, p := svcName(i), podName(i)
			cpu := lognormal(rng, 0.2+0.02*float64(i), 0.5)
			lat := lognormal(rng, 0.05, 0.6)
			if (m+i)%17 == 0 {
				lat *= 20 // an isolated outlier point
			}
			mem := lognormal(rng, 300<<20, 0.05)
			n := 200.0
			errs := 0.0
			for range int(n) {
				if rng.Float64() < 0.02 {
					errs++
				}
			}
			b = append(b,
				Sample{Service: s, Pod: p, Signal: SignalPodCPU, Value: cpu, Time: minute(m) + int64(i)*int64(time.Second)},
				Sample{Service: s, Signal: SignalSpanLatency, Value: lat, Count: n, Time: minute(m) + int64(i)*int64(time.Second)},
				Sample{Service: s, Pod: p, Signal: SignalPodMemory, Value: mem, Time: minute(m) + int64(i)*int64(time.Second)},
				Sample{Service: s, Signal: SignalSpanErrors, Value: errs / n, Count: n, Time: minute(m) + int64(i)*int64(time.Second)},
			)
		}
		batches = append(batches, b)
	}
	d := newDet(t, DefaultConfig())
	evs, _ := run(d, batches)
	assert.Empty(t, evs)
	st := d.Stats()
	assert.Equal(t, uint64(120*10*4), st.Points, "every point judged or learned")
	assert.Equal(t, 40, d.Series())
}

func TestRestartsAreEvidenceAtOnce(t *testing.T) {
	d := newDet(t, DefaultConfig())
	evs := d.Add([]Sample{
		{Service: "cart", Pod: "cart-7d9f8c6b5d-x2z4q", Container: "server", Signal: SignalRestarts, Value: 1, Time: minute(0) + 5e9},
		{Service: "cart", Pod: "cart-7d9f8c6b5d-x2z4q", Container: "server", Signal: SignalRestarts, Value: 2, Time: minute(1) + 5e9},
	})
	require.Len(t, evs, 1, "the first window closes when the next one starts; no warm-up needed")
	assert.Equal(t, Evidence{Service: "cart", Signal: SignalRestarts, Type: "metric_restarts", Time: minute(0) + 5e9,
		Score: 0.8, Reason: "1 restart of pod cart-7d9f8c6b5d-x2z4q container server", Value: 1,
		Pod: "cart-7d9f8c6b5d-x2z4q", Container: "server"}, evs[0])
	evs = d.Advance(minute(3))
	require.Len(t, evs, 1)
	assert.InDelta(t, 0.85, evs[0].Score, 1e-9)
	assert.Equal(t, "2 restarts of pod cart-7d9f8c6b5d-x2z4q container server", evs[0].Reason)
	assert.Equal(t, uint64(2), d.Stats().Anomalies[KindRestarts])
}

func TestErrorRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	batches := fleet(3, 60, SignalHTTPErrors, 200, func(i, m int) float64 {
		p := 0.01
		if i == 1 && m >= 40 && m < 45 {
			p = 0.3
		}
		n := 0
		for range 200 {
			if rng.Float64() < p {
				n++
			}
		}
		return float64(n) / 200
	})
	d := newDet(t, DefaultConfig())
	evs, _ := run(d, batches)
	require.Len(t, evs, 5)
	for _, e := range evs {
		assert.Equal(t, svcName(1), e.Service)
		assert.Equal(t, "metric_errors", e.Type)
		assert.Regexp(t, `^http error rate \d+\.\d% vs baseline \d\.\d% \(\d+ of 200 requests, z \d+\)$`, e.Reason)
	}
}

func TestLowVolumeIsNeitherJudgedNorLearned(t *testing.T) {
	batches := fleet(1, 40, SignalSpanLatency, 2, func(_, m int) float64 {
		if m >= 30 {
			return 5 // very slow, but only two requests a minute
		}
		return 0.01
	})
	d := newDet(t, DefaultConfig())
	evs, _ := run(d, batches)
	assert.Empty(t, evs)
	assert.Equal(t, uint64(40), d.Stats().LowVolume)
	assert.Zero(t, d.Stats().Points)
}

func TestPersistence(t *testing.T) {
	steady := func(spikes ...int) [][]Sample {
		rng := rand.New(rand.NewPCG(9, 9))
		return fleet(1, 60, SignalPodCPU, 0, func(_, m int) float64 {
			v := lognormal(rng, 0.3, 0.05)
			for _, s := range spikes {
				if m == s {
					v *= 4
				}
			}
			return v
		})
	}
	d := newDet(t, DefaultConfig())
	evs, _ := run(d, steady(30, 40, 42))
	assert.Empty(t, evs, "single off points are not evidence")
	assert.Equal(t, uint64(3), d.Stats().Off)

	d = newDet(t, DefaultConfig())
	evs, _ = run(d, steady(30, 31))
	require.Len(t, evs, 2)
	assert.Equal(t, minute(30), evs[0].Time)
	assert.Equal(t, minute(31), evs[1].Time)

	// Windows without data do not break a run (within max_gap)...
	b := steady(30, 32)
	b[31] = nil
	d = newDet(t, DefaultConfig())
	evs, _ = run(d, b)
	assert.Len(t, evs, 2)
	// ...but a longer silence does.
	b = steady(30, 35)
	for m := 31; m < 35; m++ {
		b[m] = nil
	}
	d = newDet(t, DefaultConfig())
	evs, _ = run(d, b)
	assert.Empty(t, evs)
}

// A lasting change becomes the new normal after max_hold points.
func TestLastingShiftIsLearned(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	batches := fleet(1, 300, SignalPodMemory, 0, func(_, m int) float64 {
		v := lognormal(rng, 200<<20, 0.02)
		if m >= 60 {
			v *= 2
		}
		return v
	})
	d := newDet(t, DefaultConfig())
	evs, _ := run(d, batches)
	require.NotEmpty(t, evs)
	last := evs[len(evs)-1].Time
	assert.Less(t, last, minute(60+DefaultConfig().MaxHold+DefaultConfig().Window), "evidence stops once learned")
	assert.GreaterOrEqual(t, len(evs), DefaultConfig().MaxHold)
	assert.Regexp(t, `^memory 2.0x its baseline \(median 200MiB, now 39\dMiB, z \d+\) on pod svc-0-5dc8d4f9fd-llznp$`, evs[0].Reason)
}

// One replica out of three: the window's value is the worst instance's.
func TestWorstInstance(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	var batches [][]Sample
	for m := range 60 {
		var b []Sample
		for r := range 3 {
			v := lognormal(rng, 0.25, 0.1)
			if r == 2 && m >= 40 && m < 43 {
				v *= 4
			}
			for k := range 2 { // two scrapes a minute
				b = append(b, Sample{Service: "api", Pod: fmt.Sprintf("api-6c4f9d7b8f-r%dx4q", r), Signal: SignalContainerCPU,
					Container: "app", Value: v, Time: minute(m) + int64(k)*30e9})
			}
		}
		batches = append(batches, b)
	}
	d := newDet(t, DefaultConfig())
	evs, _ := run(d, batches)
	require.Len(t, evs, 3)
	for _, e := range evs {
		assert.Equal(t, "api-6c4f9d7b8f-r2x4q", e.Pod)
		assert.Equal(t, "app", e.Container)
		assert.Contains(t, e.Reason, "container cpu ")
		assert.Contains(t, e.Reason, " on pod api-6c4f9d7b8f-r2x4q container app")
	}
}

// stream builds a realistic mixed stream: several signals, samples spread within their window
// and slightly out of order, one late sample, one fault and one restart.
func stream(seed uint64) []Sample {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []Sample
	for m := range 120 {
		var b []Sample
		for i := range 8 {
			off := int64(rng.IntN(50)) * int64(time.Second)
			cpu := lognormal(rng, 0.1+0.03*float64(i), 0.2)
			lat := lognormal(rng, 0.03, 0.3)
			if i == 2 && m >= 70 && m < 76 {
				cpu *= 4
				lat *= 8
			}
			b = append(b,
				Sample{Service: svcName(i), Pod: podName(i), Signal: SignalPodCPU, Value: cpu, Time: minute(m) + off},
				Sample{Service: svcName(i), Signal: SignalHTTPLatency, Value: lat, Count: float64(50 + rng.IntN(50)), Time: minute(m) + off},
			)
			if i == 5 && m == 90 {
				b = append(b, Sample{Service: svcName(i), Pod: podName(i), Signal: SignalRestarts, Value: 1, Time: minute(m) + off})
			}
		}
		rng.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
		if m == 50 {
			b = append(b, Sample{Service: svcName(1), Pod: podName(1), Signal: SignalPodCPU, Value: 0.1, Time: minute(40)})
		}
		out = append(out, b...)
	}
	return out
}

func TestBatchingInvariance(t *testing.T) {
	in := stream(21)
	all := newDet(t, DefaultConfig())
	want := append(all.Add(in), all.Advance(minute(130))...)
	require.NotEmpty(t, want)
	types := map[string]bool{}
	for _, e := range want {
		types[e.Type] = true
		if e.Type != "metric_restarts" {
			assert.Equal(t, svcName(2), e.Service)
		}
	}
	assert.Equal(t, map[string]bool{"metric_cpu": true, "metric_latency": true, "metric_restarts": true}, types)
	assert.Equal(t, uint64(1), all.Stats().Late)

	one := newDet(t, DefaultConfig())
	var got []Evidence
	for i := range in {
		got = append(got, one.Add(in[i:i+1])...)
	}
	got = append(got, one.Advance(minute(130))...)
	assert.Equal(t, want, got, "one by one")
	assert.Equal(t, all.Stats(), one.Stats())

	rng := rand.New(rand.NewPCG(3, 3))
	chunks := newDet(t, DefaultConfig())
	got = got[:0]
	for i := 0; i < len(in); {
		j := min(len(in), i+rng.IntN(300))
		got = append(got, chunks.Add(in[i:j])...)
		i = j
	}
	got = append(got, chunks.Advance(minute(130))...)
	assert.Equal(t, want, got, "random chunks")
	assert.Equal(t, all.Stats(), chunks.Stats())
}

func TestDeterministicAcrossRuns(t *testing.T) {
	in := stream(22)
	var prev []Evidence
	for range 3 {
		d := newDet(t, DefaultConfig())
		got := append(d.Add(in), d.Advance(minute(130))...)
		if prev != nil {
			require.Equal(t, prev, got)
		}
		prev = got
	}
}

func TestInvalidLateFuture(t *testing.T) {
	d := newDet(t, DefaultConfig())
	good := Sample{Service: "a", Pod: "a-0", Signal: SignalPodCPU, Value: 0.1, Time: minute(10)}
	bad := []Sample{
		{Signal: SignalPodCPU, Value: 1, Time: minute(10)},                               // no service
		{Service: "a", Signal: SignalUnknown, Value: 1, Time: minute(10)},                // unknown signal
		{Service: "a", Signal: NumSignals, Value: 1, Time: minute(10)},                   // out of range
		{Service: "a", Signal: SignalPodCPU, Value: 1, Time: 0},                          // no time
		{Service: "a", Signal: SignalPodCPU, Value: math.NaN(), Time: minute(10)},        // NaN
		{Service: "a", Signal: SignalPodCPU, Value: -1, Time: minute(10)},                // negative
		{Service: "a", Signal: SignalPodCPU, Value: math.Inf(1), Time: minute(10)},       // infinite
		{Service: "a", Signal: SignalHTTPLatency, Value: 1, Count: -1, Time: minute(10)}, // bad count
	}
	assert.Empty(t, d.Add(append(bad, good)))
	st := d.Stats()
	assert.Equal(t, uint64(len(bad)), st.Invalid)
	assert.Equal(t, minute(10), d.Watermark())

	d.Add([]Sample{
		{Service: "b", Signal: SignalPodCPU, Value: 0.1, Time: minute(12)},
		{Service: "a", Signal: SignalPodCPU, Value: 0.1, Time: minute(12)}, // closes windows up to 11
		{Service: "c", Signal: SignalPodCPU, Value: 0.1, Time: minute(11)}, // late
		{Service: "c", Signal: SignalPodCPU, Value: 0.1, Time: minute(15)}, // ahead, accepted
		{Service: "c", Signal: SignalPodCPU, Value: 0.1, Time: minute(16)}, // too far ahead
	})
	st = d.Stats()
	assert.Equal(t, uint64(1), st.Late)
	assert.Equal(t, uint64(1), st.Future)
	assert.Equal(t, minute(12), d.Watermark())
}

func TestLatenessAcceptsStragglers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Lateness = time.Minute
	d := newDet(t, cfg)
	d.Add([]Sample{
		{Service: "a", Signal: SignalPodCPU, Value: 0.1, Time: minute(10)},
		{Service: "b", Signal: SignalPodCPU, Value: 0.1, Time: minute(11)},
		{Service: "a", Signal: SignalPodCPU, Value: 0.1, Time: minute(11)},
		{Service: "c", Signal: SignalPodCPU, Value: 0.1, Time: minute(10)}, // one window late: accepted
		{Service: "a", Signal: SignalPodCPU, Value: 0.1, Time: minute(12)},
		{Service: "b", Signal: SignalPodCPU, Value: 0.1, Time: minute(12)},
		{Service: "c", Signal: SignalPodCPU, Value: 0.1, Time: minute(10)}, // two windows late
	})
	assert.Equal(t, uint64(1), d.Stats().Late)
}

func TestSeriesBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSeries = 3
	cfg.StaleAfter = 10 * time.Minute
	d := newDet(t, cfg)
	for m := range 5 {
		var b []Sample
		for i := range 5 {
			b = append(b, Sample{Service: svcName(i), Signal: SignalPodCPU, Value: 0.1, Time: minute(m)})
		}
		d.Add(b)
	}
	st := d.Stats()
	assert.Equal(t, 3, d.Series())
	assert.Equal(t, uint64(2*5), st.DroppedSeries)
	assert.Zero(t, st.SeriesEvicted)

	// svc-0 and svc-1 go quiet; after stale_after the new ones take their place.
	for m := 5; m < 30; m++ {
		d.Add([]Sample{
			{Service: svcName(2), Signal: SignalPodCPU, Value: 0.1, Time: minute(m)},
			{Service: svcName(3), Signal: SignalPodCPU, Value: 0.1, Time: minute(m)},
			{Service: svcName(4), Signal: SignalPodCPU, Value: 0.1, Time: minute(m)},
		})
	}
	st = d.Stats()
	assert.Equal(t, 3, d.Series())
	assert.Equal(t, uint64(2), st.SeriesEvicted)
	assert.Greater(t, st.DroppedSeries, uint64(10), "until the old series were stale")
}

func TestInstanceBound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxInstances = 2
	d := newDet(t, cfg)
	var b []Sample
	for r := range 4 {
		b = append(b, Sample{Service: "a", Pod: fmt.Sprint("a-", r), Signal: SignalPodMemory, Value: 1 << 30, Time: minute(0)})
	}
	d.Add(b)
	assert.Equal(t, uint64(2), d.Stats().DroppedInstances)
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		u    unit
		v    float64
		want string
	}{
		{unitCores, 0.12, "120m"},
		{unitCores, 2.5, "2.50"},
		{unitRatio, 0.125, "12.5%"},
		{unitShare, 0.35, "35.0%"},
		{unitBytes, 512 << 20, "512MiB"},
		{unitBytes, 3 << 30, "3.00GiB"},
		{unitBytes, 2048, "2KiB"},
		{unitBytes, 10, "10B"},
		{unitSeconds, 0.12, "120ms"},
		{unitSeconds, 0.0025, "2.5ms"},
		{unitSeconds, 1.5, "1.50s"},
		{unitSeconds, 0.0004, "400µs"},
		{unitCount, 3, "3"},
	} {
		assert.Equal(t, tc.want, formatValue(tc.u, tc.v), "%v %v", tc.u, tc.v)
	}
}

func TestReasonMentionsFleet(t *testing.T) {
	r := reason(&signals[SignalHTTPLatency], &hit{z: 12, value: 0.9, base: 0.05, fleet: 2})
	assert.Equal(t, "http latency 18.0x its baseline (median 50ms, now 900ms, z 12); fleet-wide rise 2.0x discounted", r)
	r = reason(&signals[SignalSpanErrors], &hit{z: 7, value: 0.25, base: 0.01, fleet: 1})
	assert.Equal(t, "span error rate 25.0% vs baseline 1.0% (z 7)", r)
	assert.True(t, strings.HasPrefix(reason(&signals[SignalRestarts], &hit{value: 3}), "3 restarts"))
}

func TestRobustStatistics(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for n := 1; n < 80; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = math.Round(rng.NormFloat64()*4) / 2 // ties included
		}
		slices.Sort(xs)
		med := median(xs)
		dev := make([]float64, n)
		for i, x := range xs {
			dev[i] = math.Abs(x - med)
		}
		slices.Sort(dev)
		require.InDelta(t, median(dev), mad(xs, med), 1e-12, "n=%d %v", n, xs)
	}
	assert.InDelta(t, 0, mad(nil, 0), 0)
	assert.InDelta(t, 9, quantile([]float64{0, 10}, 0.9), 1e-12)
	assert.InDelta(t, 10, quantile([]float64{0, 10}, 1), 1e-12)
	assert.InDelta(t, 0, quantile(nil, 0.5), 0)

	// The sorted copy follows the ring of baseline points.
	s := &series{}
	for i := range 200 {
		s.push(float64((i*37)%101), 60)
		want := slices.Clone(s.hist[:s.hn])
		slices.Sort(want)
		require.Equal(t, want, s.sorted)
	}
}

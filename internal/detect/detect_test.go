package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

const (
	sec = int64(time.Second)
	mn  = int64(time.Minute)
)

// t0 is an arbitrary event-time origin (2024-01-01T00:00:00Z).
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// onlyConfig returns the default config with every detector disabled except
// the ones enabled by fn.
func onlyConfig(fn func(c *Config)) Config {
	c := DefaultConfig()
	c.NewTemplate.Enabled = false
	c.RareTemplate.Enabled = false
	c.Rate.SpikeEnabled = false
	c.Rate.DropEnabled = false
	c.ErrorBurst.Enabled = false
	c.Session.Enabled = false
	fn(&c)
	return c
}

func newDet(t *testing.T, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg)
	require.NoError(t, err)
	return d
}

// feeder keeps per-template counts like a miner would.
type feeder struct {
	d      *Detector
	counts map[string]int64
}

func newFeeder(d *Detector) *feeder { return &feeder{d: d, counts: map[string]int64{}} }

func (f *feeder) obs(t int64, key string, sev int32, session string) Verdict {
	f.counts[key]++
	ev := Event{Time: t, TemplateKey: key, NewTemplate: f.counts[key] == 1, SeverityNumber: sev, SessionKey: session}
	return f.d.Observe(&ev)
}

func TestDefaultConfigValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c *Config)
		want string
	}{
		{"warmup lines", func(c *Config) { c.Warmup.Lines = -1 }, "warmup.lines must not be negative"},
		{"warmup duration", func(c *Config) { c.Warmup.Duration = -1 }, "warmup.duration must not be negative"},
		{"rare ratio", func(c *Config) { c.RareTemplate.MaxRatio = 0 }, "rare_template.max_ratio must be in (0, 1)"},
		{"rare error ratio", func(c *Config) { c.RareTemplate.ErrorMaxRatio = 1 }, "rare_template.error_max_ratio must be in [0, 1)"},
		{"rare count", func(c *Config) { c.RareTemplate.MaxCount = 0 }, "rare_template.max_count must be positive"},
		{"bucket", func(c *Config) { c.Rate.Bucket = 0 }, "rate.bucket must be positive"},
		{"history", func(c *Config) { c.Rate.History = 2 }, "rate.history must be between 3 and 10000"},
		{"min history", func(c *Config) { c.Rate.MinHistory = 61 }, "rate.min_history must be between 1 and rate.history"},
		{"threshold", func(c *Config) { c.Rate.Threshold = 0 }, "rate.threshold must be positive"},
		{"spike factor", func(c *Config) { c.Rate.SpikeFactor = 0.5 }, "rate.spike_factor must be at least 1"},
		{"drop fraction", func(c *Config) { c.Rate.DropFraction = 1 }, "rate.drop_fraction must be in [0, 1)"},
		{"drop baseline", func(c *Config) { c.Rate.DropMinBaseline = 0 }, "rate.drop_min_baseline must be positive"},
		{"min severity", func(c *Config) { c.ErrorBurst.MinSeverity = 25 }, "error_burst.min_severity must be between 1 and 24"},
		{"window", func(c *Config) { c.ErrorBurst.Window = 0 }, "error_burst.window must be positive"},
		{"baseline", func(c *Config) { c.ErrorBurst.Baseline = time.Minute }, "error_burst.baseline must be at least error_burst.window"},
		{"min count", func(c *Config) { c.ErrorBurst.MinCount = 0 }, "error_burst.min_count must be positive"},
		{"p value", func(c *Config) { c.ErrorBurst.MaxPValue = 1 }, "error_burst.max_p_value must be in (0, 1)"},
		{"ttl", func(c *Config) { c.Session.TTL = 0 }, "session.ttl must be positive"},
		{"max sessions", func(c *Config) { c.Session.MaxSessions = 0 }, "session.max_sessions must be positive"},
		{"per session", func(c *Config) { c.Session.MaxTemplatesPerSession = 0 }, "session.max_templates_per_session must be between 1 and 1024"},
		{"session ratio", func(c *Config) { c.Session.MaxRatio = 1.5 }, "session.max_ratio must be in (0, 1)"},
		{"lateness", func(c *Config) { c.AllowedLateness = -time.Second }, "allowed_lateness must not be negative"},
		{"reset", func(c *Config) { c.WatermarkResetAfter = 0 }, "watermark_reset_after must be positive"},
		{"max templates", func(c *Config) { c.MaxTemplates = 0 }, "max_templates must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = New(c)
			require.Error(t, err)
		})
	}
}

func TestSeverityBands(t *testing.T) {
	assert.Empty(t, SeverityOf(0))
	assert.Empty(t, SeverityOf(math.NaN()))
	assert.Equal(t, SeverityLow, SeverityOf(0.3))
	assert.Equal(t, SeverityMedium, SeverityOf(0.5))
	assert.Equal(t, SeverityHigh, SeverityOf(0.7))
	assert.Equal(t, SeverityCritical, SeverityOf(0.9))
	assert.Equal(t, SeverityCritical, SeverityOf(1))
	assert.Equal(t, "session", KindSession.String())
	assert.Equal(t, "unknown", Kind(200).String())
}

func TestBurstPValue(t *testing.T) {
	// no errors before: P = q^k with q = w/(w+covered)
	assert.InDelta(t, 0.125, burstPValue(3, 0, 10, 10), 1e-12)
	q := 10.0 / 1450
	assert.InDelta(t, q*q*q, burstPValue(3, 0, 10, 1440), 1e-15)
	// Binomial(20, 1/2): P(X >= 15) = sum_{i=15..20} C(20,i) / 2^20 = 21700 / 1048576
	assert.InDelta(t, 21700.0/1048576, burstPValue(15, 5, 10, 10), 1e-12)
	assert.InDelta(t, 1.0, burstPValue(0, 5, 10, 10), 0)
	// a long baseline: close to the Poisson tail with lambda = 1 (P(X >= 5) = 0.00366)
	assert.InDelta(t, 0.00366, burstPValue(5, 1000, 10, 10000), 2e-4)
	// the same excess is less significant when the baseline is short
	assert.Greater(t, burstPValue(15, 5, 10, 10), burstPValue(15, 500, 10, 1000))
}

func TestNewTemplateAfterWarmup(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.NewTemplate.Enabled = true
		c.Warmup = WarmupConfig{Lines: 50, Duration: 10 * time.Minute}
	})
	f := newFeeder(newDet(t, cfg))
	// During warm-up (lines and time) new templates are not flagged.
	for i := 0; i < 50; i++ {
		v := f.obs(t0+int64(i)*sec, fmt.Sprintf("w%d", i%5), 9, "")
		require.False(t, v.Detected, "line %d", i)
	}
	// Enough lines but not enough event time yet (only 49 s elapsed).
	v := f.obs(t0+60*sec, "early", 9, "")
	assert.False(t, v.Detected)
	// After 10 minutes of event time.
	v = f.obs(t0+11*mn, "late", 9, "")
	require.True(t, v.Detected)
	assert.Equal(t, KindNewTemplate, v.Kind)
	assert.Equal(t, SeverityMedium, v.Severity)
	assert.Contains(t, v.Reason, "new template late")
	// An error record gets a higher score.
	v = f.obs(t0+12*mn, "late-error", 17, "")
	require.True(t, v.Detected)
	assert.InDelta(t, 0.8, v.Score, 1e-9)
	assert.Equal(t, SeverityHigh, v.Severity)
	// A known template is not new.
	v = f.obs(t0+13*mn, "w1", 9, "")
	assert.False(t, v.Detected)
	assert.Equal(t, uint64(2), f.d.Stats().Anomalies[KindNewTemplate])
}

func TestRareTemplate(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.RareTemplate.Enabled = true
		c.RareTemplate.MaxRatio = 0.01
		c.Warmup = WarmupConfig{Lines: 100}
	})
	f := newFeeder(newDet(t, cfg))
	ts := t0
	next := func() int64 { ts += sec; return ts }
	for i := 0; i < 1000; i++ {
		require.False(t, f.obs(next(), "common", 9, "").Detected)
	}
	// One record every 200 lines: k records in 200(k-1)+1 lines <= 1%.
	// The first record is a new template (that detector is off here), not
	// a rare one.
	for k := 1; k <= 5; k++ {
		v := f.obs(next(), "rare", 9, "")
		if k == 1 {
			require.False(t, v.Detected)
		} else {
			require.True(t, v.Detected, "occurrence %d", k)
			assert.Equal(t, KindRareTemplate, v.Kind)
			assert.Contains(t, v.Reason, "rare template rare: ")
		}
		for i := 0; i < 199; i++ {
			require.False(t, f.obs(next(), "common", 9, "").Detected)
		}
	}
	// A template that is frequent from its first appearance on (a new
	// workload phase) is not rare.
	for i := 0; i < 50; i++ {
		require.False(t, f.obs(next(), "phase", 9, "").Detected)
		require.False(t, f.obs(next(), "common", 9, "").Detected)
	}
	// A busy service: a template recurring every 2000 lines is rare by
	// ratio, but not any more after max_count records.
	cfg.RareTemplate.MaxCount = 3
	g := newFeeder(newDet(t, cfg))
	var flagged []int
	for k := 1; k <= 6; k++ {
		for i := 0; i < 1999; i++ {
			g.obs(next(), "busy", 9, "")
		}
		if g.obs(next(), "recurring", 9, "").Detected {
			flagged = append(flagged, k)
		}
	}
	assert.Equal(t, []int{2, 3}, flagged)
	// Rarer means a higher score.
	a := rarityScore(0.001, 0.01)
	b := rarityScore(0.0001, 0.01)
	assert.Greater(t, b, a)
	assert.Equal(t, uint64(4), f.d.Stats().Anomalies[KindRareTemplate])
}

func TestRareErrorTemplate(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.RareTemplate.Enabled = true
		c.Warmup = WarmupConfig{Lines: 100}
	})
	f := newFeeder(newDet(t, cfg))
	ts := t0
	next := func() int64 { ts += sec; return ts }
	for i := 0; i < 1000; i++ {
		require.False(t, f.obs(next(), "common", 9, "").Detected)
	}
	// An error template clustered in time: not rare since first seen, but
	// 5 of ~1000 lines of the service (<= 1%) are rare errors.
	var flagged int
	for i := 0; i < 5; i++ {
		v := f.obs(next(), "disk failed", 17, "")
		if v.Detected {
			flagged++
			assert.Contains(t, v.Reason, "rare error template disk failed")
			assert.GreaterOrEqual(t, v.Score, 0.7)
		}
		f.obs(next(), "common", 9, "")
	}
	assert.Equal(t, 4, flagged) // the first is a new template
	// The same template at INFO severity is not rare by the error rule.
	for i := 0; i < 5; i++ {
		f.obs(next(), "info clustered", 9, "")
	}
	assert.Equal(t, uint64(4), f.d.Stats().Anomalies[KindRareTemplate])
	// An error template making up more than 1% of lines is not rare.
	for i := 0; i < 30; i++ {
		f.obs(next(), "noisy error", 17, "")
		f.obs(next(), "common", 9, "")
	}
	v := f.obs(next(), "noisy error", 17, "")
	assert.False(t, v.Detected)
}

// steady feeds n records per minute of template key for minutes [from, to).
func steady(f *feeder, key string, from, to, n int, sev int32) (detected []Verdict) {
	for m := from; m < to; m++ {
		for i := 0; i < n; i++ {
			ts := t0 + int64(m)*mn + int64(i)*mn/int64(n)
			if v := f.obs(ts, key, sev, ""); v.Detected {
				detected = append(detected, v)
			}
		}
	}
	return detected
}

func TestRateSpike(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.Rate.SpikeEnabled = true })
	f := newFeeder(newDet(t, cfg))
	require.Empty(t, steady(f, "a", 0, 90, 5, 9))
	// 60 records in minute 90: threshold = max(5 + 6*sqrt(5), 15) = 18.4.
	var flagged []int
	for i := 0; i < 60; i++ {
		v := f.obs(t0+90*mn+int64(i)*sec, "a", 9, "")
		if v.Detected {
			require.Equal(t, KindRateSpike, v.Kind)
			assert.Contains(t, v.Reason, "rate spike of template a")
			flagged = append(flagged, i)
		}
	}
	// Exactly the record that crosses the threshold (the 19th) is flagged.
	assert.Equal(t, []int{18}, flagged)
	// The same level in the next bucket is no new high: not flagged again.
	var again int
	for i := 0; i < 60; i++ {
		if v := f.obs(t0+91*mn+int64(i)*sec, "a", 9, ""); v.Detected {
			again++
		}
	}
	assert.Equal(t, 0, again)
	// A higher level is.
	for i := 0; i < 120; i++ {
		if v := f.obs(t0+92*mn+int64(i)*sec/2, "a", 9, ""); v.Detected {
			again++
		}
	}
	assert.Equal(t, 1, again)
	assert.Equal(t, uint64(2), f.d.Stats().Anomalies[KindRateSpike])
}

func TestRateSpikeExplainedByServiceGrowth(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.Rate.SpikeEnabled = true })
	f := newFeeder(newDet(t, cfg))
	// Two templates, 5 and 10 per minute.
	for m := 0; m < 90; m++ {
		for i := 0; i < 15; i++ {
			key := "b"
			if i%3 == 0 {
				key = "a"
			}
			require.False(t, f.obs(t0+int64(m)*mn+int64(i)*4*sec, key, 9, "").Detected)
		}
	}
	// Both grow tenfold together (more traffic): no spike.
	for i := 0; i < 150; i++ {
		key := "b"
		if i%3 == 0 {
			key = "a"
		}
		require.False(t, f.obs(t0+90*mn+int64(i)*400*int64(time.Millisecond), key, 9, "").Detected, "record %d", i)
	}
	// Next minute "a" grows alone: spike.
	var n int
	for i := 0; i < 100; i++ {
		key := "a"
		if i%10 == 0 {
			key = "b"
		}
		if v := f.obs(t0+91*mn+int64(i)*600*int64(time.Millisecond), key, 9, ""); v.Detected {
			assert.Equal(t, KindRateSpike, v.Kind)
			n++
		}
	}
	assert.Equal(t, 1, n)
}

func TestRateSpikeNeedsBaselineAndHistory(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.Rate.SpikeEnabled = true })
	f := newFeeder(newDet(t, cfg))
	// A template seen only 10 minutes: not judged (min_history 30).
	require.Empty(t, steady(f, "young", 0, 10, 5, 9))
	require.Empty(t, steady(f, "young", 10, 11, 100, 9))
	// A template that is usually absent (median 0): a burst is no spike.
	f.obs(t0, "sparse", 9, "")
	f.obs(t0+70*mn, "sparse", 9, "")
	for i := 0; i < 100; i++ {
		v := f.obs(t0+71*mn+int64(i)*100*int64(time.Millisecond), "sparse", 9, "")
		require.False(t, v.Detected)
	}
}

func TestRateDrop(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.Rate.DropEnabled = true })
	f := newFeeder(newDet(t, cfg))
	require.Empty(t, steady(f, "a", 0, 60, 30, 9))
	// Minute 60: only 2 records; judged on the first record of minute 61.
	require.Empty(t, steady(f, "a", 60, 61, 2, 9))
	d := steady(f, "a", 61, 62, 30, 9)
	require.Len(t, d, 1)
	assert.Equal(t, KindRateDrop, d[0].Kind)
	assert.Contains(t, d[0].Reason, "rate drop of template a: 2 records")
	// Back to normal: no more drops.
	require.Empty(t, steady(f, "a", 62, 70, 30, 9))
	// A mild dip (20 of 30) is not a drop.
	require.Empty(t, steady(f, "a", 70, 71, 20, 9))
	require.Empty(t, steady(f, "a", 71, 72, 30, 9))
}

func TestErrorBurst(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.ErrorBurst.Enabled = true })
	f := newFeeder(newDet(t, cfg))
	// 8 hours of info logs with one error every 30 minutes.
	for m := 0; m < 480; m++ {
		sev := int32(9)
		if m%30 == 0 {
			sev = 17
		}
		v := f.obs(t0+int64(m)*mn, "info", sev, "")
		require.False(t, v.Detected, "minute %d", m)
	}
	// 10 errors within 2 minutes.
	var kinds []Kind
	for i := 0; i < 10; i++ {
		v := f.obs(t0+480*mn+int64(i)*12*sec, "err", 17, "")
		kinds = append(kinds, v.Kind)
		// Info records in between are never part of an error burst.
		vi := f.obs(t0+480*mn+int64(i)*12*sec+sec, "info", 9, "")
		require.False(t, vi.Detected)
	}
	// Baseline: 12 errors in 6h -> 0.35 expected per 10 min. The third
	// error (P(X>=3) = 0.0055) is not yet significant, the 4th is.
	assert.Equal(t, []Kind{0, 0, 0, KindErrorBurst, KindErrorBurst, KindErrorBurst, KindErrorBurst, KindErrorBurst, KindErrorBurst, KindErrorBurst}, kinds)
	v := f.obs(t0+482*mn, "err", 21, "")
	require.True(t, v.Detected)
	assert.Contains(t, v.Reason, "error burst: 11 records of severity >= 17")
	assert.GreaterOrEqual(t, v.Score, 0.7)
}

func TestErrorBurstLongWindow(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.ErrorBurst.Enabled = true })
	f := newFeeder(newDet(t, cfg))
	// 26 hours with one error every 2 hours.
	for m := 0; m < 26*60; m++ {
		sev := int32(9)
		if m%120 == 0 {
			sev = 17
		}
		require.False(t, f.obs(t0+int64(m)*mn, "info", sev, "").Detected)
	}
	// Then one error every 8 minutes: never 3 in 10 minutes, but 6+ in an
	// hour against ~0.5 expected.
	var got []Verdict
	for i := 0; i < 8; i++ {
		v := f.obs(t0+int64(26*60+8*i)*mn, "slow", 17, "")
		if v.Detected {
			got = append(got, v)
		}
	}
	require.NotEmpty(t, got)
	assert.Equal(t, KindErrorBurst, got[0].Kind)
	assert.Contains(t, got[0].Reason, "in last 1h vs")
	// Without the long window nothing is flagged.
	cfg.ErrorBurst.LongWindow = 0
	f = newFeeder(newDet(t, cfg))
	for m := 0; m < 26*60; m++ {
		sev := int32(9)
		if m%120 == 0 {
			sev = 17
		}
		f.obs(t0+int64(m)*mn, "info", sev, "")
	}
	for i := 0; i < 8; i++ {
		require.False(t, f.obs(t0+int64(26*60+8*i)*mn, "slow", 17, "").Detected)
	}
}

// TestErrorBurstFollowsTheLoad: a service logs 10 lines a second and an error every 20 s for an
// hour. When its traffic triples for ten minutes (a burst of requests), errors that follow the
// traffic triple too: that is load, not an error burst. The same errors at the usual traffic
// are one. Without the service's record counts (rate spikes off) the load is not known.
func TestErrorBurstFollowsTheLoad(t *testing.T) {
	run := func(spikes bool, busy int) int {
		cfg := onlyConfig(func(c *Config) {
			c.ErrorBurst.Enabled = true
			c.Rate.SpikeEnabled = spikes
		})
		f := newFeeder(newDet(t, cfg))
		bursts := 0
		for s := int64(0); s < 70*60; s++ {
			lines, every := 10, int64(20)
			if s >= 60*60 { // the last ten minutes
				lines, every = busy*10, 20/3
			}
			for i := range lines {
				sev := int32(9)
				if i == 0 && s%every == 0 {
					sev = 17
				}
				if v := f.obs(t0+s*sec+int64(i), "l", sev, ""); v.Kind == KindErrorBurst {
					bursts++
				}
			}
		}
		return bursts
	}
	assert.Zero(t, run(true, 3), "three times the errors with three times the traffic")
	assert.Positive(t, run(true, 1), "three times the errors at the usual traffic")
	assert.Positive(t, run(false, 3), "the load unknown")
}

// TestErrorBurstAllowsForClusteredErrors: two services log ten errors every ten minutes for two
// hours, one spread over the minutes (apart from one earlier storm of 100, which is not their
// usual variation), the other all in one minute (a stack-trace burst). Then both log 40 more
// errors within five minutes. Against the steady history that is a burst; the clustered
// history varies that much by itself (its per-minute counts are over-dispersed), and only a
// far larger rise is one.
func TestErrorBurstAllowsForClusteredErrors(t *testing.T) {
	run := func(clustered bool, extra int) bool {
		f := newFeeder(newDet(t, onlyConfig(func(c *Config) { c.ErrorBurst.Enabled = true })))
		for m := int64(0); m < 120; m++ {
			n := int64(1)
			switch {
			case clustered && m%10 == 0:
				n = 10
			case clustered:
				n = 0
			case m == 60:
				n = 100 // an earlier fault's storm
			}
			for i := range n {
				v := f.obs(t0+m*mn+i*sec/2, "e", 17, "")
				if clustered {
					require.False(t, v.Detected, "minute %d", m)
				}
			}
		}
		found := false
		for i := range int64(extra) {
			found = f.obs(t0+120*mn+i*(5*mn/int64(extra)), "e", 17, "").Kind == KindErrorBurst || found
		}
		return found
	}
	assert.True(t, run(false, 40), "40 more errors against a steady history with one earlier storm")
	assert.False(t, run(true, 40), "the same against a clustered one")
	assert.True(t, run(true, 150), "150 more against a clustered one")
}

// TestErrorBurstOnAYoungBaselineAsksMore: 43 errors in ten minutes where 20 are usual, after
// twenty minutes of history (too short to tell how clustered the errors are: p = 0.0004 as if
// they were random) is not a burst; after forty minutes (p = 0.00008) it is.
func TestErrorBurstOnAYoungBaselineAsksMore(t *testing.T) {
	run := func(history int64) bool {
		f := newFeeder(newDet(t, onlyConfig(func(c *Config) { c.ErrorBurst.Enabled = true })))
		found := false
		for m := int64(0); m < history+10; m++ {
			n := int64(2)
			switch {
			case m >= history+7:
				n = 5
			case m >= history:
				n = 4
			}
			for i := range n {
				found = f.obs(t0+m*mn+i*(mn/n), "e", 17, "").Kind == KindErrorBurst || found
			}
		}
		return found
	}
	assert.False(t, run(20), "twenty minutes of history")
	assert.True(t, run(40), "forty minutes of history")
}

func TestErrorBurstNeedsHistory(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.ErrorBurst.Enabled = true })
	f := newFeeder(newDet(t, cfg))
	// A brand-new service starting with errors: less than one window of
	// history, nothing to compare with.
	for i := 0; i < 20; i++ {
		v := f.obs(t0+int64(i)*sec, "err", 17, "")
		require.False(t, v.Detected)
	}
}

func TestSessionDetector(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.Session.Enabled = true
		c.Session.MinSessions = 50
	})
	f := newFeeder(newDet(t, cfg))
	ts := t0
	run := func(key string, tpls ...string) (flags []bool) {
		for _, tp := range tpls {
			ts += sec
			flags = append(flags, f.obs(ts, tp, 9, key).Detected)
		}
		return flags
	}
	// Before min_sessions a session with an unseen template is not judged.
	assert.Equal(t, []bool{false, false}, run("early", "open", "odd"))
	for i := 0; i < 200; i++ {
		require.NotContains(t, run(fmt.Sprintf("s%d", i), "open", "work", "close"), true)
	}
	// "rare" appears in 1 of 202 sessions (< 1%): flagged from that record on.
	assert.Equal(t, []bool{false, true, true, true}, run("bad", "open", "rare", "work", "close"))
	// Other sessions keep going unflagged, also interleaved.
	assert.Equal(t, []bool{false}, run("s1000", "open"))
	assert.Equal(t, []bool{true}, run("bad", "work"))
	assert.Equal(t, []bool{false, false}, run("s1000", "work", "close"))
	// A new template is rare in its first sessions (1/204, 2/205 <= 1%),
	// then no longer (3/206 > 1%).
	for i := 0; i < 10; i++ {
		assert.Equal(t, []bool{false, i < 2}, run(fmt.Sprintf("x%d", i), "open", "extra"), "x%d", i)
	}
	assert.Equal(t, []bool{false, false}, run("y", "open", "extra"))
	st := f.d.Stats()
	assert.Equal(t, uint64(6), st.Anomalies[KindSession])
	v := f.obs(ts+sec, "close", 9, "bad")
	require.True(t, v.Detected)
	assert.Equal(t, KindSession, v.Kind)
	assert.Contains(t, v.Reason, `session "bad": template rare seen in`)
}

func TestSessionTTLAndBounds(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.Session.Enabled = true
		c.Session.TTL = time.Minute
		c.Session.MaxSessions = 3
		c.Session.MaxTemplatesPerSession = 2
	})
	f := newFeeder(newDet(t, cfg))
	f.obs(t0, "a", 9, "s1")
	f.obs(t0+sec, "a", 9, "s2")
	f.obs(t0+2*sec, "a", 9, "s3")
	// A 4th session evicts the least recently used (s1).
	f.obs(t0+3*sec, "a", 9, "s4")
	st := f.d.Stats()
	assert.Equal(t, uint64(1), st.SessionsEvicted)
	assert.Equal(t, 3, st.SessionsLive)
	// Three distinct templates in one session: the third is not tracked.
	f.obs(t0+4*sec, "b", 9, "s4")
	f.obs(t0+5*sec, "c", 9, "s4")
	assert.Equal(t, uint64(1), f.d.Stats().SessionTemplatesCapped)
	// Two minutes later everything idle expires.
	f.obs(t0+3*mn, "a", 9, "s5")
	st = f.d.Stats()
	assert.Equal(t, uint64(3), st.SessionsExpired)
	assert.Equal(t, 1, st.SessionsLive)
	assert.Equal(t, uint64(5), st.SessionsStarted)
	// The same key after expiry starts a new session.
	f.obs(t0+6*mn, "a", 9, "s5")
	st = f.d.Stats()
	assert.Equal(t, uint64(6), st.SessionsStarted)
}

func TestLateAndOutOfOrder(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.Rate.SpikeEnabled = true
		c.AllowedLateness = 2 * time.Minute
	})
	d := newDet(t, cfg)
	f := newFeeder(d)
	require.Empty(t, steady(f, "a", 0, 60, 5, 9))
	assert.Equal(t, t0+59*mn+48*sec, d.Watermark())
	// Out of order within lateness: counted in its (older) bucket.
	f.obs(t0+58*mn, "a", 9, "")
	assert.Equal(t, uint64(0), d.Stats().Late)
	p := d.tpls["a"]
	assert.Equal(t, uint32(6), p.ring[eventtime.Mod(eventtime.FloorDiv(t0+58*mn, int64(time.Minute)), int64(len(p.ring)))])
	// Older than watermark - lateness: late, not counted in any bucket.
	before := append([]uint32(nil), p.ring...)
	f.obs(t0+50*mn, "a", 9, "")
	assert.Equal(t, uint64(1), d.Stats().Late)
	assert.Equal(t, before, p.ring)
	// Late records cannot trigger a spike, however many.
	for i := 0; i < 100; i++ {
		v := f.obs(t0+50*mn, "a", 9, "")
		require.False(t, v.Detected)
	}
	assert.Equal(t, uint64(101), d.Stats().Late)
	// Zero time: uses the watermark, counted.
	v := f.obs(0, "a", 9, "")
	assert.False(t, v.Detected)
	assert.Equal(t, uint64(1), d.Stats().ZeroTime)
	assert.Equal(t, t0+59*mn+48*sec, d.Watermark())
}

func TestZeroTimeOnlyService(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.NewTemplate.Enabled = true
		c.Warmup = WarmupConfig{Lines: 20, Duration: time.Hour}
	})
	d := newDet(t, cfg)
	f := newFeeder(d)
	for i := 0; i < 20; i++ {
		require.False(t, f.obs(0, "a", 9, "").Detected)
	}
	// Without any event time the warm-up counts lines only.
	assert.True(t, f.obs(0, "b", 9, "").Detected)
	assert.Equal(t, uint64(21), d.Stats().ZeroTime)
	// Once warm it stays warm when event times appear.
	assert.True(t, f.obs(t0, "c", 9, "").Detected)
	assert.Equal(t, t0, d.Watermark())

	// A service whose first records have no time starts its event-time
	// clock at the first real time.
	d = newDet(t, cfg)
	f = newFeeder(d)
	for i := 0; i < 20; i++ {
		f.obs(0, "a", 9, "")
	}
	f.obs(t0, "a", 9, "")
	assert.False(t, f.obs(t0+time.Minute.Nanoseconds(), "d", 9, "").Detected)
	assert.True(t, f.obs(t0+2*time.Hour.Nanoseconds(), "e", 9, "").Detected)
}

func TestWatermarkReset(t *testing.T) {
	cfg := onlyConfig(func(c *Config) { c.WatermarkResetAfter = 10 })
	d := newDet(t, cfg)
	f := newFeeder(d)
	f.obs(t0, "a", 9, "")
	// One record far in the future moves the watermark.
	f.obs(t0+1000*time.Hour.Nanoseconds(), "a", 9, "")
	for i := 1; i <= 9; i++ {
		f.obs(t0+int64(i)*sec, "a", 9, "")
	}
	assert.Equal(t, uint64(9), d.Stats().Late)
	assert.Equal(t, uint64(0), d.Stats().WatermarkResets)
	f.obs(t0+10*sec, "a", 9, "")
	assert.Equal(t, uint64(1), d.Stats().WatermarkResets)
	assert.Equal(t, t0+10*sec, d.Watermark())
	f.obs(t0+11*sec, "a", 9, "")
	assert.Equal(t, uint64(10), d.Stats().Late)
}

func TestTemplateBound(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.MaxTemplates = 10
		c.Rate.SpikeEnabled = true
	})
	d := newDet(t, cfg)
	f := newFeeder(d)
	for i := 0; i < 25; i++ {
		f.obs(t0+int64(i)*sec, fmt.Sprintf("t%d", i), 9, "")
	}
	st := d.Stats()
	assert.Equal(t, 10, st.TemplatesTracked)
	assert.Equal(t, uint64(15), st.TemplatesEvicted)
	// The most recent ones are kept.
	assert.Contains(t, d.tpls, "t24")
	assert.NotContains(t, d.tpls, "t14")
	// Touching keeps a template alive.
	f.obs(t0+30*sec, "t15", 9, "")
	f.obs(t0+31*sec, "new", 9, "")
	assert.Contains(t, d.tpls, "t15")
	assert.NotContains(t, d.tpls, "t16")
}

func TestNoTemplateRecords(t *testing.T) {
	d := newDet(t, DefaultConfig())
	for i := 0; i < 100; i++ {
		v := d.Observe(&Event{Time: t0 + int64(i)*sec, SessionKey: "s"})
		assert.False(t, v.Detected)
	}
	assert.Equal(t, 0, d.Stats().TemplatesTracked)
}

// stream is a reproducible synthetic stream touching every detector.
func stream(seed uint64, n int) []Event {
	r := rand.New(rand.NewPCG(seed, 1)) //nolint:gosec // G404: reproducible test stream
	counts := map[string]int64{}
	evs := make([]Event, 0, n)
	ts := t0
	for i := 0; i < n; i++ {
		ts += int64(r.IntN(2000)) * int64(time.Millisecond)
		tm := ts
		switch r.IntN(50) {
		case 0:
			tm -= int64(r.IntN(300)) * sec // out of order / late
		case 1:
			tm = 0
		}
		key := fmt.Sprintf("t%d", int(r.ExpFloat64()*5))
		if i > n/2 && i < n/2+300 && r.IntN(2) == 0 {
			key = "burst"
		}
		counts[key]++
		sev := int32(9)
		if r.IntN(40) == 0 || (key == "burst" && r.IntN(2) == 0) {
			sev = 17
		}
		evs = append(evs, Event{
			Time: tm, TemplateKey: key, NewTemplate: counts[key] == 1,
			SeverityNumber: sev, SessionKey: fmt.Sprintf("s%d", r.IntN(300)),
		})
	}
	return evs
}

func smallWarmup() Config {
	c := DefaultConfig()
	c.Warmup = WarmupConfig{Lines: 200, Duration: time.Minute}
	c.Session.MinSessions = 20
	c.Session.MaxSessions = 100
	c.MaxTemplates = 15
	return c
}

func TestDeterminism(t *testing.T) {
	evs := stream(7, 20000)
	run := func() []Verdict {
		d := newDet(t, smallWarmup())
		out := make([]Verdict, len(evs))
		for i := range evs {
			ev := evs[i]
			out[i] = d.Observe(&ev)
		}
		return out
	}
	a, b := run(), run()
	require.Equal(t, a, b)
	kinds := map[Kind]int{}
	for _, v := range a {
		if v.Detected {
			kinds[v.Kind]++
		}
	}
	// The stream is built to exercise several detectors.
	assert.GreaterOrEqual(t, len(kinds), 3, "%v", kinds)
}

func TestSnapshotRoundTrip(t *testing.T) {
	evs := stream(11, 12000)
	cfg := smallWarmup()
	ref := newDet(t, cfg)
	want := make([]Verdict, len(evs))
	for i := range evs {
		ev := evs[i]
		want[i] = ref.Observe(&ev)
	}
	d := newDet(t, cfg)
	got := make([]Verdict, len(evs))
	for i := range evs {
		if i%3000 == 1500 {
			snap, err := d.MarshalBinary()
			require.NoError(t, err)
			d2 := newDet(t, cfg)
			require.NoError(t, d2.UnmarshalBinary(snap))
			snap2, err := d2.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, snap, snap2)
			d = d2
		}
		ev := evs[i]
		got[i] = d.Observe(&ev)
	}
	require.Equal(t, want, got)
	require.Equal(t, ref.Stats(), d.Stats())
}

func TestSnapshotOtherGeometry(t *testing.T) {
	evs := stream(3, 3000)
	d := newDet(t, smallWarmup())
	for i := range evs {
		d.Observe(&evs[i])
	}
	snap, err := d.MarshalBinary()
	require.NoError(t, err)
	cfg := smallWarmup()
	cfg.Rate.History = 30
	cfg.Rate.MinHistory = 10
	cfg.MaxTemplates = 5
	cfg.Session.MaxSessions = 10
	d2 := newDet(t, cfg)
	require.NoError(t, d2.UnmarshalBinary(snap))
	st := d2.Stats()
	assert.Equal(t, d.Stats().Lines, st.Lines)
	assert.Equal(t, 5, st.TemplatesTracked)
	assert.Equal(t, 10, st.SessionsLive)
	for p := d2.tplHead; p != nil; p = p.next {
		assert.Nil(t, p.ring)
	}
	// Keeps working.
	for i := range evs {
		d2.Observe(&evs[i])
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	evs := stream(5, 3000)
	d := newDet(t, smallWarmup())
	for i := range evs {
		d.Observe(&evs[i])
	}
	snap, err := d.MarshalBinary()
	require.NoError(t, err)

	target := newDet(t, smallWarmup())
	target.Observe(&Event{Time: t0, TemplateKey: "keep"})
	before, err := target.MarshalBinary()
	require.NoError(t, err)

	check := func(b []byte) {
		t.Helper()
		require.NotPanics(t, func() { err = target.UnmarshalBinary(b) })
		if err == nil {
			// Some corruptions still decode into a valid state; it must be usable.
			target.Observe(&Event{Time: t0, TemplateKey: "x", SessionKey: "y", SeverityNumber: 17})
			require.NoError(t, target.UnmarshalBinary(before))
			return
		}
		after, err2 := target.MarshalBinary()
		require.NoError(t, err2)
		require.Equal(t, before, after, "detector changed by a failed restore")
	}
	// Every truncation fails.
	for n := 0; n < len(snap); n += 1 + n/50 {
		require.NotPanics(t, func() { err = target.UnmarshalBinary(snap[:n]) })
		require.Error(t, err, "truncated to %d", n)
	}
	// Trailing garbage fails.
	require.Error(t, target.UnmarshalBinary(append(append([]byte(nil), snap...), 0)))
	// Unknown version.
	bad := append([]byte(nil), snap...)
	bad[0] = 99
	err = target.UnmarshalBinary(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unsupported snapshot version 99")
	// Random byte flips never panic.
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: reproducible corruption positions
	for i := 0; i < 2000; i++ {
		b := append([]byte(nil), snap...)
		for j := 0; j < 1+r.IntN(4); j++ {
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		}
		check(b)
	}
	// Random garbage.
	for i := 0; i < 500; i++ {
		b := make([]byte, r.IntN(200))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		if len(b) > 0 {
			b[0] = snapshotVersion
		}
		check(b)
	}
}

func TestReasonOnlyForDetected(t *testing.T) {
	evs := stream(9, 5000)
	d := newDet(t, smallWarmup())
	for i := range evs {
		v := d.Observe(&evs[i])
		if v.Detected {
			require.NotEmpty(t, v.Reason)
			require.NotEmpty(t, v.Severity)
			require.Greater(t, v.Score, 0.0)
			require.LessOrEqual(t, v.Score, 1.0)
			require.NotContains(t, v.Reason, "%!")
		} else {
			require.Equal(t, Verdict{}, v)
		}
	}
}

func TestRegularTemplateIsNotRare(t *testing.T) {
	cfg := onlyConfig(func(c *Config) {
		c.RareTemplate.Enabled = true
		c.RareTemplate.MaxRatio = 0.01
		c.RareTemplate.MaxActiveBuckets = 5
		c.Warmup = WarmupConfig{Lines: 100}
	})
	f := newFeeder(newDet(t, cfg))
	ts := t0
	// 300 lines a minute, and one health check line in each minute: rare by ratio, but it is
	// the service's rhythm. It may be flagged in its first five minutes, never after.
	var flaggedMinutes []int
	for m := 0; m < 15; m++ {
		for i := 0; i < 300; i++ {
			ts += 200 * int64(time.Millisecond)
			f.obs(ts, "common", 9, "")
		}
		if f.obs(ts+1, "health", 9, "").Detected {
			flaggedMinutes = append(flaggedMinutes, m)
		}
	}
	require.NotEmpty(t, flaggedMinutes, "rare at first")
	for _, m := range flaggedMinutes {
		assert.Less(t, m, 5, "never flagged once seen in more than max_active_buckets minutes")
	}

	// With the rule off, the same template stays rare.
	cfg.RareTemplate.MaxActiveBuckets = 0
	g := newFeeder(newDet(t, cfg))
	ts = t0
	last := false
	for m := 0; m < 15; m++ {
		for i := 0; i < 300; i++ {
			ts += 200 * int64(time.Millisecond)
			g.obs(ts, "common", 9, "")
		}
		last = g.obs(ts+1, "health", 9, "").Detected
	}
	assert.True(t, last)
}

// BenchmarkBurstPValue: the p-value is computed for every error record once a window holds
// min_count errors, so an error storm pays it per record.
func BenchmarkBurstPValue(b *testing.B) {
	var sink float64
	for i := 0; b.Loop(); i++ {
		k := float64(20 + i%50000)
		sink += burstPValue(k, 3*k/2, 600, 86400)
	}
	if sink < 0 {
		b.Fatal(sink)
	}
}

package analyzer

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/detect"
	"github.com/otelcol-aiops/otelcol-aiops/internal/miner"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func newAnalyzer(tb testing.TB, cfg Config) *Analyzer {
	tb.Helper()
	a, err := New(cfg)
	require.NoError(tb, err)
	return a
}

func TestDefaultConfigValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	c.MaxServices = 0
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_services must be positive")

	c = DefaultConfig()
	c.SessionRegex = "blk_("
	err = c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "session_regex is not a valid regular expression")

	c = DefaultConfig()
	c.Detectors.Rate.Bucket = 0
	c.Miner.Depth = 1
	err = c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "detectors: rate.bucket must be positive")
	assert.Contains(t, err.Error(), "miner: depth must be in [3,64]")
	_, err = New(c)
	require.Error(t, err)
}

func TestAnalyzeBasics(t *testing.T) {
	a := newAnalyzer(t, DefaultConfig())
	var r1, r2 Result
	rec := Record{Service: "api", Message: "user 42 logged in from 10.0.0.1", Time: t0, SeverityNumber: 9}
	a.Analyze(&rec, &r1)
	assert.Equal(t, miner.StatusCreated, r1.MinerStatus)
	require.NotEmpty(t, r1.TemplateID)
	assert.False(t, r1.Verdict.Detected, "warm-up")

	rec2 := Record{Service: "api", Message: "user 7 logged in from 10.0.0.9", Time: t0 + 1}
	a.Analyze(&rec2, &r2)
	assert.Equal(t, r1.TemplateID, r2.TemplateID)
	assert.Contains(t, r2.Template, "<*>")
	params := a.Params(&rec2, &r2, nil)
	assert.Contains(t, params, "7")
	// Params for a record other than the last one: re-matched.
	params = a.Params(&rec, &r1, params[:0])
	assert.Contains(t, params, "42")
	// No template: no params.
	assert.Empty(t, a.Params(&rec, &Result{}, nil))

	var r3 Result
	a.Analyze(&Record{Service: "api", Message: "   "}, &r3)
	assert.Equal(t, miner.StatusEmpty, r3.MinerStatus)
	assert.Empty(t, r3.TemplateID)

	st := a.Stats()
	assert.Equal(t, uint64(3), st.Records)
	assert.Equal(t, 1, st.Services)
	assert.Equal(t, uint64(1), st.ZeroTime)
	assert.Equal(t, 1, st.TemplatesLive)
}

func TestUnknownService(t *testing.T) {
	a := newAnalyzer(t, DefaultConfig())
	var r Result
	a.Analyze(&Record{Message: "hello world", Time: t0}, &r)
	a.Analyze(&Record{Service: UnknownService, Message: "hello world", Time: t0}, &r)
	assert.Equal(t, miner.StatusMatched, r.MinerStatus)
	assert.Equal(t, 1, a.Stats().Services)
}

func TestServiceEviction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxServices = 2
	a := newAnalyzer(t, cfg)
	var r Result
	for i, svc := range []string{"a", "b", "a", "c", "d"} {
		a.Analyze(&Record{Service: svc, Message: "started worker " + svc, Time: t0 + int64(i)}, &r)
	}
	st := a.Stats()
	assert.Equal(t, 2, st.Services)
	assert.Equal(t, uint64(2), st.ServicesEvicted) // b, then a
	assert.Equal(t, uint64(2), st.TemplatesDroppedWithServices)
	assert.Equal(t, uint64(5), st.Records)
	// Cumulative counters include evicted services.
	assert.Equal(t, uint64(5), st.Miner.Lines)
	assert.Equal(t, uint64(5), st.Detectors.Lines)
	assert.Equal(t, 2, st.TemplatesLive)
	assert.Equal(t, 2, st.Miner.Live)
	_, ok := a.services["a"]
	assert.False(t, ok)
	_, ok = a.services["d"]
	assert.True(t, ok)
}

// sessionConfig makes the session detector judge early.
func sessionConfig() Config {
	cfg := DefaultConfig()
	cfg.Detectors.Session.MinSessions = 20
	cfg.SessionRegex = `req=(\w+)`
	return cfg
}

func TestSessionRegexAndKey(t *testing.T) {
	a := newAnalyzer(t, sessionConfig())
	assert.Equal(t, "abc", a.sessionKey("GET / req=abc status=200"))
	assert.Empty(t, a.sessionKey("no session here"))
	cfg := sessionConfig()
	cfg.SessionRegex = `blk_-?\d+`
	b := newAnalyzer(t, cfg)
	assert.Equal(t, "blk_-12", b.sessionKey("Receiving block blk_-12 src"))

	var r Result
	ts := t0
	feed := func(msg, key string) Result {
		ts += int64(time.Second)
		a.Analyze(&Record{Service: "web", Message: msg, Time: ts, SessionKey: key}, &r)
		return r
	}
	for i := 0; i < 150; i++ {
		feed(fmt.Sprintf("req=r%d start", i), "")
		feed(fmt.Sprintf("req=r%d handled in %d ms", i, i), "")
		feed(fmt.Sprintf("req=r%d done", i), "")
	}
	feed("req=bad start", "")
	res := feed("req=bad cache corrupted for key 77", "")
	require.True(t, res.Verdict.Detected)
	assert.Equal(t, "session", res.Verdict.Type)
	assert.Contains(t, res.Verdict.Reason, `session "bad"`)
	// Later records of the session stay flagged.
	res = feed("req=bad done", "")
	assert.True(t, res.Verdict.Detected)
	assert.Equal(t, "session", res.Verdict.Type)
	// Record.SessionKey wins over the expression.
	res = feed("req=bad done", "other")
	assert.False(t, res.Verdict.Detected)
	assert.Equal(t, uint64(2), a.Stats().Session)
}

// synth produces a reproducible multi-service stream with new templates,
// errors bursts, sessions, late and zero-time records.
func synth(seed uint64, n int) []Record {
	r := rand.New(rand.NewPCG(seed, 99)) //nolint:gosec // G404: reproducible test data
	services := []string{"api", "db", "", "worker"}
	verbs := []string{"GET", "PUT", "POST", "DELETE"}
	recs := make([]Record, 0, n)
	ts := t0
	for i := 0; i < n; i++ {
		ts += int64(r.IntN(400)) * int64(time.Millisecond)
		tm := ts
		switch r.IntN(100) {
		case 0:
			tm -= int64(r.IntN(600)) * int64(time.Second)
		case 1:
			tm = 0
		}
		svc := services[r.IntN(len(services))]
		if r.IntN(500) == 0 {
			svc = "batch" // a rare fifth service
		}
		sev := int32(9)
		var msg string
		switch k := r.IntN(20); {
		case k < 10:
			msg = fmt.Sprintf("%s /api/v1/items/%d took %dms req=%d", verbs[r.IntN(4)], r.IntN(1000), r.IntN(300), r.IntN(500))
		case k < 15:
			msg = fmt.Sprintf("connection %d opened from 10.0.%d.%d req=%d", r.IntN(100), r.IntN(255), r.IntN(255), r.IntN(500))
		case k < 19:
			msg = fmt.Sprintf("cache hit ratio %d.%d%%", r.IntN(100), r.IntN(10))
		default:
			msg = fmt.Sprintf("event kind%d happened count %d req=%d", r.IntN(40), r.IntN(9), r.IntN(500))
		}
		if i > n/2 && i < n/2+400 && r.IntN(3) == 0 {
			msg = fmt.Sprintf("ERROR write failed on disk sd%c: I/O error req=%d", 'a'+r.IntN(3), r.IntN(500))
			sev = 17
		}
		recs = append(recs, Record{Service: svc, Message: msg, Time: tm, SeverityNumber: sev})
	}
	return recs
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Detectors.Warmup = detect.WarmupConfig{Lines: 300, Duration: time.Minute}
	cfg.Detectors.Session.MinSessions = 50
	cfg.SessionRegex = `req=(\d+)`
	cfg.MaxServices = 5
	return cfg
}

func runAll(tb testing.TB, a *Analyzer, recs []Record) []Result {
	tb.Helper()
	out := make([]Result, len(recs))
	for i := range recs {
		a.Analyze(&recs[i], &out[i])
	}
	return out
}

func TestDeterminism(t *testing.T) {
	recs := synth(1, 15000)
	r1 := runAll(t, newAnalyzer(t, testConfig()), recs)
	r2 := runAll(t, newAnalyzer(t, testConfig()), recs)
	require.Equal(t, r1, r2)
	types := map[string]int{}
	for _, r := range r1 {
		if r.Verdict.Detected {
			types[r.Verdict.Type]++
			require.NotEmpty(t, r.Verdict.Reason)
			require.Contains(t, []string{"Critical", "High", "Medium", "Low"}, r.Verdict.Severity)
		} else {
			require.Equal(t, Verdict{}, r.Verdict)
		}
	}
	assert.GreaterOrEqual(t, len(types), 3, "%v", types)
}

func TestSnapshotRoundTrip(t *testing.T) {
	recs := synth(2, 12000)
	ref := newAnalyzer(t, testConfig())
	want := runAll(t, ref, recs)

	a := newAnalyzer(t, testConfig())
	got := make([]Result, len(recs))
	for i := range recs {
		if i == 4000 || i == 9000 {
			snap, err := a.MarshalBinary()
			require.NoError(t, err)
			b := newAnalyzer(t, testConfig())
			require.NoError(t, b.UnmarshalBinary(snap))
			snap2, err := b.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, snap, snap2)
			a = b
		}
		a.Analyze(&recs[i], &got[i])
	}
	require.Equal(t, want, got)
	require.Equal(t, ref.Stats(), a.Stats())
}

func TestSnapshotFewerServices(t *testing.T) {
	recs := synth(4, 3000)
	a := newAnalyzer(t, testConfig())
	runAll(t, a, recs)
	snap, err := a.MarshalBinary()
	require.NoError(t, err)
	cfg := testConfig()
	cfg.MaxServices = 1
	b := newAnalyzer(t, cfg)
	require.NoError(t, b.UnmarshalBinary(snap))
	st := b.Stats()
	assert.Equal(t, 1, st.Services)
	assert.Equal(t, a.Stats().ServicesEvicted+uint64(a.Stats().Services-1), st.ServicesEvicted)
	assert.Equal(t, a.Stats().Records, st.Records)
	assert.Equal(t, a.Stats().Miner.Lines, st.Miner.Lines)
}

func TestSnapshotCorrupt(t *testing.T) {
	recs := synth(3, 3000)
	src := newAnalyzer(t, testConfig())
	runAll(t, src, recs)
	snap, err := src.MarshalBinary()
	require.NoError(t, err)

	a := newAnalyzer(t, testConfig())
	runAll(t, a, recs[:500])
	before, err := a.MarshalBinary()
	require.NoError(t, err)
	unchanged := func() {
		t.Helper()
		after, err := a.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, before, after)
	}

	for _, b := range [][]byte{nil, {}, []byte("OTAIAN"), []byte("garbage that is long enough")} {
		require.Error(t, a.UnmarshalBinary(b))
		unchanged()
	}
	// Unknown version.
	bad := append([]byte(nil), snap...)
	bad[len(snapMagic)] = 7
	err = a.UnmarshalBinary(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unsupported snapshot version 7")
	unchanged()
	// Truncations and bit flips are caught.
	for n := 0; n < len(snap); n += 1 + n/20 {
		require.Error(t, a.UnmarshalBinary(snap[:n]))
	}
	unchanged()
	r := rand.New(rand.NewPCG(5, 6)) //nolint:gosec // G404: reproducible corruption positions
	for i := 0; i < 300; i++ {
		b := append([]byte(nil), snap...)
		b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		require.Error(t, a.UnmarshalBinary(b))
	}
	unchanged()
	// Payload corruption with a valid checksum: an error or a usable
	// state, never a panic.
	for i := 0; i < 300; i++ {
		b := append([]byte(nil), snap[:len(snap)-4]...)
		for j := 0; j < 1+r.IntN(3); j++ {
			p := len(snapMagic) + 1 + r.IntN(len(b)-len(snapMagic)-1)
			b[p] ^= byte(1 + r.IntN(255))
		}
		b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
		var err error
		require.NotPanics(t, func() { err = a.UnmarshalBinary(b) })
		if err != nil {
			unchanged()
			continue
		}
		var res Result
		require.NotPanics(t, func() {
			for j := range recs[:200] {
				a.Analyze(&recs[j], &res)
			}
		})
		require.NoError(t, a.UnmarshalBinary(before))
	}
	unchanged()
}

func TestLateAndZeroTimeCounted(t *testing.T) {
	a := newAnalyzer(t, DefaultConfig())
	var r Result
	a.Analyze(&Record{Service: "s", Message: "tick 1", Time: t0 + int64(time.Hour)}, &r)
	a.Analyze(&Record{Service: "s", Message: "tick 2", Time: t0}, &r)
	a.Analyze(&Record{Service: "s", Message: "tick 3"}, &r)
	st := a.Stats()
	assert.Equal(t, uint64(1), st.Late)
	assert.Equal(t, uint64(1), st.ZeroTime)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmjudge

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmprompt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const yes = `{"is_anomaly": true, "severity": "High", "anomaly_type": "PoolExhausted", "root_cause": "T2 errors", "affected_services": ["pay"], "remediation_steps": ["check the pool"], "confidence": 0.9, "explanation": "T2 is new and at error level"}`

const no = `{"is_anomaly": false, "severity": "None", "anomaly_type": "", "root_cause": "", "affected_services": [], "remediation_steps": [], "confidence": 0.9, "explanation": "normal"}`

type counts struct {
	mu       sync.Mutex
	skipped  map[string]int
	results  map[string]int
	evicted  int
	verdicts []*Verdict
}

func newCounts() *counts { return &counts{skipped: map[string]int{}, results: map[string]int{}} }

func (c *counts) Skipped(r string) { c.mu.Lock(); c.skipped[r]++; c.mu.Unlock() }
func (c *counts) Result(r string)  { c.mu.Lock(); c.results[r]++; c.mu.Unlock() }
func (c *counts) PatternsEvicted(n int) {
	c.mu.Lock()
	c.evicted += n
	c.mu.Unlock()
}

func (c *counts) onVerdict(v *Verdict) {
	c.mu.Lock()
	c.verdicts = append(c.verdicts, v)
	c.mu.Unlock()
}

func (c *counts) nVerdicts() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.verdicts) }

func (c *counts) get(m map[string]int, k string) int { c.mu.Lock(); defer c.mu.Unlock(); return m[k] }

func newClient(t *testing.T, srv *llmtest.Server) *llm.Client {
	t.Helper()
	cl, err := llm.New(llm.Options{
		Provider: llm.ProviderOpenAI, Model: "m", Endpoint: srv.URL(), Timeout: 5 * time.Second,
		Retry: llm.RetryOptions{MaxAttempts: 1}, Cache: llm.CacheOptions{MaxSizeMiB: 1, TTL: time.Hour},
	}, nil, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func cfg() Config {
	return Config{Window: 10 * time.Second, SampleNormal: 0, MinConfidence: 0.6, ScreenMinConfidence: 0.5,
		MaxPatterns: 100, VerdictTTL: time.Hour, MaxServices: 10, QueueSize: 8, Workers: 1}
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// window feeds one 10 s window of service svc at index k: normal records of T1 and, when
// flagged, error records of T2 flagged by the detectors.
func window(j *Judge, svc string, k int, flagged bool) {
	base := t0.Add(time.Duration(k) * 10 * time.Second)
	for i := range 5 {
		j.Add(svc, &llmprompt.Record{TemplateID: "T1", Template: "ok <*>", Message: fmt.Sprintf("ok %d", i), SeverityNumber: 9, Time: base.Add(time.Duration(i) * time.Second)})
	}
	if flagged {
		j.Add(svc, &llmprompt.Record{TemplateID: "T2", Template: "pool exhausted <*>", Message: "pool exhausted 50", SeverityNumber: 17,
			Time: base.Add(6 * time.Second), Detected: true, Type: "new_template", Severity: "High", Reason: "new", Score: 0.9})
	}
}

func TestFlaggedWindowIsAskedOnceAndRemembered(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(yes))
	c := newCounts()
	j, err := New(cfg(), newClient(t, srv), nil, nil, c, c.onVerdict)
	require.NoError(t, err)
	j.Start()
	defer j.Stop()

	window(j, "pay", 0, false) // normal: not sampled
	window(j, "pay", 1, true)
	j.Advance(t0.Add(20 * time.Second))
	require.Eventually(t, func() bool { return c.nVerdicts() == 1 }, 5*time.Second, time.Millisecond)
	v := c.verdicts[0]
	assert.Equal(t, SourceLLM, v.Source)
	assert.Equal(t, []string{"T2"}, v.Templates, "a flagged window's verdict applies to its flagged templates")
	assert.True(t, v.Confirms())
	assert.False(t, v.Raises(), "a verdict on a flagged window does not raise anomalies on normal records")
	assert.Equal(t, 1, c.get(c.skipped, SkipSampling))

	got := j.Lookup("pay", "T2", t0.Add(25*time.Second))
	require.NotNil(t, got)
	assert.Equal(t, "PoolExhausted", got.V.AnomalyType)
	assert.Nil(t, j.Lookup("pay", "T1", t0.Add(25*time.Second)))
	assert.Nil(t, j.Lookup("pay", "T2", t0.Add(2*time.Hour)), "verdicts expire in event time")

	// The same pattern later needs no question: its records carry the remembered verdict.
	window(j, "pay", 7, true)
	j.Advance(t0.Add(80 * time.Second))
	assert.Equal(t, 1, c.get(c.skipped, SkipKnown))
	assert.Equal(t, 1, c.nVerdicts())
	// Once the remembered verdict has expired (event time), the pattern's window is answered from
	// the cache, synchronously, without a call.
	window(j, "pay", 400, true)
	j.Advance(t0.Add(4010 * time.Second))
	require.Equal(t, 2, c.nVerdicts())
	assert.Equal(t, SourceCache, c.verdicts[1].Source)
	assert.Equal(t, 1, srv.Calls())
}

func TestSampledNormalWindowCanRaise(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(yes))
	c := newCounts()
	conf := cfg()
	conf.SampleNormal = 1
	j, err := New(conf, newClient(t, srv), nil, nil, c, c.onVerdict)
	require.NoError(t, err)
	j.Start()
	defer j.Stop()
	base := t0
	j.Add("pay", &llmprompt.Record{TemplateID: "T1", Template: "ok", Message: "ok", SeverityNumber: 9, Time: base})
	j.Add("pay", &llmprompt.Record{TemplateID: "T3", Template: "retry <*>", Message: "retry 3", SeverityNumber: 17, Time: base.Add(time.Second)})
	j.Advance(base.Add(10 * time.Second))
	require.Eventually(t, func() bool { return c.nVerdicts() == 1 }, 5*time.Second, time.Millisecond)
	v := c.verdicts[0]
	assert.False(t, v.Flagged)
	assert.True(t, v.Raises())
	assert.Equal(t, []string{"T3"}, v.Templates, "a raised anomaly applies to the window's error templates")
}

func TestSamplingRisesAfterAnAnomalyAndDecays(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(no))
	c := newCounts()
	conf := cfg()
	conf.SampleNormal = 0.001
	conf.QueueSize = 64
	j, err := New(conf, newClient(t, srv), nil, nil, c, nil)
	require.NoError(t, err)
	// Not started: questions stay queued; count what is decided.
	window(j, "pay", 0, true)
	window(j, "pay", 1, false) // rate 1: asked
	window(j, "pay", 2, false) // rate 0.5
	window(j, "pay", 3, false) // rate 0.25
	for k := 4; k < 40; k++ {
		window(j, "pay", k, false)
	}
	j.Advance(t0.Add(time.Hour))
	asked := len(j.queue)
	assert.GreaterOrEqual(t, asked, 2, "the flagged window and the next one are asked")
	assert.LessOrEqual(t, asked, 6, "the rate decays back to sample_normal")
	assert.Equal(t, 40-asked, c.get(c.skipped, SkipSampling)+c.get(c.skipped, SkipInFlight))

	// The rate decays in event time: a sparse service's next normal window, days after its
	// anomaly, is sampled at sample_normal.
	for i := range 20 {
		svc := fmt.Sprintf("sparse-%02d", i)
		window(j, svc, 0, true)
		window(j, svc, 20000+i, false)
	}
	j.Advance(t0.Add(300 * time.Hour))
	assert.Equal(t, asked+20, len(j.queue), "only the flagged windows are asked")
	j.Stop()
}

func TestSeverityAndIntervalLimitQuestions(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(yes))
	c := newCounts()
	conf := cfg()
	conf.MinSeverity = "Critical"
	conf.QueueSize = 64
	j, err := New(conf, newClient(t, srv), nil, nil, c, nil)
	require.NoError(t, err)
	window(j, "pay", 0, true) // a High finding
	j.Advance(t0.Add(10 * time.Second))
	assert.Equal(t, 1, c.get(c.skipped, SkipSeverity))
	assert.Empty(t, j.queue)

	conf = cfg()
	conf.MinInterval = time.Minute
	conf.QueueSize = 64
	c = newCounts()
	j, err = New(conf, newClient(t, srv), nil, nil, c, nil)
	require.NoError(t, err)
	add := func(k int, tmpl string) {
		j.Add("pay", &llmprompt.Record{TemplateID: tmpl, Template: tmpl, Message: tmpl, SeverityNumber: 17,
			Time: t0.Add(time.Duration(k) * 10 * time.Second), Detected: true, Type: "new_template", Severity: "High", Score: 0.9})
	}
	add(0, "A")
	add(2, "B") // 20 s later: within the interval
	add(7, "C") // 70 s later: asked
	j.Advance(t0.Add(time.Hour))
	assert.Len(t, j.queue, 2)
	assert.Equal(t, 1, c.get(c.skipped, SkipInterval))
	j.Stop()
}

func TestQueueFullIsCountedAndNeverBlocks(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Sequence(llmtest.Reply{Hang: true}))
	c := newCounts()
	conf := cfg()
	conf.QueueSize = 1
	j, err := New(conf, newClient(t, srv), nil, nil, c, c.onVerdict)
	require.NoError(t, err)
	j.Start()
	for i := range 20 {
		window(j, fmt.Sprintf("svc-%02d", i%10), i, true)
	}
	j.Advance(t0.Add(time.Hour))
	assert.Positive(t, c.get(c.skipped, SkipQueueFull))
	j.Stop() // cancels the hanging call
	assert.Zero(t, c.nVerdicts())
	assert.Positive(t, c.get(c.skipped, SkipShutdown)+c.get(c.results, ResultFailed))
}

func TestScreeningFiltersBeforeThePrimary(t *testing.T) {
	screen := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(`{"is_anomaly": false, "confidence": 0.9, "brief_reason": "normal"}`))
	primary := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(yes))
	c := newCounts()
	j, err := New(cfg(), newClient(t, primary), newClient(t, screen), nil, c, c.onVerdict)
	require.NoError(t, err)
	j.Start()
	window(j, "pay", 0, true)
	j.Advance(t0.Add(10 * time.Second))
	require.Eventually(t, func() bool { return c.get(c.results, ResultScreenedOut) == 1 }, 5*time.Second, time.Millisecond)
	j.Stop()
	assert.Equal(t, 1, screen.Calls())
	assert.Zero(t, primary.Calls(), "a confident negative screen stops the question")
}

func TestFailureLeavesNoVerdict(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(`not json at all`))
	c := newCounts()
	j, err := New(cfg(), newClient(t, srv), nil, nil, c, c.onVerdict)
	require.NoError(t, err)
	j.Start()
	window(j, "pay", 0, true)
	j.Advance(t0.Add(10 * time.Second))
	require.Eventually(t, func() bool { return c.get(c.results, ResultFailed) == 1 }, 5*time.Second, time.Millisecond)
	j.Stop()
	assert.Nil(t, j.Lookup("pay", "T2", t0.Add(11*time.Second)))
	assert.Zero(t, c.nVerdicts())
}

func TestBoundsAndValidation(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(yes))
	cl := newClient(t, srv)
	_, err := New(cfg(), nil, nil, nil, newCounts(), nil)
	require.Error(t, err)
	bad := cfg()
	bad.Window = 0
	_, err = New(bad, cl, nil, nil, newCounts(), nil)
	require.Error(t, err)

	conf := cfg()
	conf.MaxServices = 3
	conf.MaxPatterns = 2
	c := newCounts()
	j, err := New(conf, cl, nil, nil, c, nil)
	require.NoError(t, err)
	for i := range 10 {
		window(j, fmt.Sprintf("svc-%d", i), 0, false)
	}
	assert.LessOrEqual(t, j.OpenWindows(), 3, "open windows are bounded")
	for i := range 5 {
		j.apply(&Verdict{Service: "s", Templates: []string{fmt.Sprint(i)}, End: t0})
	}
	assert.Equal(t, 2, j.Patterns())
	assert.Equal(t, 3, c.evicted)
}

// timingScenario feeds one pattern's flagged windows far apart in event time: k=1; k=400, past
// the first question's verdict_ttl, with the same content (same cache key); k=1200, past the
// second's, with one more error template (a new key). settle runs after each window (it may
// wait for the answers or not). It returns the judge's counts.
func timingScenario(t *testing.T, srv *llmtest.Server, settle func(c *counts)) *counts {
	t.Helper()
	c := newCounts()
	j, err := New(cfg(), newClient(t, srv), nil, nil, c, c.onVerdict)
	require.NoError(t, err)
	j.Start()
	t.Cleanup(j.Stop)
	window(j, "pay", 1, true)
	j.Advance(t0.Add(20 * time.Second))
	settle(c)
	window(j, "pay", 400, true)
	j.Advance(t0.Add(4010 * time.Second))
	settle(c)
	window(j, "pay", 1200, true)
	j.Add("pay", &llmprompt.Record{TemplateID: "T5", Template: "retry <*>", Message: "retry 2", SeverityNumber: 17, Time: t0.Add(12007 * time.Second)})
	j.Advance(t0.Add(12010 * time.Second))
	settle(c)
	return c
}

func TestQuestionsDoNotDependOnAnswerTiming(t *testing.T) {
	// The model answers at once, and each answer arrives before the next window closes.
	prompt := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Static(yes))
	var windows int
	c1 := timingScenario(t, prompt, func(c *counts) {
		windows++
		require.Eventually(t, func() bool { return c.nVerdicts() >= windows }, 5*time.Second, time.Millisecond)
	})
	assert.Equal(t, 2, prompt.Calls(), "the second window is answered from the cache, the third has a new key")
	assert.Equal(t, 3, c1.nVerdicts())

	// The model holds every answer until the replay is over (a fast replay of old data): the
	// second window waits for the first question's answer, the third is asked all the same.
	gate := make(chan struct{})
	slow := llmtest.NewServer(t, llmtest.OpenAI, func(llmtest.Call) llmtest.Reply {
		<-gate
		return llmtest.Reply{Content: yes}
	})
	c2 := timingScenario(t, slow, func(*counts) {})
	close(gate)
	require.Eventually(t, func() bool { return c2.nVerdicts() == 3 }, 5*time.Second, time.Millisecond,
		"the window that waited for the same question gets its answer")
	assert.Equal(t, 2, slow.Calls(), "the same questions whether or not the answers have arrived")
	assert.Equal(t, 1, c2.get(c2.skipped, SkipInFlight))
	assert.Zero(t, c2.get(c2.skipped, SkipKnown))
}

func TestFailedQuestionIsAskedAgain(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.OpenAI, llmtest.Sequence(llmtest.Reply{Content: "not json"}, llmtest.Reply{Content: "still not json"}, llmtest.Reply{Content: yes}))
	c := newCounts()
	j, err := New(cfg(), newClient(t, srv), nil, nil, c, c.onVerdict)
	require.NoError(t, err)
	j.Start()
	defer j.Stop()
	window(j, "pay", 0, true)
	j.Advance(t0.Add(10 * time.Second))
	require.Eventually(t, func() bool { return c.get(c.results, ResultFailed) == 1 }, 5*time.Second, time.Millisecond)
	window(j, "pay", 3, true) // the same pattern a few windows later
	j.Advance(t0.Add(40 * time.Second))
	require.Eventually(t, func() bool { return c.nVerdicts() == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 3, srv.Calls(), "a failed question (a call and its repair) does not stand for later windows")
	assert.Zero(t, c.get(c.skipped, SkipKnown))
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package llmjudge decides which log windows are worth an LLM's judgement, asks in the
// background, and remembers the verdicts per template pattern so that later records of the same
// pattern carry them. It is pdata-free: the llm_anomaly processor feeds it analysed records in
// event-time order and reads verdicts back.
//
// Nothing here blocks the caller: windows close in event time (per service, fixed length), a
// cached verdict is applied at once, and a question that is not cached goes to a bounded queue
// served by a bounded number of workers. What cannot be asked is counted by reason. A verdict
// that arrives later is handed to OnVerdict (the processor turns it into a verdict record) and
// applies to the records of its patterns analysed after it arrived. Which windows are asked
// depends on the records and their event time only, not on when answers arrive, so a replay
// asks the same questions at any speed.
package llmjudge // import "github.com/otelcol-aiops/otelcol-aiops/internal/llmjudge"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmprompt"
)

// Sources of a verdict (anomaly.source on records and verdict records).
const (
	SourceLLM   = "llm"   // answered by the model for this window
	SourceCache = "cache" // the same pattern's answer, from the cache
)

// Reasons a window is not asked (the `reason` attribute of the skipped metric). Budget and rate
// skips are the client's outcomes (llm.OutcomeBudget, llm.OutcomeRate).
const (
	SkipSampling  = "sampling"   // a normal window outside the sample
	SkipQueueFull = "queue_full" // every worker busy and the queue full
	SkipInFlight  = "in_flight"  // the same question is already waiting or being asked; its answer will stand for this window
	SkipKnown     = "known"      // every flagged pattern was asked about within verdict_ttl (event time)
	SkipSeverity  = "severity"   // the window's findings are all below min_severity
	SkipInterval  = "interval"   // the service was asked less than min_interval ago (event time)
	SkipShutdown  = "shutdown"   // still queued when the component stopped
	SkipBudget    = "budget"     // money per day or tokens per minute spent
	SkipRate      = "rate"       // calls per minute spent
)

// Results of a question (the `result` attribute of the verdicts metric).
const (
	ResultAnomaly     = "anomaly"      // the model says anomalous
	ResultBenign      = "benign"       // the model says normal
	ResultScreenedOut = "screened_out" // the screening model said normal or was not confident
	ResultFailed      = "failed"       // no valid answer (timeout, errors, invalid JSON); statistical only
)

// Config of the judge.
type Config struct {
	// Window is the event-time length of a service's window (one question at most per window).
	Window time.Duration
	// SampleNormal is the fraction of windows without a statistical finding that are asked
	// anyway. After a flagged window a service's rate is 1, then it halves with every window
	// length of event time back to SampleNormal. The choice is a hash of service and window, so
	// replays agree.
	SampleNormal float64
	// MinConfidence is the confidence a verdict needs to raise an anomaly on records the
	// detectors left normal, or to mark their anomalies benign.
	MinConfidence float64
	// CanSuppress lets a confident benign verdict clear anomaly.detected (otherwise it is only
	// marked benign).
	CanSuppress bool
	// ScreenMinConfidence: a screening answer must say anomalous with at least this confidence
	// for the question to go on to the primary model.
	ScreenMinConfidence float64
	// MaxPatterns bounds the remembered verdicts and, apart, the marks of questions asked (each
	// per service and template); least recently used first out (counted).
	MaxPatterns int
	// VerdictTTL (event time): a verdict stops applying this long after its window ended.
	VerdictTTL time.Duration
	// MaxServices bounds the services with an open window; beyond it the least recent service's
	// window is closed early.
	MaxServices int
	// QueueSize and Workers bound the questions waiting and in flight.
	QueueSize int
	Workers   int
	// MinSeverity: a flagged window is asked only when one of its findings is at least this
	// severe (Low, Medium, High, Critical); "" asks about every finding.
	MinSeverity string
	// MinInterval (event time): a service is asked at most once per interval; windows in
	// between are counted (interval) and their patterns asked when they recur.
	MinInterval time.Duration
	// Limits of the window summaries.
	Limits llmprompt.Limits
}

// Counters receives the judge's counts (the component's telemetry). Calls come from the
// caller's goroutine and from the workers.
type Counters interface {
	Skipped(reason string)
	Result(result string)
	PatternsEvicted(n int)
}

// Verdict is one answer about one service window.
type Verdict struct {
	ID      string
	Service string
	Start   time.Time
	End     time.Time
	V       llmprompt.Verdict
	Source  string // SourceLLM or SourceCache
	Model   string
	// Flagged says whether the detectors had flagged the window.
	Flagged bool
	// Templates are the patterns the verdict applies to (template ids).
	Templates    []string
	InputTokens  int
	OutputTokens int
	Cost         float64
	// Confident says whether V.Confidence reached MinConfidence.
	Confident bool
}

// Raises reports whether the verdict raises anomalies on its patterns' records that the
// detectors left normal: only a verdict about a window the detectors did not flag (sampled)
// does; a verdict about a flagged window confirms or describes the detectors' findings and
// applies to the records they flag.
func (v *Verdict) Raises() bool { return v.Confident && v.V.IsAnomaly && !v.Flagged }

// Confirms reports whether the verdict confidently agrees with the detectors' findings.
func (v *Verdict) Confirms() bool { return v.Confident && v.V.IsAnomaly && v.Flagged }

// Benign reports whether the verdict marks its patterns normal.
func (v *Verdict) Benign() bool { return v.Confident && !v.V.IsAnomaly }

type svcWindow struct {
	service string
	k       int64 // window index: start = k * Window
	b       *llmprompt.WindowBuilder
	hot     int64  // window index of the last flagged window asked about, or math.MinInt64
	used    uint64 // recency for the MaxServices bound
	asked   int64  // window index of the last question (event time), or math.MinInt64
	skip    int    // normal records since the last one added (sampling of normal records)
}

// normalStride: of a service's normal records (neither flagged nor error level), one in
// normalStride is added to its window, standing for normalStride records. Counts in prompts
// are then approximate for normal templates and exact for flagged and error ones; the record
// path stays cheap whatever the model does.
const normalStride = 16

type job struct {
	w        llmprompt.Window
	key      string
	patterns []pattern // flagged patterns being asked about
}

// maxFollowers bounds the windows that wait for one question's answer (same cache key); more
// are still counted as in_flight but get no verdict of their own.
const maxFollowers = 8

// flight is a question waiting or being asked, and the later windows with the same key that its
// answer stands for.
type flight struct {
	followers []llmprompt.Window
}

// Judge is safe for one analysing goroutine (Add, Advance, Lookup) plus its own workers.
type Judge struct {
	cfg       Config
	primary   *llm.Client
	screening *llm.Client
	redact    func(string) string
	counters  Counters
	onVerdict func(*Verdict)

	// analysis goroutine only
	windows map[string]*svcWindow
	last    *svcWindow // the window of the previous Add (records come grouped by service)
	tick    uint64

	mu       sync.Mutex
	inflight map[string]*flight
	// asked holds, per flagged pattern, the end (event time) of the last window asked about it,
	// answered or not. Whether a window is worth a question depends on it and on event time
	// only, never on whether an answer has arrived yet, so that a replay asks the same
	// questions whatever the model's speed. A failed question clears its marks.
	asked    *lru.Cache[pattern, time.Time]
	patterns *lru.Cache[pattern, *Verdict]
	// remembered mirrors patterns.Len() without its lock, for the record path.
	remembered atomic.Int64

	queue  chan job
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ctx    context.Context
}

// New returns a judge. primary is required; screening may be nil. onVerdict (may be nil) is
// called from a worker for every answer that arrives after its window closed.
func New(cfg Config, primary, screening *llm.Client, redact func(string) string, counters Counters, onVerdict func(*Verdict)) (*Judge, error) {
	if primary == nil {
		return nil, errors.New("llmjudge: a primary model is required")
	}
	if cfg.Window <= 0 || cfg.QueueSize <= 0 || cfg.Workers <= 0 || cfg.MaxPatterns <= 0 || cfg.MaxServices <= 0 {
		return nil, errors.New("llmjudge: window, queue size, workers, max patterns and max services must be positive")
	}
	if redact == nil {
		redact = func(s string) string { return s }
	}
	j := &Judge{
		cfg: cfg, primary: primary, screening: screening, redact: redact, counters: counters,
		onVerdict: onVerdict,
		windows:   make(map[string]*svcWindow),
		inflight:  make(map[string]*flight),
		queue:     make(chan job, cfg.QueueSize),
	}
	var err error
	j.patterns, err = lru.NewWithEvict(cfg.MaxPatterns, func(pattern, *Verdict) { j.counters.PatternsEvicted(1) })
	if err != nil {
		return nil, err
	}
	j.asked, err = lru.NewWithEvict(cfg.MaxPatterns, func(pattern, time.Time) { j.counters.PatternsEvicted(1) })
	if err != nil {
		return nil, err
	}
	return j, nil
}

// Start starts the workers.
func (j *Judge) Start() {
	j.ctx, j.cancel = context.WithCancel(context.Background())
	for range j.cfg.Workers {
		j.wg.Add(1)
		go j.work()
	}
}

// Stop cancels the questions in flight, counts the queued ones and waits for the workers.
func (j *Judge) Stop() {
	if j.cancel == nil {
		return
	}
	j.cancel()
	j.wg.Wait()
	for {
		select {
		case jb := <-j.queue:
			j.done(jb, nil, false)
			j.counters.Skipped(SkipShutdown)
		default:
			return
		}
	}
}

// Add adds one analysed record of service to its window, closing the window first when the
// record belongs to a later one. Records of a service must come in event-time order.
func (j *Judge) Add(service string, r *llmprompt.Record) {
	k := eventtime.FloorDiv(r.Time.UnixNano(), int64(j.cfg.Window))
	sw := j.last
	if sw == nil || sw.service != service {
		sw = j.windows[service]
	}
	if sw == nil {
		sw = j.newWindow(service, k)
	} else if k > sw.k {
		j.close(sw)
		sw.k = k
		sw.skip = 0
	}
	j.last = sw
	j.tick++
	sw.used = j.tick
	if !r.Detected && r.SeverityNumber < errorSeverity {
		if sw.skip++; sw.skip%normalStride != 1 {
			return
		}
		r.Weight = normalStride
	}
	sw.b.Add(r)
}

// errorSeverity is the OpenTelemetry severity number of ERROR.
const errorSeverity = 17

func (j *Judge) newWindow(service string, k int64) *svcWindow {
	if len(j.windows) >= j.cfg.MaxServices {
		var oldest *svcWindow
		for _, w := range j.windows {
			if oldest == nil || w.used < oldest.used {
				oldest = w
			}
		}
		j.close(oldest)
		delete(j.windows, oldest.service)
		if j.last == oldest {
			j.last = nil
		}
	}
	sw := &svcWindow{service: service, k: k, b: llmprompt.NewWindowBuilder(service, j.cfg.Limits, j.redact), hot: math.MinInt64, asked: math.MinInt64}
	j.windows[service] = sw
	return sw
}

// Advance closes every window that ends at or before frontier (event time), in service order.
func (j *Judge) Advance(frontier time.Time) {
	f := frontier.UnixNano()
	var due []*svcWindow
	for _, sw := range j.windows {
		if sw.b.Len() > 0 && (sw.k+1)*int64(j.cfg.Window) <= f {
			due = append(due, sw)
		}
	}
	slices.SortFunc(due, func(a, b *svcWindow) int { return strings.Compare(a.service, b.service) })
	for _, sw := range due {
		j.close(sw)
	}
}

// close decides about one finished window and resets it.
func (j *Judge) close(sw *svcWindow) {
	if sw.b.Len() == 0 {
		return
	}
	w := sw.b.Window()
	sw.b.Reset(sw.service)
	flagged := w.Flagged()
	if flagged && !j.severe(w) {
		j.counters.Skipped(SkipSeverity)
		return
	}
	if !flagged {
		if sampleUnit(sw.service, sw.k) >= j.sampleRate(sw) {
			j.counters.Skipped(SkipSampling)
			return
		}
	}
	var patterns []pattern
	if flagged {
		// A question about a pattern stands for its windows for VerdictTTL (event time): a
		// window whose flagged patterns have all been asked about within it needs no question.
		novel := false
		j.mu.Lock()
		for _, t := range w.Templates {
			if !t.Flagged {
				continue
			}
			pk := pattern{sw.service, t.ID}
			patterns = append(patterns, pk)
			if at, ok := j.asked.Peek(pk); !ok || w.End.Sub(at) > j.cfg.VerdictTTL {
				novel = true
			}
		}
		j.mu.Unlock()
		if !novel && len(patterns) > 0 {
			j.counters.Skipped(SkipKnown)
			return
		}
	}
	if interval := int64(j.cfg.MinInterval / j.cfg.Window); sw.asked != math.MinInt64 && sw.k-sw.asked < max(interval, 1) {
		j.counters.Skipped(SkipInterval)
		return
	}
	if flagged && j.cfg.SampleNormal > 0 {
		// After a new anomaly every window of the service is sampled, then the rate decays.
		sw.hot = sw.k
	}
	key := llmprompt.CacheKey(w, j.primary.Model())
	if res, ok := j.primary.Cached(taskVerdict, key); ok {
		if v, err := llmprompt.ParseVerdict(res.Raw); err == nil {
			sw.asked = sw.k
			j.mark(patterns, w.End)
			j.answer(w, v, res, SourceCache)
			return
		}
	}
	j.mu.Lock()
	if f, busy := j.inflight[key]; busy {
		// The same question is waiting or being asked: its answer stands for this window too,
		// as the cache would once it arrives.
		if len(f.followers) < maxFollowers {
			f.followers = append(f.followers, w)
		}
		j.markLocked(patterns, w.End)
		j.mu.Unlock()
		sw.asked = sw.k
		j.counters.Skipped(SkipInFlight)
		return
	}
	j.inflight[key] = &flight{}
	j.markLocked(patterns, w.End)
	j.mu.Unlock()
	jb := job{w: w, key: key, patterns: patterns}
	select {
	case j.queue <- jb:
		sw.asked = sw.k
	default:
		j.done(jb, nil, false)
		j.counters.Skipped(SkipQueueFull)
	}
}

// sampleRate is the share of sw's normal windows that is asked about: 1 for the window after
// a flagged window that was asked about, then half as much for each window after it (event
// time, so a sparse service's window days later is sampled at sample_normal), never below
// sample_normal.
func (j *Judge) sampleRate(sw *svcWindow) float64 {
	if sw.hot == math.MinInt64 || sw.k <= sw.hot {
		return j.cfg.SampleNormal
	}
	d := sw.k - sw.hot - 1
	if d >= 64 {
		return j.cfg.SampleNormal
	}
	return max(j.cfg.SampleNormal, math.Ldexp(1, -int(d)))
}

// mark records that patterns were asked about in a window ending at end.
func (j *Judge) mark(patterns []pattern, end time.Time) {
	j.mu.Lock()
	j.markLocked(patterns, end)
	j.mu.Unlock()
}

func (j *Judge) markLocked(patterns []pattern, end time.Time) {
	for _, pk := range patterns {
		j.asked.Add(pk, end)
	}
}

// answer applies a verdict about w and hands it on when it says something about the window.
func (j *Judge) answer(w llmprompt.Window, v llmprompt.Verdict, res llm.Result, src string) {
	vd := j.verdict(w, v, res, src)
	j.apply(vd)
	if j.onVerdict != nil && (vd.V.IsAnomaly || vd.Flagged) && (j.ctx == nil || j.ctx.Err() == nil) {
		j.onVerdict(vd)
	}
}

const (
	taskVerdict = "verdict"
	taskScreen  = "screen"
)

// done ends a question. With a verdict, the windows that waited for it get it as the cache
// would have given it. Unanswered (failure, queue full, shutdown), its patterns' marks are
// cleared so that a later window may ask again; screened out, they stand.
func (j *Judge) done(jb job, answer *llmprompt.Verdict, answered bool) {
	j.mu.Lock()
	f := j.inflight[jb.key]
	delete(j.inflight, jb.key)
	if !answered {
		j.unmarkLocked(jb.w)
		if f != nil {
			for _, w := range f.followers {
				j.unmarkLocked(w)
			}
		}
	}
	j.mu.Unlock()
	if answer == nil || f == nil {
		return
	}
	for _, w := range f.followers {
		j.answer(w, *answer, llm.Result{Model: j.primary.Model()}, SourceCache)
	}
}

// unmarkLocked clears the marks that a question about w set, unless a later one replaced them.
func (j *Judge) unmarkLocked(w llmprompt.Window) {
	for _, t := range w.Templates {
		pk := pattern{w.Service, t.ID}
		if at, ok := j.asked.Peek(pk); t.Flagged && ok && at.Equal(w.End) {
			j.asked.Remove(pk)
		}
	}
}

func (j *Judge) work() {
	defer j.wg.Done()
	for {
		select {
		case <-j.ctx.Done():
			return
		case jb := <-j.queue:
			v, answered := j.ask(jb)
			j.done(jb, v, answered)
		}
	}
}

// ask runs one question: the screening model first when there is one, then the primary. It
// returns the primary's verdict, if any, and whether the models answered (a verdict, or the
// screening model's no).
func (j *Judge) ask(jb job) (*llmprompt.Verdict, bool) {
	if j.screening != nil {
		sys, user := llmprompt.ScreenPrompt(jb.w)
		res, err := j.screening.Do(j.ctx, llm.Request{Task: taskScreen, System: sys, Prompt: user, CacheKey: jb.key, Validate: llmprompt.ValidateScreen, MaxOutputTokens: 128})
		if err != nil {
			if !j.failed(err) {
				return nil, false
			}
			// A failed screening does not stop a flagged window from being asked.
			if !jb.w.Flagged() {
				return nil, false
			}
		} else if s, err := llmprompt.ParseScreen(res.Raw); err != nil || !s.IsAnomaly || s.Confidence < j.cfg.ScreenMinConfidence {
			j.counters.Result(ResultScreenedOut)
			return nil, true
		}
	}
	sys, user := llmprompt.VerdictPrompt(jb.w)
	res, err := j.primary.Do(j.ctx, llm.Request{Task: taskVerdict, System: sys, Prompt: user, CacheKey: jb.key, Validate: llmprompt.ValidateVerdict})
	if err != nil {
		j.failed(err)
		return nil, false
	}
	v, err := llmprompt.ParseVerdict(res.Raw)
	if err != nil {
		j.counters.Result(ResultFailed)
		return nil, false
	}
	src := SourceLLM
	if res.Outcome == llm.OutcomeCached {
		src = SourceCache
	}
	vd := j.verdict(jb.w, v, res, src)
	j.apply(vd)
	if j.onVerdict != nil && j.ctx.Err() == nil {
		j.onVerdict(vd)
	}
	return &v, true
}

// failed counts a failed call; it reports false when the call was skipped (budget, rate,
// shutdown) rather than failed.
func (j *Judge) failed(err error) bool {
	var le *llm.Error
	if errors.As(err, &le) {
		switch le.Outcome {
		case llm.OutcomeBudget:
			j.counters.Skipped(SkipBudget)
			return false
		case llm.OutcomeRate:
			j.counters.Skipped(SkipRate)
			return false
		case llm.OutcomeCanceled:
			j.counters.Skipped(SkipShutdown)
			return false
		}
	}
	j.counters.Result(ResultFailed)
	return true
}

func (j *Judge) verdict(w llmprompt.Window, v llmprompt.Verdict, res llm.Result, src string) *Verdict {
	vd := &Verdict{
		Service: w.Service, Start: w.Start, End: w.End, V: v, Source: src, Model: res.Model,
		Flagged: w.Flagged(), InputTokens: res.InputTokens, OutputTokens: res.OutputTokens, Cost: res.Cost,
		Confident: v.Confidence >= j.cfg.MinConfidence,
	}
	if vd.Model == "" {
		vd.Model = j.primary.Model()
	}
	for _, t := range w.Templates {
		if t.Flagged {
			vd.Templates = append(vd.Templates, t.ID)
		}
	}
	if len(vd.Templates) == 0 && v.IsAnomaly {
		for _, t := range w.Templates {
			if t.Errors > 0 {
				vd.Templates = append(vd.Templates, t.ID)
			}
		}
	}
	slices.Sort(vd.Templates)
	vd.ID = verdictID(w.Service, w.Start, src)
	if v.IsAnomaly {
		j.counters.Result(ResultAnomaly)
	} else {
		j.counters.Result(ResultBenign)
	}
	return vd
}

// apply remembers a verdict for its patterns.
func (j *Judge) apply(vd *Verdict) {
	for _, id := range vd.Templates {
		j.patterns.Add(pattern{vd.Service, id}, vd)
	}
	j.remembered.Store(int64(j.patterns.Len()))
}

// severe reports whether one of w's findings reaches MinSeverity.
func (j *Judge) severe(w llmprompt.Window) bool {
	if j.cfg.MinSeverity == "" {
		return true
	}
	want := llmprompt.SeverityRank(j.cfg.MinSeverity)
	for _, f := range w.Findings {
		if llmprompt.SeverityRank(f.Severity) >= want {
			return true
		}
	}
	return false
}

// Lookup returns the verdict remembered for a service's template, if it still applies at
// event time t.
func (j *Judge) Lookup(service, templateID string, t time.Time) *Verdict {
	if templateID == "" || j.remembered.Load() == 0 {
		return nil
	}
	vd, ok := j.patterns.Get(pattern{service, templateID})
	if !ok || t.Sub(vd.End) > j.cfg.VerdictTTL {
		return nil
	}
	return vd
}

// Patterns is the number of remembered patterns.
func (j *Judge) Patterns() int { return j.patterns.Len() }

// OpenWindows is the number of services with a window being filled.
func (j *Judge) OpenWindows() int { return len(j.windows) }

// pattern is a service's template.
type pattern struct{ service, templateID string }

func verdictID(service string, start time.Time, src string) string {
	return fmt.Sprintf("%016x", hash(service, start.UnixNano(), src))
}

// sampleUnit maps (service, window) to [0, 1) deterministically.
func sampleUnit(service string, k int64) float64 {
	return float64(hash(service, k, "")>>11) / float64(1<<53)
}

// hash is FNV-1a of a service, a number and a suffix.
func hash(service string, n int64, suffix string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(service))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(suffix))
	return h.Sum64()
}

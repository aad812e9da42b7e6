// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor // import "github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

// Flush triggers, used as the `reason` attribute of the flushes metric.
const (
	flushEventTime = "event_time"
	flushIdle      = "idle"
	flushPressure  = "pressure"
	flushShutdown  = "shutdown"
)

// snapshotKey is the storage key of the analyzer snapshot. The payload carries its own format
// version, so the key stays the same across versions.
const snapshotKey = "analyzer"

// attrOriginalTimestamp keeps a record's own timestamp when the processor re-stamped it.
const attrOriginalTimestamp = contract.AttrOriginalTimestamp

// releaseStep is the event-time granularity of releases: records are analysed when the release
// frontier crosses a multiple of it. Analysis order never depends on it, only how often work runs.
const releaseStep = int64(time.Second)

// logsProcessor holds records until event time has passed them by allowed_lateness, then analyses
// each service's records in event-time order (so arrival order and batching never change a
// verdict), annotates them and forwards them.
type logsProcessor struct {
	cfg    *Config
	id     component.ID
	set    component.TelemetrySettings
	logger *zap.Logger
	next   consumer.Logs
	tb     *metadata.TelemetryBuilder
	clock  clockwork.Clock

	// mu guards everything below up to fwdMu: ingestion, release and analysis run under it.
	mu        sync.Mutex
	evclock   *eventtime.Clock
	chunks    []*chunk // held, in arrival order
	seq       uint64
	held      int
	released  int64 // release frontier: every record at or before it has been analysed
	lastInput time.Time
	stopped   bool
	an        *analyzer.Analyzer
	ann       *annotator
	lastStats analyzer.Stats
	lastClock eventtime.Stats
	bySvc     [][]item // records to analyse in this release, per service id
	svcIDs    map[string]int
	svcNames  []string

	// fwdMu orders forwarding: it is taken before mu is released (hand over hand), so outputs
	// leave in the order of their releases.
	fwdMu sync.Mutex

	templatesLive atomic.Int64
	servicesLive  atomic.Int64

	// llm is the optional LLM stage, set in Start.
	llm *llmStage

	client       storage.Client
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	shutdownOnce sync.Once
}

// chunk is the records of one resource from one request, kept as a plog.Logs with one
// ResourceLogs. Records keep their place in it; minT/maxT are their event times' bounds and done
// the frontier up to which they have been analysed.
type chunk struct {
	seq        uint64
	service    string
	logs       plog.Logs
	count      int
	minT, maxT int64
	done       int64
}

// item is one record to analyse in a release.
type item struct {
	t  int64
	lr plog.LogRecord
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Logs, clock clockwork.Clock) (*logsProcessor, error) {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	an, err := analyzer.New(cfg.analyzerConfig())
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	ec := eventtime.DefaultConfig()
	ec.MaxSkew = cfg.MaxClockSkew
	ec.MaxSources = max(cfg.MaxServices, 1) * 4
	p := &logsProcessor{
		cfg:      cfg,
		id:       set.ID,
		set:      set.TelemetrySettings,
		logger:   set.Logger,
		next:     next,
		tb:       tb,
		clock:    clock,
		evclock:  eventtime.New(ec),
		released: math.MinInt64,
		an:       an,
		ann:      newAnnotator(cfg),
		svcIDs:   make(map[string]int),
	}
	if err := tb.RegisterProcessorLlmAnomalyTemplatesLiveCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(p.templatesLive.Load())
		return nil
	}); err != nil {
		return nil, err
	}
	if err := tb.RegisterProcessorLlmAnomalyServicesLiveCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(p.servicesLive.Load())
		return nil
	}); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *logsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// Start loads the template snapshot (when storage is configured) and starts the idle loop.
func (p *logsProcessor) Start(ctx context.Context, host component.Host) error {
	if p.cfg.Storage != nil {
		client, err := storageutil.Client(ctx, host, *p.cfg.Storage, component.KindProcessor, p.id, "templates")
		if err != nil {
			return err
		}
		p.client = client
		p.load(ctx)
	}
	if err := p.startLLM(ctx, host, p.set); err != nil {
		return err
	}
	p.mu.Lock()
	p.lastInput = p.clock.Now()
	p.mu.Unlock()
	loopCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go p.loop(loopCtx)
	p.logger.Info("Started llm_anomaly processor",
		zap.Duration("allowed_lateness", p.cfg.AllowedLateness),
		zap.Duration("timeout", p.cfg.Timeout),
		zap.Bool("storage", p.client != nil))
	return nil
}

// Shutdown stops the loop, analyses and forwards every held record, saves the snapshot and
// releases the storage client. It is safe without Start and safe to call twice.
func (p *logsProcessor) Shutdown(ctx context.Context) error {
	var err error
	p.shutdownOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
			p.wg.Wait()
		}
		p.mu.Lock()
		p.stopped = true
		out, n, nch := p.releaseLocked(ctx, math.MaxInt64)
		p.forwardLocked(ctx, out, n, nch, flushShutdown)
		if p.llm != nil {
			err = p.llm.shutdown(ctx)
		}
		if p.client != nil {
			p.save(ctx)
			err = errors.Join(err, p.client.Close(ctx))
		}
		p.tb.Shutdown()
		p.logger.Info("Stopped llm_anomaly processor")
	})
	return err
}

func (p *logsProcessor) loop(ctx context.Context) {
	defer p.wg.Done()
	// Ticking at half the timeout keeps the worst-case idle wait at 1.5 x timeout.
	idleTicker := p.clock.NewTicker(p.cfg.Timeout / 2)
	defer idleTicker.Stop()
	var snapC <-chan time.Time
	if p.client != nil {
		snapTicker := p.clock.NewTicker(p.cfg.SnapshotInterval)
		defer snapTicker.Stop()
		snapC = snapTicker.Chan()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-idleTicker.Chan():
			p.releaseIdle()
		case <-snapC:
			p.save(ctx)
		}
	}
}

// releaseIdle analyses and forwards everything held once no record has arrived for timeout (wall
// clock): the input has stopped, so no earlier record is expected. Event time moves to the
// latest record seen, so records that arrive later than that are late.
func (p *logsProcessor) releaseIdle() {
	ctx := context.Background()
	p.mu.Lock()
	if p.held == 0 || p.clock.Since(p.lastInput) < p.cfg.Timeout {
		p.mu.Unlock()
		return
	}
	p.evclock.AdvanceTo(p.evclock.Max())
	out, n, nch := p.releaseLocked(ctx, p.evclock.Max())
	p.forwardLocked(ctx, out, n, nch, flushIdle)
}

// ConsumeLogs takes the records in, stamps their event time, and analyses and forwards the
// records that event time has passed by allowed_lateness. When more than max_held_records are
// held, everything held is analysed and forwarded at once on the caller's goroutine
// (back-pressure): nothing is dropped.
func (p *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	n := ld.LogRecordCount()
	if n == 0 {
		return nil
	}
	p.tb.ProcessorLlmAnomalyRecordsIn.Add(ctx, int64(n))
	p.tb.ProcessorLlmAnomalyRecordsHeld.Add(ctx, int64(n))

	p.mu.Lock()
	now := p.clock.Now()
	wall := now.UnixNano()
	frontier := p.released
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		if countRecords(rl) == 0 {
			continue
		}
		p.seq++
		ch := &chunk{seq: p.seq, service: serviceName(rl.Resource()), logs: plog.NewLogs(), minT: math.MaxInt64, maxT: math.MinInt64, done: math.MinInt64}
		dst := ch.logs.ResourceLogs().AppendEmpty()
		rl.Resource().CopyTo(dst.Resource())
		dst.SetSchemaUrl(rl.SchemaUrl())
		rl.ScopeLogs().MoveAndAppendTo(dst.ScopeLogs())
		p.stampChunk(ch, wall, frontier)
		p.evclock.Observe(serviceKey(ch.service), ch.maxT)
		p.chunks = append(p.chunks, ch)
		p.held += ch.count
	}
	p.lastInput = now

	reason := flushEventTime
	target := p.frontierLocked()
	if p.held > p.cfg.MaxHeldRecords || p.stopped {
		reason = flushPressure
		if p.stopped {
			reason = flushShutdown
		}
		target = math.MaxInt64
	}
	if target <= p.released && !p.stopped {
		p.mu.Unlock()
		return nil
	}
	out, cnt, nch := p.releaseLocked(ctx, target)
	p.forwardLocked(ctx, out, cnt, nch, reason)
	return nil
}

// frontierLocked is the release frontier that event time allows: the clock's time minus
// allowed_lateness, floored to releaseStep.
func (p *logsProcessor) frontierLocked() int64 {
	now := p.evclock.Now()
	if now == 0 {
		return math.MinInt64
	}
	f := now - int64(p.cfg.AllowedLateness)
	return f - mod(f, releaseStep)
}

func mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}

// stampChunk gives every record of a new chunk its event time (re-stamping impossible and skewed
// timestamps, which are counted) and sets the chunk's bounds. Records at or before the release
// frontier arrived late: they are counted and analysed at the next release.
func (p *logsProcessor) stampChunk(ch *chunk, wall, frontier int64) {
	sls := ch.logs.ResourceLogs().At(0).ScopeLogs()
	late := 0
	for i := 0; i < sls.Len(); i++ {
		lrs := sls.At(i).LogRecords()
		for j := 0; j < lrs.Len(); j++ {
			lr := lrs.At(j)
			ts, obs := int64(lr.Timestamp()), int64(lr.ObservedTimestamp())
			t := ts
			if t == 0 {
				t = obs
			}
			eff, fix := p.evclock.Stamp(t, obs, wall)
			if fix != eventtime.FixNone {
				p.ann.bad[fixReason(fix)]++
				if ts != 0 {
					lr.Attributes().PutInt(attrOriginalTimestamp, ts)
				}
				lr.SetTimestamp(pcommon.Timestamp(eff))
			}
			ch.minT = min(ch.minT, eff)
			ch.maxT = max(ch.maxT, eff)
			if eff <= frontier {
				late++
			}
			ch.count++
		}
	}
	p.ann.bad[badLate] += int64(late)
}

func fixReason(f eventtime.Fix) int {
	if f == eventtime.FixAhead {
		return badClockAhead
	}
	return badImpossibleTimestamp
}

// eventTime is the event time of a record that went through stampChunk.
func eventTime(lr plog.LogRecord) int64 {
	if ts := lr.Timestamp(); ts != 0 {
		return int64(ts)
	}
	return int64(lr.ObservedTimestamp())
}

// releaseLocked analyses, in event-time order per service, every held record at or before target
// that was not analysed yet, and moves the chunks that are complete into the returned logs.
// A chunk whose remaining records lie further than allowed_lateness ahead of target (a record
// stamped far ahead) gives up its analysed records now, so one skewed record does not hold back
// its neighbours. p.mu must be held.
func (p *logsProcessor) releaseLocked(ctx context.Context, target int64) (out plog.Logs, records, nChunks int) {
	out = plog.NewLogs()
	if target > p.released {
		p.released = target
	}
	clear(p.svcIDs)
	p.svcNames = p.svcNames[:0]
	for _, ch := range p.chunks {
		if ch.minT > target || ch.done >= target {
			continue
		}
		id, ok := p.svcIDs[ch.service]
		if !ok {
			id = len(p.svcNames)
			p.svcIDs[ch.service] = id
			p.svcNames = append(p.svcNames, ch.service)
			if id == len(p.bySvc) {
				p.bySvc = append(p.bySvc, nil)
			}
			p.bySvc[id] = p.bySvc[id][:0]
		}
		items := p.bySvc[id]
		sls := ch.logs.ResourceLogs().At(0).ScopeLogs()
		for i := 0; i < sls.Len(); i++ {
			lrs := sls.At(i).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				lr := lrs.At(j)
				if t := eventTime(lr); t > ch.done && t <= target {
					items = append(items, item{t: t, lr: lr})
				}
			}
		}
		p.bySvc[id] = items
		ch.done = target
	}
	p.analyzeLocked(ctx)
	if p.llm != nil {
		p.llm.advance(p.released)
	}

	keep := p.chunks[:0]
	for _, ch := range p.chunks {
		switch {
		case ch.maxT <= target:
			ch.logs.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
			records += ch.count
			nChunks++
		case ch.minT <= target && ch.maxT-target > int64(p.cfg.AllowedLateness):
			records += splitChunk(ch, target, out)
			nChunks++
			keep = append(keep, ch)
		default:
			keep = append(keep, ch)
		}
	}
	clear(p.chunks[len(keep):])
	p.chunks = keep
	p.held -= records
	return out, records, nChunks
}

// splitChunk moves the records of ch at or before target into a new ResourceLogs of out and
// returns how many it moved.
func splitChunk(ch *chunk, target int64, out plog.Logs) int {
	src := ch.logs.ResourceLogs().At(0)
	dst := out.ResourceLogs().AppendEmpty()
	src.Resource().CopyTo(dst.Resource())
	dst.SetSchemaUrl(src.SchemaUrl())
	moved := 0
	newMin := int64(math.MaxInt64)
	sls := src.ScopeLogs()
	for i := 0; i < sls.Len(); i++ {
		sl := sls.At(i)
		var dsl plog.ScopeLogs
		have := false
		sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
			t := eventTime(lr)
			if t > target {
				newMin = min(newMin, t)
				return false
			}
			if !have {
				dsl = dst.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(dsl.Scope())
				dsl.SetSchemaUrl(sl.SchemaUrl())
				have = true
			}
			lr.MoveTo(dsl.LogRecords().AppendEmpty())
			moved++
			return true
		})
	}
	sls.RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
	ch.count -= moved
	ch.minT = newMin
	return moved
}

// analyzeLocked runs the analyzer over the collected records, service by service in name order,
// each service's records sorted by event time and content (so equal timestamps have one order
// whatever the arrival order). Records usually arrive sorted; sorting is skipped then.
func (p *logsProcessor) analyzeLocked(ctx context.Context) {
	if len(p.svcNames) == 0 {
		return
	}
	start := time.Now()
	order := make([]int, len(p.svcNames))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(p.svcNames[a], p.svcNames[b]) })
	n := 0
	for _, id := range order {
		items := p.bySvc[id]
		if len(items) == 0 {
			continue
		}
		if !slices.IsSortedFunc(items, compareItems) {
			slices.SortFunc(items, compareItems)
		}
		p.ann.begin(p.svcNames[id])
		for i := range items {
			p.ann.annotate(p.an, items[i].lr)
		}
		n += len(items)
		clear(items) // do not keep the records alive
	}
	if n == 0 {
		return
	}
	p.ann.report(ctx, p.tb)
	p.recordStats(ctx)
	p.tb.ProcessorLlmAnomalyBatchDuration.Record(ctx, time.Since(start).Seconds())
}

func compareItems(a, b item) int {
	if a.t != b.t {
		return cmp.Compare(a.t, b.t)
	}
	return compareRecords(a.lr, b.lr)
}

// compareRecords orders records with equal event times by content: severity, body, trace and
// span id, then attributes.
func compareRecords(a, b plog.LogRecord) int {
	if c := cmp.Compare(a.SeverityNumber(), b.SeverityNumber()); c != 0 {
		return c
	}
	if c := strings.Compare(bodyKey(a.Body()), bodyKey(b.Body())); c != 0 {
		return c
	}
	at, bt := a.TraceID(), b.TraceID()
	if c := bytes.Compare(at[:], bt[:]); c != 0 {
		return c
	}
	as, bs := a.SpanID(), b.SpanID()
	if c := bytes.Compare(as[:], bs[:]); c != 0 {
		return c
	}
	if c := strings.Compare(a.SeverityText(), b.SeverityText()); c != 0 {
		return c
	}
	return cmp.Compare(attrsHash(a.Attributes()), attrsHash(b.Attributes()))
}

func bodyKey(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}

func attrsHash(m pcommon.Map) uint64 {
	var sum uint64
	for k, v := range m.All() {
		h := fnv.New64a()
		_, _ = h.Write([]byte(k))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(v.AsString()))
		sum += h.Sum64() // order-insensitive
	}
	return sum
}

// forwardLocked hands the released records to the next consumer. It is called with p.mu held and
// releases it after taking fwdMu, so outputs leave in release order while ingestion resumes.
// Errors from the next consumer are logged and counted: records are not retried here (retries
// belong to exporters).
func (p *logsProcessor) forwardLocked(ctx context.Context, out plog.Logs, records, chunks int, reason string) {
	p.recordClockStats(ctx)
	if records == 0 {
		p.mu.Unlock()
		return
	}
	p.fwdMu.Lock()
	p.mu.Unlock()
	defer p.fwdMu.Unlock()
	p.tb.ProcessorLlmAnomalyRecordsHeld.Add(ctx, -int64(records))
	p.tb.ProcessorLlmAnomalyFlushes.Add(ctx, int64(chunks), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
	if err := p.next.ConsumeLogs(ctx, out); err != nil {
		p.tb.ProcessorLlmAnomalyRecordsDropped.Add(ctx, int64(records), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "downstream_error"))))
		p.logger.Warn("Failed to forward analysed logs", zap.Error(err), zap.Int("records", records))
		return
	}
	p.tb.ProcessorLlmAnomalyRecordsOut.Add(ctx, int64(records))
}

// recordClockStats counts the clock's evicted sources. p.mu is held.
func (p *logsProcessor) recordClockStats(ctx context.Context) {
	st := p.evclock.Stats()
	if d := st.SourcesEvicted - p.lastClock.SourcesEvicted; d > 0 {
		p.ann.bad[badClockSourcesEvicted] += int64(d)
	}
	p.lastClock = st
	p.ann.report(ctx, p.tb)
}

// recordStats turns the analyzer's cumulative counters into telemetry deltas. p.mu is held.
func (p *logsProcessor) recordStats(ctx context.Context) {
	st := p.an.Stats()
	prev := p.lastStats
	p.lastStats = st
	if d := st.Miner.Created - prev.Miner.Created; d > 0 {
		p.tb.ProcessorLlmAnomalyTemplatesCreated.Add(ctx, int64(d))
	}
	addReason(ctx, p.tb.ProcessorLlmAnomalyTemplatesEvicted, "lru", st.Miner.Evicted-prev.Miner.Evicted)
	addReason(ctx, p.tb.ProcessorLlmAnomalyTemplatesEvicted, "service_evicted", st.TemplatesDroppedWithServices-prev.TemplatesDroppedWithServices)
	addReason(ctx, p.tb.ProcessorLlmAnomalyRecordsMalformed, "line_too_long", st.Miner.Truncated-prev.Miner.Truncated)
	addReason(ctx, p.tb.ProcessorLlmAnomalyRecordsMalformed, "too_many_tokens", st.Miner.TokensCapped-prev.Miner.TokensCapped)
	addReason(ctx, p.tb.ProcessorLlmAnomalyRecordsMalformed, "template_churn_blocked", st.Miner.ChurnBlocked-prev.Miner.ChurnBlocked)
	addReason(ctx, p.tb.ProcessorLlmAnomalyRecordsMalformed, "late", st.Late-prev.Late)
	p.templatesLive.Store(int64(st.TemplatesLive))
	p.servicesLive.Store(int64(st.Services))
}

func addReason(ctx context.Context, c metric.Int64Counter, reason string, delta uint64) {
	if delta == 0 {
		return
	}
	c.Add(ctx, int64(delta), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
}

func countRecords(rl plog.ResourceLogs) int {
	n := 0
	sls := rl.ScopeLogs()
	for i := 0; i < sls.Len(); i++ {
		n += sls.At(i).LogRecords().Len()
	}
	return n
}

// load restores the analyzer from the storage snapshot. A missing snapshot is normal; an
// unreadable or corrupt one is logged and counted, and the processor starts fresh.
func (p *logsProcessor) load(ctx context.Context) {
	data, err := p.client.Get(ctx, snapshotKey)
	if err != nil {
		p.storageError(ctx, "load")
		p.logger.Warn("Cannot read template snapshot, starting fresh", zap.Error(err))
		return
	}
	if data == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.an.UnmarshalBinary(data); err != nil {
		p.storageError(ctx, "load")
		p.logger.Warn("Ignoring corrupt or unknown template snapshot, starting fresh", zap.Error(err))
		return
	}
	p.lastStats = p.an.Stats()
	p.templatesLive.Store(int64(p.lastStats.TemplatesLive))
	p.servicesLive.Store(int64(p.lastStats.Services))
	p.logger.Info("Restored template snapshot", zap.Int("templates", p.lastStats.TemplatesLive), zap.Int("services", p.lastStats.Services))
}

func (p *logsProcessor) save(ctx context.Context) {
	p.mu.Lock()
	data, err := p.an.MarshalBinary()
	p.mu.Unlock()
	if err == nil {
		err = p.client.Set(ctx, snapshotKey, data)
	}
	if err != nil {
		p.storageError(ctx, "save")
		p.logger.Warn("Cannot save template snapshot", zap.Error(err))
	}
}

func (p *logsProcessor) storageError(ctx context.Context, op string) {
	p.tb.ProcessorLlmAnomalyStorageErrors.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", op))))
}

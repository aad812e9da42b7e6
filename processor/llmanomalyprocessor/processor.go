// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor // import "github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

// Flush triggers, used as the `reason` attribute of the flushes metric.
const (
	flushSize     = "size"
	flushTimeout  = "timeout"
	flushPressure = "pressure"
	flushShutdown = "shutdown"
)

// snapshotKey is the storage key of the analyzer snapshot. The payload carries its own format
// version, so the key stays the same across versions.
const snapshotKey = "analyzer"

// logsProcessor holds records per resource, analyses each batch when it is full or old enough,
// annotates the records and forwards them in arrival order.
type logsProcessor struct {
	cfg    *Config
	id     component.ID
	logger *zap.Logger
	next   consumer.Logs
	tb     *metadata.TelemetryBuilder
	clock  clockwork.Clock

	// mu guards batches, seq, held and stopped. Ingestion only ever takes mu.
	mu      sync.Mutex
	batches map[resourceKey]*batch
	seq     uint64
	held    int
	stopped bool

	// emitMu serialises analysis and forwarding, so batches of one resource leave in order.
	// It guards an, ann and lastStats.
	emitMu    sync.Mutex
	an        *analyzer.Analyzer
	ann       *annotator
	lastStats analyzer.Stats

	templatesLive atomic.Int64
	servicesLive  atomic.Int64

	client       storage.Client
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	shutdownOnce sync.Once
}

// batch is the pending records of one resource, kept as a plog.Logs with one ResourceLogs.
type batch struct {
	seq   uint64
	logs  plog.Logs
	count int
	born  time.Time
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
	p := &logsProcessor{
		cfg:     cfg,
		id:      set.ID,
		logger:  set.Logger,
		next:    next,
		tb:      tb,
		clock:   clock,
		batches: make(map[resourceKey]*batch),
		an:      an,
		ann:     newAnnotator(cfg),
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

// Start loads the template snapshot (when storage is configured) and starts the flush loop.
func (p *logsProcessor) Start(ctx context.Context, host component.Host) error {
	if p.cfg.Storage != nil {
		client, err := storageutil.Client(ctx, host, *p.cfg.Storage, component.KindProcessor, p.id, "templates")
		if err != nil {
			return err
		}
		p.client = client
		p.load(ctx)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go p.loop(loopCtx)
	p.logger.Info("Started llm_anomaly processor",
		zap.Int("max_records", p.cfg.MaxRecords),
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
		ready := p.takeAllLocked()
		p.mu.Unlock()
		p.flush(ctx, ready, flushShutdown)
		if p.client != nil {
			p.save(ctx)
			err = p.client.Close(ctx)
		}
		p.tb.Shutdown()
		p.logger.Info("Stopped llm_anomaly processor")
	})
	return err
}

func (p *logsProcessor) loop(ctx context.Context) {
	defer p.wg.Done()
	// Ticking at half the timeout keeps the worst-case wait at 1.5 x timeout.
	flushTicker := p.clock.NewTicker(p.cfg.Timeout / 2)
	defer flushTicker.Stop()
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
		case <-flushTicker.Chan():
			p.flushExpired()
		case <-snapC:
			p.save(ctx)
		}
	}
}

// ConsumeLogs moves the records into their resource's batch and returns. Batches that reach
// max_records, or every batch when max_held_records is exceeded, are analysed and forwarded on
// the caller's goroutine.
func (p *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	n := ld.LogRecordCount()
	if n == 0 {
		return nil
	}
	p.tb.ProcessorLlmAnomalyRecordsIn.Add(ctx, int64(n))
	p.tb.ProcessorLlmAnomalyRecordsHeld.Add(ctx, int64(n))

	var ready []*batch
	reason := flushSize
	p.mu.Lock()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		cnt := countRecords(rl)
		if cnt == 0 {
			continue
		}
		key := newResourceKey(rl)
		b, ok := p.batches[key]
		if !ok {
			p.seq++
			b = &batch{seq: p.seq, logs: plog.NewLogs(), born: p.clock.Now()}
			dst := b.logs.ResourceLogs().AppendEmpty()
			rl.Resource().CopyTo(dst.Resource())
			dst.SetSchemaUrl(rl.SchemaUrl())
			p.batches[key] = b
		}
		rl.ScopeLogs().MoveAndAppendTo(b.logs.ResourceLogs().At(0).ScopeLogs())
		b.count += cnt
		p.held += cnt
		if b.count >= p.cfg.MaxRecords || p.stopped {
			delete(p.batches, key)
			p.held -= b.count
			ready = append(ready, b)
		}
	}
	if p.held > p.cfg.MaxHeldRecords {
		reason = flushPressure
		ready = append(ready, p.takeAllLocked()...)
	}
	p.mu.Unlock()

	p.flush(ctx, ready, reason)
	return nil
}

// takeAllLocked removes every batch, oldest first. p.mu must be held.
func (p *logsProcessor) takeAllLocked() []*batch {
	ready := make([]*batch, 0, len(p.batches))
	for key, b := range p.batches {
		ready = append(ready, b)
		delete(p.batches, key)
	}
	p.held = 0
	slices.SortFunc(ready, func(a, b *batch) int { return compareSeq(a.seq, b.seq) })
	return ready
}

func (p *logsProcessor) flushExpired() {
	now := p.clock.Now()
	var ready []*batch
	p.mu.Lock()
	for key, b := range p.batches {
		if now.Sub(b.born) >= p.cfg.Timeout {
			ready = append(ready, b)
			delete(p.batches, key)
			p.held -= b.count
		}
	}
	p.mu.Unlock()
	slices.SortFunc(ready, func(a, b *batch) int { return compareSeq(a.seq, b.seq) })
	p.flush(context.Background(), ready, flushTimeout)
}

// flush analyses, annotates and forwards the batches in the given order, in one request.
// Errors from the next consumer are logged and counted: the records are not retried here
// (retries belong to exporters).
func (p *logsProcessor) flush(ctx context.Context, ready []*batch, reason string) {
	if len(ready) == 0 {
		return
	}
	p.emitMu.Lock()
	defer p.emitMu.Unlock()

	out := plog.NewLogs()
	total := 0
	for _, b := range ready {
		start := time.Now()
		p.analyze(ctx, b)
		p.tb.ProcessorLlmAnomalyBatchDuration.Record(ctx, time.Since(start).Seconds())
		b.logs.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
		total += b.count
	}
	p.recordStats(ctx)
	p.tb.ProcessorLlmAnomalyRecordsHeld.Add(ctx, -int64(total))
	p.tb.ProcessorLlmAnomalyFlushes.Add(ctx, int64(len(ready)), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))

	if err := p.next.ConsumeLogs(ctx, out); err != nil {
		p.tb.ProcessorLlmAnomalyRecordsDropped.Add(ctx, int64(total), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "downstream_error"))))
		p.logger.Warn("Failed to forward analysed logs", zap.Error(err), zap.Int("records", total))
		return
	}
	p.tb.ProcessorLlmAnomalyRecordsOut.Add(ctx, int64(total))
}

// analyze runs the statistical stage over one batch and annotates its records. p.emitMu is held.
func (p *logsProcessor) analyze(ctx context.Context, b *batch) {
	rl := b.logs.ResourceLogs().At(0)
	service := serviceName(rl.Resource())
	p.ann.begin(service)
	sls := rl.ScopeLogs()
	for i := 0; i < sls.Len(); i++ {
		lrs := sls.At(i).LogRecords()
		for j := 0; j < lrs.Len(); j++ {
			p.ann.annotate(p.an, lrs.At(j))
		}
	}
	p.ann.report(ctx, p.tb)
}

// recordStats turns the analyzer's cumulative counters into telemetry deltas. p.emitMu is held.
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

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
	p.emitMu.Lock()
	defer p.emitMu.Unlock()
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
	p.emitMu.Lock()
	data, err := p.an.MarshalBinary()
	p.emitMu.Unlock()
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

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph // import "github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph"

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graphpdata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"
)

type clock = clockwork.Clock

// snapshotKey is the storage key of the graph snapshot (the payload carries its own version).
const snapshotKey = "graph"

// maxTick bounds the wall-clock period of the loop that advances an idle input's event time
// (windows closed by data leave in the call that brought the data).
const maxTick = time.Second

// maxPooledBuffer is the largest conversion buffer (in items) kept for reuse.
const maxPooledBuffer = 1 << 16

// graphConnector owns one graph store shared by every pipeline that uses its connector ID.
type graphConnector struct {
	cfg      *Config
	id       component.ID
	identity string // service.name of the output
	instance string // service.instance.id of the output
	logger   *zap.Logger
	tb       *metadata.TelemetryBuilder
	clock    clock

	// Next consumers, set by the factory before Start and read-only afterwards.
	edgeLogs    consumer.Logs    // traces -> logs: where edge records go
	passThrough consumer.Logs    // logs -> logs: where input records go (and edges without edgeLogs)
	metricsNext consumer.Metrics // traces -> metrics
	// tracesFromLogsInstance is true when a traces -> logs instance exists: the traces -> metrics
	// instance then ignores its input, which is the same data (the collector feeds both).
	tracesFromLogsInstance atomic.Bool

	// mu guards store, lastInput, lastTick, lastStats and progress.
	mu sync.Mutex
	// emitMu orders the emission of closed windows: it is taken before mu is released, so
	// windows leave in the order the store closed them whichever goroutine closed them.
	emitMu    sync.Mutex
	store     *graph.Store
	lastInput time.Time
	lastTick  time.Time
	lastStats graph.Stats
	progress  int64 // the store's ClosedUpTo last announced in a progress record

	spanBufs sync.Pool // *[]graph.Span
	logBufs  sync.Pool // *[]graph.LogRef

	pending atomic.Int64
	edges   atomic.Int64
	ticks   atomic.Uint64 // completed ticks of the flush loop (tests wait on it)

	lastMetrics time.Time // loop goroutine only (and Shutdown after the loop stopped)

	client       storage.Client
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	shutdownOnce sync.Once
}

func newConnector(set connector.Settings, cfg *Config, clk clock) (*graphConnector, error) {
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	st, err := graph.New(cfg.graphConfig())
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	c := &graphConnector{
		cfg:      cfg,
		id:       set.ID,
		identity: set.ID.String(),
		instance: instanceID(cfg.InstanceID),
		logger:   set.Logger,
		tb:       tb,
		clock:    clk,
		store:    st,
	}
	c.spanBufs.New = func() any { b := make([]graph.Span, 0, 1024); return &b }
	c.logBufs.New = func() any { b := make([]graph.LogRef, 0, 1024); return &b }
	if err := tb.RegisterConnectorLogs2graphEdgesLiveCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(c.edges.Load())
		return nil
	}); err != nil {
		return nil, err
	}
	if err := tb.RegisterConnectorLogs2graphPendingSpansCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(c.pending.Load())
		return nil
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *graphConnector) setEdgeLogs(next consumer.Logs) {
	c.edgeLogs = next
	c.tracesFromLogsInstance.Store(true)
	c.store.SpanClock() // a traces input: spans move event time, log records only join them
}

func (c *graphConnector) setPassThrough(next consumer.Logs) { c.passThrough = next }

func (c *graphConnector) setMetrics(next consumer.Metrics) {
	c.metricsNext = next
	c.store.SpanClock()
}

// edgeOutput is where edge and snapshot records go: the traces -> logs consumer, else the
// logs -> logs one (a logs-only deployment).
func (c *graphConnector) edgeOutput() consumer.Logs {
	if c.edgeLogs != nil {
		return c.edgeLogs
	}
	return c.passThrough
}

// Start loads the graph from storage (when configured) and starts the flush loop.
func (c *graphConnector) Start(ctx context.Context, host component.Host) error {
	if c.cfg.Storage != nil {
		client, err := storageutil.Client(ctx, host, *c.cfg.Storage, component.KindConnector, c.id, snapshotKey)
		if err != nil {
			return err
		}
		c.client = client
		c.load(ctx)
	}
	now := c.clock.Now()
	c.mu.Lock()
	c.lastInput, c.lastTick = now, now
	c.mu.Unlock()
	c.lastMetrics = now
	loopCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go c.loop(loopCtx) //nolint:gosec // G118: component.Component.Start: background work uses its own context, cancelled in Shutdown
	c.logger.Info("Started logs2graph connector",
		zap.Duration("flush_interval", c.cfg.FlushInterval),
		zap.Bool("storage", c.client != nil),
		zap.Bool("edge_records", c.edgeOutput() != nil),
		zap.Bool("metrics", c.metricsNext != nil))
	return nil
}

// Shutdown stops the loop, closes every window (expiring all pending spans), emits the
// remaining edge records and metrics, saves the graph and releases the storage client. It is
// safe without Start and safe to call twice.
func (c *graphConnector) Shutdown(ctx context.Context) error {
	var err error
	c.shutdownOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
			c.wg.Wait()
		}
		c.mu.Lock()
		windows := c.store.FlushAll()
		c.emitLocked(ctx, windows)
		c.emitMetrics(ctx)
		c.recordStats(ctx)
		if c.client != nil {
			c.save(ctx)
			err = c.client.Close(ctx)
		}
		c.tb.Shutdown()
		c.logger.Info("Stopped logs2graph connector")
	})
	return err
}

func (c *graphConnector) tickInterval() time.Duration {
	return max(min(c.cfg.FlushInterval/2, maxTick), time.Millisecond)
}

func (c *graphConnector) loop(ctx context.Context) {
	defer c.wg.Done()
	tick := c.clock.NewTicker(c.tickInterval())
	defer tick.Stop()
	var snapC, persistC <-chan time.Time
	if c.cfg.SnapshotInterval > 0 {
		t := c.clock.NewTicker(c.cfg.SnapshotInterval)
		defer t.Stop()
		snapC = t.Chan()
	}
	if c.client != nil {
		t := c.clock.NewTicker(c.cfg.PersistInterval)
		defer t.Stop()
		persistC = t.Chan()
	}
	bg := context.Background()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.Chan():
			c.tick(bg)
		case <-snapC:
			c.emitSnapshot(bg)
		case <-persistC:
			c.save(bg)
		}
	}
}

// tick advances event time when the input is idle, emits the windows the watermark has closed
// (and a progress record when the closed-up-to time advanced), and emits the metrics every
// flush_interval of wall clock.
func (c *graphConnector) tick(ctx context.Context) {
	now := c.clock.Now()
	c.mu.Lock()
	if c.cfg.IdleAdvance > 0 && now.Sub(c.lastInput) >= c.cfg.IdleAdvance {
		if wm := c.store.Watermark(); wm > 0 {
			if d := now.Sub(c.lastTick); d > 0 {
				c.store.Advance(wm + int64(d)) // the clock's AdvanceTo: the services' progress is kept
			}
		}
	}
	c.lastTick = now
	c.emitLocked(ctx, c.store.Flush())
	if now.Sub(c.lastMetrics) >= c.cfg.FlushInterval {
		c.lastMetrics = now
		c.emitMetrics(ctx)
	}
	c.recordStats(ctx)
	c.ticks.Add(1)
}

// progressLocked returns the closed-up-to time to announce in a progress record, or 0 when it
// has not advanced since the last one. c.mu must be held.
func (c *graphConnector) progressLocked() int64 {
	cu := c.store.ClosedUpTo()
	if cu <= c.progress {
		return 0
	}
	c.progress = cu
	return cu
}

// emitLocked emits the closed windows, and a progress record when the closed-up-to time
// advanced, then releases c.mu. It is called with c.mu held: emitMu is taken before c.mu is
// released, so emissions leave in the order the store produced them. Emitting in the call that
// closed the windows (not on a later tick) keeps the edge stream in step with the data: at
// replay speed a consumer sees the edges of a window right after the data that closed it.
func (c *graphConnector) emitLocked(ctx context.Context, windows []graph.Window) {
	progress := c.progressLocked()
	c.updateGaugesLocked()
	if len(windows) == 0 && progress == 0 {
		c.mu.Unlock()
		return
	}
	c.emitMu.Lock()
	c.mu.Unlock()
	defer c.emitMu.Unlock()
	c.emitWindows(ctx, windows, progress)
}

// consumeTraces adds the spans to the graph under one lock, as one batch: timestamps are
// re-stamped against the wall clock, every span is added, then event time advances.
func (c *graphConnector) consumeTraces(ctx context.Context, td ptrace.Traces) error {
	n := td.SpanCount()
	if n == 0 {
		return nil
	}
	c.tb.ConnectorLogs2graphSpansIn.Add(ctx, int64(n))
	now := c.clock.Now()
	bp := c.spanBufs.Get().(*[]graph.Span)
	buf := graphpdata.AppendSpans((*bp)[:0], td, 0)

	c.mu.Lock()
	c.store.StampSpans(buf, now.UnixNano())
	c.store.AddSpans(buf)
	c.lastInput = now
	windows := c.store.Flush()
	c.emitLocked(ctx, windows)

	clear(buf) // do not keep the request's strings alive
	if cap(buf) <= maxPooledBuffer {
		*bp = buf[:0]
		c.spanBufs.Put(bp)
	}
	return nil
}

// consumeLogs adds the records to the graph under one lock, then passes them through unchanged.
func (c *graphConnector) consumeLogs(ctx context.Context, ld plog.Logs) error {
	n := ld.LogRecordCount()
	if n > 0 {
		c.tb.ConnectorLogs2graphLogRecordsIn.Add(ctx, int64(n))
		now := c.clock.Now()
		bp := c.logBufs.Get().(*[]graph.LogRef)
		buf := graphpdata.AppendLogRefs((*bp)[:0], ld, 0)

		c.mu.Lock()
		c.store.StampLogs(buf, now.UnixNano())
		c.store.AddLogs(buf)
		c.lastInput = now
		c.emitLocked(ctx, c.store.Flush())

		clear(buf)
		if cap(buf) <= maxPooledBuffer {
			*bp = buf[:0]
			c.logBufs.Put(bp)
		}
	}
	if c.passThrough == nil {
		return nil
	}
	return c.passThrough.ConsumeLogs(ctx, ld)
}

// updateGaugesLocked refreshes the gauge values. c.mu must be held.
func (c *graphConnector) updateGaugesLocked() {
	st := c.store.Stats()
	c.pending.Store(int64(st.Pending))
	c.edges.Store(int64(st.Edges))
}

func (c *graphConnector) observed() pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(c.clock.Now())
}

// emitWindows emits one edge record per edge of the closed windows, then, when progress is
// not 0, one progress record.
func (c *graphConnector) emitWindows(ctx context.Context, windows []graph.Window, progress int64) {
	next := c.edgeOutput()
	if next == nil {
		return
	}
	ld, n := windowsToLogs(c.identity, c.instance, windows, progress, c.cfg.FlushInterval, c.observed())
	c.emitLogs(ctx, next, ld, n)
}

func (c *graphConnector) emitSnapshot(ctx context.Context) {
	next := c.edgeOutput()
	if next == nil {
		return
	}
	c.mu.Lock()
	edges := c.store.Snapshot()
	wm := c.store.Watermark()
	c.mu.Unlock()
	if len(edges) == 0 {
		return
	}
	ld, n := snapshotToLogs(c.identity, c.instance, edges, wm, c.observed())
	c.emitLogs(ctx, next, ld, n)
}

func (c *graphConnector) emitLogs(ctx context.Context, next consumer.Logs, ld plog.Logs, n int) {
	if n == 0 {
		return
	}
	if err := next.ConsumeLogs(ctx, ld); err != nil {
		c.tb.ConnectorLogs2graphDropped.Add(ctx, int64(n), reasonAttr("downstream_error"))
		c.logger.Warn("Failed to emit edge records", zap.Error(err), zap.Int("records", n))
		return
	}
	c.tb.ConnectorLogs2graphRecordsEmitted.Add(ctx, int64(n))
}

func (c *graphConnector) emitMetrics(ctx context.Context) {
	if c.metricsNext == nil {
		return
	}
	c.mu.Lock()
	edges := c.store.Snapshot()
	c.mu.Unlock()
	md, points := snapshotToMetrics(c.identity, c.instance, edges, c.observed())
	if points == 0 {
		return
	}
	if err := c.metricsNext.ConsumeMetrics(ctx, md); err != nil {
		c.tb.ConnectorLogs2graphDropped.Add(ctx, int64(points), reasonAttr("downstream_error"))
		c.logger.Warn("Failed to emit service graph metrics", zap.Error(err), zap.Int("data_points", points))
	}
}

// recordStats turns the store's cumulative counters into telemetry deltas. It runs on the loop
// goroutine, or in Shutdown after the loop has stopped.
func (c *graphConnector) recordStats(ctx context.Context) {
	c.mu.Lock()
	st := c.store.Stats()
	prev := c.lastStats
	c.lastStats = st
	c.mu.Unlock()
	if d := st.Pairs + st.Inferred - prev.Pairs - prev.Inferred; d > 0 {
		c.tb.ConnectorLogs2graphPairs.Add(ctx, int64(d))
	}
	if d := st.UnpairedExpired - prev.UnpairedExpired; d > 0 {
		c.tb.ConnectorLogs2graphUnpairedExpired.Add(ctx, int64(d))
	}
	for r := range graph.NumDropReasons {
		if d := st.Dropped[r] - prev.Dropped[r]; d > 0 {
			c.tb.ConnectorLogs2graphDropped.Add(ctx, int64(d), reasonAttr(r.String()))
		}
	}
	for f := range graph.NumNameFields {
		if d := st.Truncated[f] - prev.Truncated[f]; d > 0 {
			c.tb.ConnectorLogs2graphNamesTruncated.Add(ctx, int64(d),
				metric.WithAttributeSet(attribute.NewSet(attribute.String("field", f.String()))))
		}
	}
	if d := st.TimeFixedImpossible - prev.TimeFixedImpossible; d > 0 {
		c.tb.ConnectorLogs2graphTimestampsFixed.Add(ctx, int64(d), reasonAttr(eventtime.FixImpossible.String()))
	}
	if d := st.TimeFixedAhead - prev.TimeFixedAhead; d > 0 {
		c.tb.ConnectorLogs2graphTimestampsFixed.Add(ctx, int64(d), reasonAttr(eventtime.FixAhead.String()))
	}
}

func reasonAttr(reason string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason)))
}

// load restores the graph from storage. A missing snapshot is normal; an unreadable or corrupt
// one is logged and counted, and the connector starts with an empty graph.
func (c *graphConnector) load(ctx context.Context) {
	data, err := c.client.Get(ctx, snapshotKey)
	if err != nil {
		c.storageError(ctx, "load")
		c.logger.Warn("Cannot read graph snapshot, starting fresh", zap.Error(err))
		return
	}
	if data == nil {
		return
	}
	c.mu.Lock()
	discarded, err := c.store.Restore(data, c.clock.Now().UnixNano())
	st := c.store.Stats()
	c.lastStats = st
	c.progress = c.store.ClosedUpTo()
	c.updateGaugesLocked()
	c.mu.Unlock()
	if err != nil {
		c.storageError(ctx, "load")
		c.logger.Warn("Ignoring corrupt or unknown graph snapshot, starting fresh", zap.Error(err))
		return
	}
	if discarded {
		c.logger.Warn("Graph snapshot has an implausible event time (ahead of the wall clock by more than max_clock_skew): edges restored, event time not",
			zap.Duration("max_clock_skew", c.cfg.MaxClockSkew))
	}
	c.logger.Info("Restored graph snapshot", zap.Int("edges", st.Edges), zap.Int("nodes", st.Nodes),
		zap.Time("event_time", time.Unix(0, st.Watermark).UTC()))
}

func (c *graphConnector) save(ctx context.Context) {
	c.mu.Lock()
	data, err := c.store.MarshalBinary()
	c.mu.Unlock()
	if err == nil {
		err = c.client.Set(ctx, snapshotKey, data)
	}
	if err != nil {
		c.storageError(ctx, "save")
		c.logger.Warn("Cannot save graph snapshot", zap.Error(err))
	}
}

func (c *graphConnector) storageError(ctx context.Context, op string) {
	c.tb.ConnectorLogs2graphStorageErrors.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", op))))
}

// ConsumeTraces feeds the graph. The traces -> metrics instance ignores its input when a
// traces -> logs instance of the same connector ID exists, since the collector gives both the
// same data.
func (t *tracesConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if t.metricsOnly && t.c.tracesFromLogsInstance.Load() {
		return nil
	}
	return t.c.consumeTraces(ctx, td)
}

// ConsumeLogs feeds the graph and passes the records through unchanged.
func (l *logsConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return l.c.consumeLogs(ctx, ld)
}

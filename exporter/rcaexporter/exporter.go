// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"
)

// kbKey is the storage key of the engine snapshot: open incidents and the knowledge base (the
// payload carries its format and version; the name is kept from the knowledge-base-only format).
const kbKey = "knowledge_base"

// resendEventName marks the queued request that makes the Alertmanager sink re-send the
// firing alerts of open incidents. It carries no incident: the sink posts its current state
// when the request is delivered, so a late or retried re-send is never stale.
const resendEventName = "rca.alertmanager.resend"

// rcaExporter has two stages. ConsumeLogs feeds anomalies and edges to the incident engine,
// which never fails, so upstream retries can never count evidence twice. The incidents that
// changed are then handed, as one log record each (JSON body), to an exporterhelper sender
// whose queue and retries only ever repeat deliveries, never ingestion.
type rcaExporter struct {
	cfg    *Config
	id     component.ID
	logger *zap.Logger
	tb     *metadata.TelemetryBuilder
	clock  clockwork.Clock
	set    component.TelemetrySettings

	mu              sync.Mutex // guards engine, seq, evclock, verdicts, edgeBuf and the last* counters
	engine          *rca.Engine
	evclock         *eventtime.Clock
	seq             *sequencer
	metrics         *metricsInput
	lastInput       time.Time
	lastStats       rca.Stats
	lastSeq         [3]uint64
	lastShares      uint64
	lastUnconfirmed uint64
	lastClock       eventtime.Stats
	verdicts        *verdictStore // recent LLM verdicts of the processor (verdicts.go)
	lastVerdicts    uint64
	edgeBuf         []edgeAnomaly // edge anomalies derived since the last batch, for the ask index

	sender exporter.Logs
	multi  *sink.Multi
	am     *sink.Alertmanager // nil unless the alertmanager sink is configured
	api    *apiServer         // nil unless http is configured (api.go)
	ask    *askIndex          // nil unless http is configured (ask.go)
	open   atomic.Int64

	// llm is the optional LLM stage (llm.go), nil without an llm section. redact cleans what is
	// shown to a model or held by the ask index; with an llm section it also cleans the log lines
	// and templates of anomalies before the engine sees them (redactEvidence), so that incidents
	// carry no secrets either.
	llm            *llmStage
	redact         func(string) string
	redactEvidence bool

	client       storage.Client
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	shutdownOnce sync.Once
}

func newExporter(ctx context.Context, set exporter.Settings, cfg *Config, clock clockwork.Clock) (*rcaExporter, error) {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	engine, err := rca.New(cfg.engineConfig())
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	ec := eventtime.DefaultConfig()
	ec.MaxSkew = cfg.MaxClockSkew
	e := &rcaExporter{
		cfg: cfg, id: set.ID, logger: set.Logger, tb: tb, clock: clock, engine: engine, evclock: eventtime.New(ec),
		set: set.TelemetrySettings, verdicts: newVerdictStore(maxVerdicts), redact: identity,
	}
	if cfg.HTTP.HasValue() {
		e.ask = newAskIndex(cfg.Ask)
		engine.ObserveEdgeAnomalies(func(a rca.Anomaly, caller string) {
			if len(e.edgeBuf) < maxEdgeBuf {
				e.edgeBuf = append(e.edgeBuf, edgeAnomaly{a: a, caller: caller})
			}
		})
	}
	e.seq = newSequencer(engine, e.evclock, cfg.AllowedLateness, cfg.IdleTimeout, cfg.MaxPendingEvidence)
	if e.metrics, err = newMetricsInput(); err != nil {
		return nil, err
	}
	e.seq.metrics = e.metrics
	e.multi, err = sink.Build(&cfg.Sinks, set.TelemetrySettings, sink.Options{
		MaxDelivered: sink.DefaultMaxDelivered,
		Events:       sink.Events{Dropped: e.sinkDropped, StorageError: e.sinkStorageError},
		Retry:        e.retryPolicy(),
	})
	if err != nil {
		return nil, err
	}
	for _, s := range e.multi.Sinks() {
		if am, ok := s.(*sink.Alertmanager); ok {
			e.am = am
		}
	}
	e.sender, err = exporterhelper.NewLogs(ctx, set, cfg, e.deliver,
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(cfg.TimeoutConfig),
		exporterhelper.WithRetry(helperRetryConfig(cfg.RetryConfig)),
		exporterhelper.WithQueue(cfg.QueueConfig),
		exporterhelper.WithStart(e.startWithAPI),
		exporterhelper.WithShutdown(e.shutdown),
	)
	if err != nil {
		return nil, err
	}
	if err := tb.RegisterExporterRcaIncidentsOpenCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(e.open.Load())
		return nil
	}); err != nil {
		return nil, err
	}
	e.api = newAPIServer(e, set.TelemetrySettings)
	return e, nil
}

// retryPolicy is retry_on_failure as the sinks' give-up rule: the sink package, not
// exporterhelper, decides when a failing sink is given up, so that every incident version given
// up is counted by sink and reason (deliver).
func (e *rcaExporter) retryPolicy() sink.RetryPolicy {
	return sink.RetryPolicy{Disabled: !e.cfg.RetryConfig.Enabled, MaxElapsedTime: e.cfg.RetryConfig.MaxElapsedTime}
}

// helperRetryConfig is retry_on_failure for exporterhelper: the backoff as configured, without
// max_elapsed_time, which deliver enforces per sink (retryPolicy) by returning a permanent error.
// Were exporterhelper to stop on its own, the versions it gives up would go uncounted.
func helperRetryConfig(c configretry.BackOffConfig) configretry.BackOffConfig {
	c.MaxElapsedTime = 0
	return c
}

// maxEdgeBuf bounds the edge anomalies waiting to be indexed between two batches.
const maxEdgeBuf = 10_000

// takeEdgesLocked returns the edge anomalies derived since the last call.
func (e *rcaExporter) takeEdgesLocked() []edgeAnomaly {
	out := e.edgeBuf
	e.edgeBuf = nil
	return out
}

func (*rcaExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start starts the sender (and through it the sinks), loads the knowledge base and starts the
// idle-advance and Alertmanager re-send loops.
func (e *rcaExporter) Start(ctx context.Context, host component.Host) error {
	return e.sender.Start(ctx, host)
}

func (e *rcaExporter) start(ctx context.Context, host component.Host) error {
	var restored []incident.Incident // open incidents restored from storage
	if e.cfg.Storage != nil {
		client, err := storageutil.Client(ctx, host, *e.cfg.Storage, component.KindExporter, e.id, "incidents")
		if err != nil {
			return err
		}
		e.client = client
		e.loadState(ctx)
		e.multi.SetStore(client)
		e.mu.Lock()
		restored = e.engine.OpenIncidentList()
		e.mu.Unlock()
		if e.am != nil {
			// open incidents restored from storage keep their alerts refreshed
			for i := range restored {
				e.am.Restore(&restored[i])
			}
		}
	}
	if err := e.startLLM(ctx, host, e.set); err != nil {
		return err
	}
	if e.llm != nil && e.llm.narr != nil {
		// the narratives of restored incidents are not asked again
		e.llm.narr.restore(restored)
	}
	if err := e.multi.Start(ctx, host); err != nil {
		e.llm.stopWorkers()
		_ = e.llm.close()
		e.llm = nil
		return err
	}
	e.mu.Lock()
	e.lastInput = e.clock.Now()
	e.mu.Unlock()
	loopCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if e.cfg.IdleAdvance > 0 {
		e.wg.Go(func() { e.idleLoop(loopCtx) })
	}
	if e.client != nil && e.cfg.SnapshotInterval > 0 {
		e.wg.Go(func() { e.every(loopCtx, e.cfg.SnapshotInterval, func() { e.saveState(context.Background()) }) })
	}
	if e.am != nil && e.am.ResendInterval() > 0 {
		e.wg.Go(func() { e.resendLoop(loopCtx, e.am.ResendInterval()) })
	}
	e.logger.Info("Started rca exporter", zap.Int("sinks", len(e.multi.Sinks())), zap.Bool("storage", e.client != nil))
	return nil
}

// Shutdown stops the loops, applies the evidence still waiting for event time and forwards what
// it changes, then the sender drains its queue to the sinks, then sinks and storage are
// released. Safe without Start and safe to call twice.
func (e *rcaExporter) Shutdown(ctx context.Context) error {
	var err error
	e.shutdownOnce.Do(func() {
		// The API stops first: its requests forward through the sender; then the narratives
		// (questions in flight are cancelled; their incidents stay statistical).
		apiErr := e.api.shutdown(ctx)
		e.llm.stopWorkers()
		if e.cancel != nil {
			e.cancel()
			e.wg.Wait()
			e.mu.Lock()
			changed := e.seq.drain()
			e.recordStatsLocked(ctx)
			e.mu.Unlock()
			e.forward(ctx, changed)
		}
		err = errors.Join(apiErr, e.sender.Shutdown(ctx), e.llm.close())
		e.tb.Shutdown()
	})
	return err
}

func (e *rcaExporter) shutdown(ctx context.Context) error {
	// exporterhelper has drained the queue without retries: what still waits for a retry is
	// lost, unless the queue is persistent (then the requests are retried after a restart).
	if !e.cfg.QueueConfig.HasValue() || e.cfg.QueueConfig.Get().StorageID == nil {
		for name, n := range e.multi.Abandon() {
			e.sinkGaveUp(ctx, name, sink.ReasonShutdown, n, nil)
		}
	}
	var errs []error
	errs = append(errs, e.multi.Shutdown(ctx))
	if e.client != nil {
		e.saveState(ctx)
		errs = append(errs, e.client.Close(ctx))
	}
	e.logger.Info("Stopped rca exporter")
	return errors.Join(errs...)
}

// every calls fn on each tick of a clock ticker until ctx is cancelled.
func (e *rcaExporter) every(ctx context.Context, d time.Duration, fn func()) {
	tick := e.clock.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.Chan():
			fn()
		}
	}
}

// idleLoop moves event time on while no input arrives (everything buffered is applied and event
// time follows the wall clock), so that the last evidence is used and quiet incidents resolve.
func (e *rcaExporter) idleLoop(ctx context.Context) {
	e.every(ctx, max(e.cfg.IdleAdvance/4, time.Second), func() {
		e.mu.Lock()
		idle := e.clock.Since(e.lastInput)
		var changed []incident.Incident
		if idle >= e.cfg.IdleAdvance {
			changed = e.seq.idle(idle)
			e.lastInput = e.clock.Now()
		}
		e.recordStatsLocked(ctx)
		edges, wm := e.takeEdgesLocked(), e.engine.Watermark()
		e.mu.Unlock()
		e.indexBatch(&batchInput{}, edges, wm)
		e.forward(ctx, changed)
	})
}

// resendLoop asks the Alertmanager sink, through the sending queue (so retries apply), to
// re-send the firing alerts of open incidents every interval of wall-clock time: Alertmanager
// resolves alerts on its own when they are not re-sent within its resolve_timeout.
func (e *rcaExporter) resendLoop(ctx context.Context, d time.Duration) {
	e.every(ctx, d, func() { e.enqueueResend(ctx) })
}

func (e *rcaExporter) enqueueResend(ctx context.Context) {
	if e.am.OpenIncidents() == 0 {
		return
	}
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(resendEventName)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(e.clock.Now()))
	// Wall clock, like exporterhelper's backoff: retries of the re-send stop max_elapsed_time
	// after it was queued (deliver).
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	// Without a sending queue this waits for the delivery and its retries; Shutdown cancels ctx
	// to end them, which is not a drop.
	if err := e.sender.ConsumeLogs(ctx, ld); err != nil && ctx.Err() == nil {
		e.tb.ExporterRcaDropped.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "resend_failed"))))
		e.logger.Warn("Failed to re-send open incidents to Alertmanager", zap.Error(err))
	}
}

// ConsumeLogs takes the records in: anomalies and edge windows wait in event-time order until
// every live input has passed them (see sequencer), then the engine applies them step by step
// and the incidents that changed are forwarded. It only fails if the exporter was shut down; bad
// records are counted and skipped.
func (e *rcaExporter) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	e.tb.ExporterRcaRecordsIn.Add(ctx, int64(ld.LogRecordCount()))
	start := time.Now()
	e.mu.Lock()
	now := e.clock.Now()
	var in batchInput
	in.read(ld, e.evclock, now.UnixNano())
	if e.redactEvidence {
		for i := range in.evidence {
			if a := &in.evidence[i].a; !in.evidence[i].edge && !in.evidence[i].svc && !in.evidence[i].metric {
				a.Line, a.Template = e.redact(a.Line), e.redact(a.Template)
			}
		}
	}
	for i := range in.verdicts {
		e.verdicts.add(in.verdicts[i])
	}
	e.seq.add(&in)
	changed := e.seq.process()
	e.lastInput = now
	e.recordStatsLocked(ctx)
	edges, wm := e.takeEdgesLocked(), e.engine.Watermark()
	e.mu.Unlock()
	e.tb.ExporterRcaRankingDuration.Record(ctx, time.Since(start).Seconds())
	e.indexBatch(&in, edges, wm)

	anomalies := 0
	for i := range in.evidence {
		if !in.evidence[i].edge {
			anomalies++
		}
	}
	e.tb.ExporterRcaAnomalies.Add(ctx, int64(anomalies))
	e.tb.ExporterRcaEdges.Add(ctx, int64(len(in.evidence)-anomalies))
	if in.bad > 0 {
		e.tb.ExporterRcaDropped.Add(ctx, int64(in.bad), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "bad_record"))))
	}
	for fix, n := range in.fixes {
		if n > 0 && fix != int(eventtime.FixNone) {
			e.tb.ExporterRcaTimestampsFixed.Add(ctx, int64(n), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", eventtime.Fix(fix).String()))))
		}
	}
	e.forward(ctx, changed)
	return nil
}

// forward hands changed incidents to the exporterhelper sender. A failure here (queue full,
// or every retry exhausted without a queue) is logged and counted; it is never returned
// upstream, because the evidence has already been counted. Then the incidents are indexed for
// the ask API and, with an llm section, looked at for a narrative: the statistical version is
// always handed to the sender first.
func (e *rcaExporter) forward(ctx context.Context, changed []incident.Incident) {
	_ = e.forwardErr(ctx, changed)
	e.indexIncidents(changed)
	if e.llm != nil {
		e.llm.narr.observe(changed)
	}
}

// forwardErr is forward returning the failure to hand the incidents to the sender (the API
// reports it to its caller).
func (e *rcaExporter) forwardErr(ctx context.Context, changed []incident.Incident) error {
	if len(changed) == 0 {
		return nil
	}
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	// The hand-off time (wall clock) identifies this request in all its retries (sink.Multi).
	handoff := pcommon.NewTimestampFromTime(time.Now())
	resolved := false
	for i := range changed {
		inc := &changed[i]
		b, err := json.Marshal(inc)
		if err != nil {
			e.tb.ExporterRcaDropped.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "marshal"))))
			continue
		}
		lr := lrs.AppendEmpty()
		lr.Body().SetEmptyBytes().FromRaw(b)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(inc.UpdatedAt))
		lr.SetObservedTimestamp(handoff)
		e.tb.ExporterRcaIncidents.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("transition", transition(inc)))))
		resolved = resolved || inc.Status == incident.StatusResolved
	}
	err := e.sender.ConsumeLogs(context.WithoutCancel(ctx), ld)
	// A permanent error comes from deliver, which has counted what it gave up, by sink
	// (without a sending queue the delivery runs here); anything else (queue full, shutdown)
	// means the incidents were not delivered.
	if err != nil && !consumererror.IsPermanent(err) {
		e.tb.ExporterRcaDropped.Add(ctx, int64(lrs.Len()), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "delivery_failed"))))
		e.logger.Warn("Failed to deliver incidents", zap.Error(err), zap.Int("incidents", lrs.Len()))
	}
	if resolved && e.client != nil {
		e.saveState(ctx)
	}
	return err
}

func transition(inc *incident.Incident) string {
	switch {
	case inc.Status == incident.StatusResolved:
		return "resolved"
	case inc.Version <= 1:
		return "opened"
	default:
		return "updated"
	}
}

// deliver is the exporterhelper push function: it decodes the incidents and sends them to every
// sink, and runs the Alertmanager re-send when the request asks for it. Errors keep their
// classification (permanent or retryable, with Retry-After): exporterhelper retries the request
// while the error is retryable, and sinks that already accepted a version are skipped (sink.Multi).
// A sink that refuses a version permanently, or keeps failing past max_elapsed_time, is given up:
// that version is counted as dropped{sink, reason} here, once.
func (e *rcaExporter) deliver(ctx context.Context, ld plog.Logs) error {
	var incs []*incident.Incident
	resend := false
	var resendQueued, handoff time.Time
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if lrs.At(k).EventName() == resendEventName {
					resend = true
					resendQueued = lrs.At(k).ObservedTimestamp().AsTime()
					continue
				}
				inc := new(incident.Incident)
				if err := json.Unmarshal(lrs.At(k).Body().Bytes().AsRaw(), inc); err != nil {
					e.tb.ExporterRcaDropped.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "unmarshal"))))
					continue
				}
				incs = append(incs, inc)
				handoff = lrs.At(k).ObservedTimestamp().AsTime()
			}
		}
	}
	var resendErr error
	if resend && e.am != nil {
		resendErr = e.resend(ctx, resendQueued)
	}
	if len(incs) == 0 {
		return resendErr
	}
	counts, err := e.multi.SendRequest(ctx, handoff, incs...)
	for name, c := range counts {
		if c.Sent > 0 {
			e.tb.ExporterRcaSent.Add(ctx, int64(c.Sent), metric.WithAttributeSet(attribute.NewSet(attribute.String("sink", name), attribute.String("outcome", "sent"))))
		}
		if c.Failed > 0 {
			e.tb.ExporterRcaSent.Add(ctx, int64(c.Failed), metric.WithAttributeSet(attribute.NewSet(attribute.String("sink", name), attribute.String("outcome", "failed"))))
		}
		e.sinkGaveUp(ctx, name, sink.ReasonRejected, c.Rejected, err)
		e.sinkGaveUp(ctx, name, sink.ReasonExhausted, c.Exhausted, err)
	}
	return sink.JoinErrors(err, resendErr)
}

// sinkGaveUp counts n incident versions given up at a sink, and logs why.
func (e *rcaExporter) sinkGaveUp(ctx context.Context, sinkName, reason string, n int, err error) {
	if n <= 0 {
		return
	}
	e.tb.ExporterRcaDropped.Add(ctx, int64(n), metric.WithAttributeSet(attribute.NewSet(attribute.String("sink", sinkName), attribute.String("reason", reason))))
	e.logger.Warn("Gave up delivering incidents to a sink", zap.String("sink", sinkName), zap.String("reason", reason), zap.Int("incidents", n), zap.Error(err))
}

// resend runs the Alertmanager re-send queued at queued (wall clock). A re-send that keeps
// failing is given up like a delivery (the next interval posts the current state again).
func (e *rcaExporter) resend(ctx context.Context, queued time.Time) error {
	n, err := e.am.Resend(ctx)
	if err != nil && !consumererror.IsPermanent(err) && e.retryPolicy().Exhausted(queued, time.Now()) {
		err = consumererror.NewPermanent(err)
	}
	outcome := "resent"
	if err != nil {
		outcome = "resend_failed"
	}
	if n > 0 {
		e.tb.ExporterRcaSent.Add(ctx, int64(n), metric.WithAttributeSet(attribute.NewSet(attribute.String("sink", e.am.Name()), attribute.String("outcome", outcome))))
	}
	return err
}

// sinkDropped counts sink state dropped at a bound (sink.Events).
func (e *rcaExporter) sinkDropped(reason string, n int) {
	e.tb.ExporterRcaDropped.Add(context.Background(), int64(n), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
}

// sinkStorageError counts failed loads or saves of sink state (sink.Events).
func (e *rcaExporter) sinkStorageError(op string) {
	e.tb.ExporterRcaStorageErrors.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", op))))
}

func (e *rcaExporter) recordStatsLocked(ctx context.Context) {
	st := e.engine.Stats()
	prev := e.lastStats
	e.lastStats = st
	for _, d := range []struct {
		reason    string
		now, then uint64
	}{
		{"invalid", st.DroppedInvalid, prev.DroppedInvalid},
		{"late", st.DroppedLate, prev.DroppedLate},
		{"edges_full", st.DroppedEdgesFull, prev.DroppedEdgesFull},
		{"services_full", st.DroppedServicesFull, prev.DroppedServicesFull},
		{"pending_full", st.DroppedPendingFull, prev.DroppedPendingFull},
		{"incidents_full", st.DroppedIncidentsFull, prev.DroppedIncidentsFull},
		{"incident_services_full", st.DroppedIncidentServices, prev.DroppedIncidentServices},
		{"knowledge_base_evicted", st.KnowledgeBaseEvicted, prev.KnowledgeBaseEvicted},
	} {
		if d.now > d.then {
			e.tb.ExporterRcaDropped.Add(ctx, int64(d.now-d.then), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", d.reason))))
		}
	}
	if d := e.seq.unconfirmed - e.lastUnconfirmed; d > 0 {
		e.tb.ExporterRcaDropped.Add(ctx, int64(d), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "unconfirmed_event_time"))))
	}
	e.lastUnconfirmed = e.seq.unconfirmed
	seqNow := [3]uint64{e.seq.late, e.seq.pressure, e.seq.edgeSourcesDropped}
	for i, reason := range []string{"late", "pressure", "edge_sources_full"} {
		if d := seqNow[i] - e.lastSeq[i]; d > 0 {
			e.tb.ExporterRcaEvidenceOutOfOrder.Add(ctx, int64(d), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
		}
	}
	e.lastSeq = seqNow
	if d := e.seq.shares - e.lastShares; d > 0 {
		e.tb.ExporterRcaWindowSharesMerged.Add(ctx, int64(d))
	}
	e.lastShares = e.seq.shares
	if d := e.evclock.Stats().SourcesEvicted - e.lastClock.SourcesEvicted; d > 0 {
		e.tb.ExporterRcaEvidenceOutOfOrder.Add(ctx, int64(d), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "log_sources_full"))))
	}
	e.lastClock = e.evclock.Stats()
	if d := e.verdicts.evicted - e.lastVerdicts; d > 0 {
		e.tb.ExporterRcaDropped.Add(ctx, int64(d), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "verdicts_evicted"))))
	}
	e.lastVerdicts = e.verdicts.evicted
	e.open.Store(int64(e.engine.OpenIncidents()))
}

func (e *rcaExporter) loadState(ctx context.Context) {
	data, err := e.client.Get(ctx, kbKey)
	if err == nil && data != nil {
		e.mu.Lock()
		err = e.engine.UnmarshalBinary(data)
		if err == nil {
			// A snapshot must not carry a poisoned clock into this run.
			wm := e.engine.Watermark()
			if eventtime.SaneRestore(wm, e.clock.Now().UnixNano(), e.cfg.MaxClockSkew) != wm {
				e.engine.ResetWatermark()
				e.logger.Warn("Ignoring the restored event time: it is ahead of the wall clock", zap.Time("restored", time.Unix(0, wm)))
			}
			e.seq.restore(e.engine.Watermark())
		}
		e.mu.Unlock()
	}
	if err != nil {
		e.tb.ExporterRcaStorageErrors.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "load"))))
		e.logger.Warn("Ignoring unreadable incident state, starting fresh", zap.Error(err))
	}
}

func (e *rcaExporter) saveState(ctx context.Context) {
	e.mu.Lock()
	data, err := e.engine.MarshalBinary()
	e.mu.Unlock()
	if err == nil {
		err = e.client.Set(ctx, kbKey, data)
	}
	if err != nil {
		e.tb.ExporterRcaStorageErrors.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "save"))))
		e.logger.Warn("Cannot save incident state", zap.Error(err))
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor // import "github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmconfig"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmjudge"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmprompt"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

// LLMConfig is the optional LLM stage: the model, budgets, cache and redaction shared with the
// rca exporter (internal/llmconfig), and what the processor asks about.
type LLMConfig struct {
	llmconfig.Config `mapstructure:",squash"`

	// Window is the event-time window per service about which one question at most is asked.
	Window time.Duration `mapstructure:"window"`
	// SampleNormal is the fraction of windows without a statistical finding asked anyway. After a
	// flagged window a service's windows are all asked, then the rate halves per window length of
	// event time back to sample_normal.
	SampleNormal float64 `mapstructure:"sample_normal"`
	// MinSeverity: a flagged window is asked only when one of its findings is at least this
	// severe (Low, Medium, High, Critical). Lower it to ask about more.
	MinSeverity string `mapstructure:"min_severity"`
	// MinInterval (event time): each service is asked at most once per interval. Patterns
	// skipped meanwhile are asked when they recur.
	MinInterval time.Duration `mapstructure:"min_interval"`
	// MinConfidence is the confidence a verdict needs to raise an anomaly on records the detectors
	// left normal, or to mark their anomalies benign.
	MinConfidence float64 `mapstructure:"min_confidence"`
	// CanSuppress lets a confident benign verdict clear anomaly.detected on later records of its
	// patterns. Off: they only get anomaly.llm.benign=true.
	CanSuppress bool `mapstructure:"can_suppress"`
	// MaxPatterns bounds the remembered verdicts and the marks of questions asked (each per
	// service and template).
	MaxPatterns int `mapstructure:"max_patterns"`
	// VerdictTTL (event time) is how long after its window a verdict applies to new records.
	VerdictTTL time.Duration `mapstructure:"verdict_ttl"`
	// MaxVerdictRecords bounds the verdict records waiting to be sent.
	MaxVerdictRecords int `mapstructure:"max_verdict_records"`
}

func defaultLLMConfig() LLMConfig {
	return LLMConfig{
		Config:            llmconfig.NewDefaultConfig(),
		Window:            30 * time.Second,
		SampleNormal:      0.01,
		MinSeverity:       contract.SeverityHigh,
		MinInterval:       15 * time.Minute,
		MinConfidence:     0.6,
		MaxPatterns:       10_000,
		VerdictTTL:        time.Hour,
		MaxVerdictRecords: 1000,
	}
}

// Validate checks the processor's own LLM settings; the shared ones (llmconfig.Config) validate
// themselves when the configuration tree is validated (confmap.Validate).
func (c *LLMConfig) Validate() error {
	var errs []error
	if c.Window < time.Second || c.Window > time.Hour {
		errs = append(errs, errors.New("window must be between 1s and 1h"))
	}
	if c.SampleNormal < 0 || c.SampleNormal > 1 {
		errs = append(errs, errors.New("sample_normal must be between 0 and 1"))
	}
	switch c.MinSeverity {
	case "", contract.SeverityLow, contract.SeverityMedium, contract.SeverityHigh, contract.SeverityCritical:
	default:
		errs = append(errs, fmt.Errorf("min_severity %q is not one of Low, Medium, High, Critical", c.MinSeverity))
	}
	if c.MinInterval < 0 || c.MinInterval > 24*time.Hour {
		errs = append(errs, errors.New("min_interval must be between 0 and 24h"))
	}
	if c.MinConfidence < 0 || c.MinConfidence > 1 {
		errs = append(errs, errors.New("min_confidence must be between 0 and 1"))
	}
	if c.MaxPatterns <= 0 {
		errs = append(errs, errors.New("max_patterns must be positive"))
	}
	if c.VerdictTTL <= 0 {
		errs = append(errs, errors.New("verdict_ttl must be positive"))
	}
	if c.MaxVerdictRecords <= 0 {
		errs = append(errs, errors.New("max_verdict_records must be positive"))
	}
	return errors.Join(errs...)
}

// llmStage adapts the processor to the judge: records in, verdict attributes and verdict records
// out. Verdict records wait in a bounded outbox and are sent by their own goroutine, so the
// pipeline never waits for a model.
type llmStage struct {
	cfg     *LLMConfig
	clients *llmconfig.Clients
	judge   *llmjudge.Judge
	next    consumer.Logs
	tb      *metadata.TelemetryBuilder
	logger  *zap.Logger
	scope   string

	rec    llmprompt.Record
	params []string

	mu     sync.Mutex
	outbox []*llmjudge.Verdict
	wake   chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
}

func (p *logsProcessor) startLLM(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	lc := p.cfg.LLM.Get()
	if lc == nil {
		return nil
	}
	ins := llmconfig.Instruments{
		Requests:     p.tb.ProcessorLlmAnomalyLlmRequests,
		Duration:     p.tb.ProcessorLlmAnomalyLlmRequestDuration,
		Tokens:       p.tb.ProcessorLlmAnomalyLlmTokens,
		Cost:         p.tb.ProcessorLlmAnomalyLlmCost,
		CacheLookups: p.tb.ProcessorLlmAnomalyLlmCache,
		NotAsked:     p.tb.ProcessorLlmAnomalyLlmSkipped,
		Answers:      p.tb.ProcessorLlmAnomalyLlmVerdicts,
		Evicted:      p.tb.ProcessorLlmAnomalyLlmPatternsEvicted,
	}
	clients, err := lc.NewClients(ctx, host, set, ins, nil)
	if err != nil {
		return err
	}
	s := &llmStage{
		cfg: lc, clients: clients, next: p.next, tb: p.tb, logger: p.logger, scope: p.id.String(),
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	s.judge, err = llmjudge.New(llmjudge.Config{
		Window:              lc.Window,
		SampleNormal:        lc.SampleNormal,
		MinConfidence:       lc.MinConfidence,
		CanSuppress:         lc.CanSuppress,
		MinSeverity:         lc.MinSeverity,
		MinInterval:         lc.MinInterval,
		ScreenMinConfidence: lc.ScreeningMinConfidence,
		MaxPatterns:         lc.MaxPatterns,
		VerdictTTL:          lc.VerdictTTL,
		MaxServices:         p.cfg.MaxServices,
		QueueSize:           lc.QueueSize,
		Workers:             lc.MaxConcurrency,
	}, clients.Primary, clients.Screening, clients.Redactor.Redact, ins, s.enqueue)
	if err != nil {
		_ = clients.Close()
		return err
	}
	s.judge.Start()
	s.wg.Add(1)
	go s.sendLoop()
	p.llm = s
	p.ann.llm = s
	p.logger.Info("LLM stage enabled",
		zap.String("model", lc.Model.Model), zap.String("provider", lc.Model.Provider),
		zap.Bool("screening", clients.Screening != nil))
	return nil
}

// shutdown stops the workers (questions in flight are cancelled and counted), sends the verdict
// records already waiting and releases the clients.
func (s *llmStage) shutdown(ctx context.Context) error {
	s.judge.Stop()
	close(s.stop)
	s.wg.Wait()
	s.flush(ctx)
	return s.clients.Close()
}

// enqueue is the judge's OnVerdict: it may run on the analysing goroutine (cached answers) or a
// worker, so it only queues.
func (s *llmStage) enqueue(v *llmjudge.Verdict) {
	s.mu.Lock()
	if len(s.outbox) >= s.cfg.MaxVerdictRecords {
		s.mu.Unlock()
		s.tb.ProcessorLlmAnomalyLlmVerdictRecordsDropped.Add(context.Background(), 1,
			metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "outbox_full"))))
		return
	}
	s.outbox = append(s.outbox, v)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *llmStage) sendLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
			s.flush(context.Background())
		}
	}
}

// flush sends the waiting verdicts as one plog.Logs.
func (s *llmStage) flush(ctx context.Context) {
	s.mu.Lock()
	vs := s.outbox
	s.outbox = nil
	s.mu.Unlock()
	if len(vs) == 0 {
		return
	}
	ld := verdictLogs(vs, s.scope)
	if err := s.next.ConsumeLogs(ctx, ld); err != nil {
		s.tb.ProcessorLlmAnomalyLlmVerdictRecordsDropped.Add(ctx, int64(len(vs)),
			metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "downstream_error"))))
		s.logger.Warn("Failed to forward LLM verdict records", zap.Error(err), zap.Int("records", len(vs)))
	}
}

// verdictLogs turns verdicts into verdict records (docs/attributes.md), one resource per
// service, timestamped with the end of their window (event time).
func verdictLogs(vs []*llmjudge.Verdict, scope string) plog.Logs {
	ld := plog.NewLogs()
	bySvc := map[string]plog.LogRecordSlice{}
	for _, v := range vs {
		lrs, ok := bySvc[v.Service]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(contract.AttrServiceName, v.Service)
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(scope)
			lrs = sl.LogRecords()
			bySvc[v.Service] = lrs
		}
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(v.End))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.SetEventName(contract.EventVerdict)
		if v.V.IsAnomaly {
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
		}
		lr.Body().SetStr(v.V.Explanation)
		a := lr.Attributes()
		a.PutStr(contract.AttrEventName, contract.EventVerdict)
		a.PutStr(contract.AttrSource, v.Source)
		a.PutStr(contract.AttrLLMVerdictID, v.ID)
		a.PutStr(contract.AttrLLMModel, v.Model)
		a.PutBool(contract.AttrLLMIsAnomaly, v.V.IsAnomaly)
		a.PutStr(contract.AttrLLMSeverity, v.V.Severity)
		a.PutStr(contract.AttrLLMType, v.V.AnomalyType)
		a.PutStr(contract.AttrLLMRootCause, v.V.RootCause)
		a.PutDouble(contract.AttrLLMConfidence, v.V.Confidence)
		a.PutStr(contract.AttrLLMExplanation, v.V.Explanation)
		putStrs(a, contract.AttrLLMAffectedServices, v.V.AffectedServices)
		putStrs(a, contract.AttrLLMRemediation, v.V.RemediationSteps)
		putStrs(a, contract.AttrLLMTemplates, v.Templates)
		a.PutBool(contract.AttrLLMStatistical, v.Flagged)
		a.PutInt(contract.AttrLLMWindowStart, v.Start.UnixNano())
		a.PutInt(contract.AttrLLMWindowEnd, v.End.UnixNano())
		a.PutInt(contract.AttrLLMInputTokens, int64(v.InputTokens))
		a.PutInt(contract.AttrLLMOutputTokens, int64(v.OutputTokens))
	}
	return ld
}

func putStrs(m pcommon.Map, k string, vs []string) {
	s := m.PutEmptySlice(k)
	s.EnsureCapacity(len(vs))
	for _, v := range vs {
		s.AppendEmpty().SetStr(v)
	}
}

// observe gives one analysed record to the judge and writes the verdict remembered for its
// pattern, if any. detected says whether the detectors flagged it.
func (s *llmStage) observe(a *annotator, attrs pcommon.Map) {
	res := &a.res
	r := &s.rec
	*r = llmprompt.Record{
		TemplateID:     res.TemplateID,
		Template:       res.Template,
		Message:        a.rec.Message,
		SeverityNumber: a.rec.SeverityNumber,
		Time:           time.Unix(0, a.rec.Time),
		Detected:       res.Verdict.Detected,
		Type:           res.Verdict.Type,
		Severity:       res.Verdict.Severity,
		Reason:         res.Verdict.Reason,
		Score:          res.Verdict.Score,
	}
	s.judge.Add(a.service, r)
	v := s.judge.Lookup(a.service, res.TemplateID, r.Time)
	if v == nil {
		return
	}
	attrs.PutStr(contract.AttrLLMVerdictID, v.ID)
	attrs.PutStr(contract.AttrLLMModel, v.Model)
	attrs.PutBool(contract.AttrLLMIsAnomaly, v.V.IsAnomaly)
	attrs.PutDouble(contract.AttrLLMConfidence, v.V.Confidence)
	if v.V.IsAnomaly {
		attrs.PutStr(contract.AttrLLMSeverity, v.V.Severity)
		attrs.PutStr(contract.AttrLLMType, v.V.AnomalyType)
		attrs.PutStr(contract.AttrLLMRootCause, v.V.RootCause)
	}
	switch {
	case res.Verdict.Detected && v.Benign():
		attrs.PutBool(contract.AttrLLMBenign, true)
		if s.cfg.CanSuppress {
			attrs.PutBool(contract.AttrDetected, false)
			attrs.PutBool(contract.AttrSuppressed, true)
		}
	case !res.Verdict.Detected && v.Raises():
		a.anomalies[contract.TypeLLM]++
		attrs.PutBool(contract.AttrDetected, true)
		attrs.PutDouble(contract.AttrScore, v.V.Confidence)
		attrs.PutStr(contract.AttrSeverity, v.V.Severity)
		attrs.PutStr(contract.AttrType, contract.TypeLLM)
		attrs.PutStr(contract.AttrReason, v.V.RootCause)
		attrs.PutStr(contract.AttrSource, v.Source)
	case res.Verdict.Detected && v.Confirms():
		attrs.PutStr(contract.AttrSource, v.Source)
	}
}

// advance closes the windows that event time has passed.
func (s *llmStage) advance(frontier int64) {
	s.judge.Advance(time.Unix(0, frontier))
}

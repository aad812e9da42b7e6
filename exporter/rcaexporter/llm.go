// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmconfig"
)

// llmStage is the optional LLM part of the exporter: the clients, the narrator and the slots of
// the ask API's questions.
type llmStage struct {
	clients *llmconfig.Clients
	client  *llm.Client
	ins     llmconfig.Instruments
	narr    *narrator
	// askSlots bounds the ask questions answered by the model at once (max_concurrency); a
	// question that finds none free is answered by keyword search.
	askSlots chan struct{}
	// askTimeout bounds the model's part of one ask question (plan and answer).
	askTimeout time.Duration
}

func identity(s string) string { return s }

// llmInstruments are the exporter's LLM metrics (metadata.yaml), as the llm client's observer.
func llmInstruments(e *rcaExporter) llmconfig.Instruments {
	return llmconfig.Instruments{
		Requests:     e.tb.ExporterRcaLlmRequests,
		Duration:     e.tb.ExporterRcaLlmRequestDuration,
		Tokens:       e.tb.ExporterRcaLlmTokens,
		Cost:         e.tb.ExporterRcaLlmCost,
		CacheLookups: e.tb.ExporterRcaLlmCache,
		NotAsked:     e.tb.ExporterRcaLlmSkipped,
		Answers:      e.tb.ExporterRcaLlmVerdicts,
	}
}

// startLLM builds the redactor and, with an llm section, the clients and the narrator. Without
// an llm section a default redactor still cleans what the ask API holds.
func (e *rcaExporter) startLLM(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	lc := e.cfg.LLM.Get()
	if lc == nil {
		if e.ask != nil {
			def := llmconfig.NewDefaultConfig()
			r, err := def.NewRedactor()
			if err != nil {
				return fmt.Errorf("llm: redaction: %w", err)
			}
			e.redact = r.Redact
		}
		return nil
	}
	ins := llmInstruments(e)
	clients, err := lc.NewClients(ctx, host, set, ins, nil)
	if err != nil {
		return fmt.Errorf("llm: %w", err)
	}
	s := &llmStage{
		clients: clients, client: clients.Primary, ins: ins,
		askSlots:   make(chan struct{}, lc.MaxConcurrency),
		askTimeout: max(2*lc.Model.ClientConfig.Timeout, time.Second),
	}
	e.redact = clients.Redactor.Redact
	e.redactEvidence = true
	s.narr = newNarrator(e, lc, clients.Primary, e.redact, ins)
	s.narr.start()
	e.llm = s
	e.logger.Info("LLM narratives enabled", zap.String("provider", lc.Model.Provider), zap.String("model", lc.Model.Model))
	return nil
}

// stopWorkers stops the narrator (questions in flight are cancelled). Safe on nil.
func (s *llmStage) stopWorkers() {
	if s != nil {
		s.narr.stop()
	}
}

// close releases the clients. Safe on nil.
func (s *llmStage) close() error {
	if s == nil {
		return nil
	}
	return s.clients.Close()
}

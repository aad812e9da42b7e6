// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor // import "github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

// NewFactory returns the factory of the llm_anomaly processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	ac := analyzer.DefaultConfig()
	return &Config{
		AllowedLateness:  5 * time.Second,
		MaxClockSkew:     time.Minute,
		Timeout:          2 * time.Second,
		MaxHeldRecords:   50_000,
		MessageFields:    []string{"message", "msg", "log", "body"},
		Templates:        ac.Miner,
		MaxServices:      ac.MaxServices,
		IncludeParams:    false,
		AnnotateNormal:   true,
		Detectors:        ac.Detectors,
		SnapshotInterval: time.Minute,
		LLM:              configoptional.Default(defaultLLMConfig()),
	}
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	return newProcessor(set, cfg.(*Config), next, nil)
}

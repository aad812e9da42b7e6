// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
)

// NewFactory returns the factory of the rca exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Incidents:          defaultIncidentsConfig(),
		Sinks:              sink.NewDefaultConfig(),
		AllowedLateness:    10 * time.Second,
		IdleTimeout:        2 * time.Minute,
		MaxClockSkew:       time.Minute,
		MaxPendingEvidence: 100_000,
		IdleAdvance:        time.Minute,
		SnapshotInterval:   time.Minute,
		HTTP:               configoptional.Default(defaultHTTPServerConfig()),
		LLM:                configoptional.Default(defaultLLMConfig()),
		Ask:                defaultAskConfig(),
		QueueConfig:        configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:        configretry.NewDefaultBackOffConfig(),
		TimeoutConfig:      exporterhelper.NewDefaultTimeoutConfig(),
	}
}

// createLogs and createMetrics return the two faces of one exporter per component ID: logs
// (anomalies, edge and service records) and metrics (service and pod metrics) feed one engine.
func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c, err := exporters.LoadOrStore(set.ID, func() (*rcaExporter, error) { return newExporter(ctx, set, cfg.(*Config), nil) })
	if err != nil {
		return nil, err
	}
	return logsExporter{c}, nil
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c, err := exporters.LoadOrStore(set.ID, func() (*rcaExporter, error) { return newExporter(ctx, set, cfg.(*Config), nil) })
	if err != nil {
		return nil, err
	}
	return metricsExporter{c}, nil
}

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
		HTTP:               configoptional.Default(defaultHTTPServerConfig()),
		QueueConfig:        configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:        configretry.NewDefaultBackOffConfig(),
		TimeoutConfig:      exporterhelper.NewDefaultTimeoutConfig(),
	}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	return newExporter(ctx, set, cfg.(*Config), nil)
}

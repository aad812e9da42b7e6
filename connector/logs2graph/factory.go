// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph // import "github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sharedcomponent"
)

// NewFactory returns the factory of the logs2graph connector.
//
// Every connector ID gets one graph: the traces -> logs, logs -> logs and traces -> metrics
// instances created for the same ID share it (and its lock, loop and storage client).
func NewFactory() connector.Factory {
	return newFactoryWith(nil)
}

// newFactoryWith is NewFactory with an injectable clock (nil: the wall clock); each factory has
// its own map of shared instances.
func newFactoryWith(clk clock) connector.Factory {
	f := &factory{conns: sharedcomponent.NewMap[component.ID, *graphConnector](), clock: clk}
	return connector.NewFactory(
		metadata.Type,
		createDefaultConfig,
		connector.WithTracesToLogs(f.createTracesToLogs, metadata.TracesToLogsStability),
		connector.WithLogsToLogs(f.createLogsToLogs, metadata.LogsToLogsStability),
		connector.WithTracesToMetrics(f.createTracesToMetrics, metadata.TracesToMetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		FlushInterval:    15 * time.Second,
		AllowedLateness:  15 * time.Second,
		PendingTTL:       10 * time.Second,
		EdgeTTL:          72 * time.Hour,
		MaxPendingSpans:  200_000,
		MaxEdges:         10_000,
		MaxNodes:         10_000,
		UserNode:         "user",
		LatencyBuckets:   defaultLatencyBuckets(),
		SnapshotInterval: 0,
		MaxClockSkew:     time.Minute,
		IdleAdvance:      30 * time.Second,
		PersistInterval:  time.Minute,
	}
}

type factory struct {
	conns *sharedcomponent.Map[component.ID, *graphConnector]
	clock clock
}

// shared returns the graph connector of set.ID, creating it on first use.
func (f *factory) shared(set connector.Settings, cfg component.Config) (*sharedcomponent.Component[*graphConnector], error) {
	return f.conns.LoadOrStore(set.ID, func() (*graphConnector, error) {
		return newConnector(set, cfg.(*Config), f.clock)
	})
}

func (f *factory) createTracesToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Traces, error) {
	sc, err := f.shared(set, cfg)
	if err != nil {
		return nil, err
	}
	sc.Unwrap().setEdgeLogs(next)
	return &tracesConnector{Component: sc, c: sc.Unwrap()}, nil
}

func (f *factory) createLogsToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Logs, error) {
	sc, err := f.shared(set, cfg)
	if err != nil {
		return nil, err
	}
	sc.Unwrap().setPassThrough(next)
	return &logsConnector{Component: sc, c: sc.Unwrap()}, nil
}

func (f *factory) createTracesToMetrics(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Traces, error) {
	sc, err := f.shared(set, cfg)
	if err != nil {
		return nil, err
	}
	sc.Unwrap().setMetrics(next)
	return &tracesConnector{Component: sc, c: sc.Unwrap(), metricsOnly: true}, nil
}

// tracesConnector is the traces input of one pipeline; the graph is shared.
type tracesConnector struct {
	*sharedcomponent.Component[*graphConnector]
	c           *graphConnector
	metricsOnly bool // the traces -> metrics instance
}

func (*tracesConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// logsConnector is the logs input of one pipeline; the graph is shared.
type logsConnector struct {
	*sharedcomponent.Component[*graphConnector]
	c *graphConnector
}

func (*logsConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

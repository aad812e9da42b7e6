// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// podCPU is one minute of k8s.pod.cpu.usage of ten services; svc0's CPU is tripled when hot.
func podCPU(at time.Time, hot bool) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range 10 {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("k8s.pod.name", fmt.Sprintf("svc%d-5dc8d4f9fd-llznp", i))
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("k8s.pod.cpu.usage")
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
		v := 0.1 + 0.01*float64((i*7+at.Minute())%3)
		if hot && i == 0 {
			v *= 3
		}
		dp.SetDoubleValue(v)
	}
	return md
}

// normalLogs is one normal annotated record of each of the ten services.
func normalLogs(at time.Time) plog.Logs {
	ld := plog.NewLogs()
	for i := range 10 {
		addNormal(ld, fmt.Sprintf("svc%d", i), at)
	}
	return ld
}

// The logs and metrics faces of one component ID share one exporter; a CPU change of one
// service is metric evidence that joins the incident its own error burst opens and is named in
// the ranking, the same whether metrics arrive before or after the logs of each minute.
func TestMetricsJoinTheRanking(t *testing.T) {
	run := func(metricsFirst bool) []incident.Incident {
		cfg := createDefaultConfig().(*Config)
		set := exportertest.NewNopSettings(metadata.Type)
		le, err := createLogs(context.Background(), set, cfg)
		require.NoError(t, err)
		me, err := createMetrics(context.Background(), set, cfg)
		require.NoError(t, err)
		require.Same(t, le.(logsExporter).Unwrap(), me.(metricsExporter).Unwrap(), "one exporter per component ID")
		require.NoError(t, le.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, me.Start(context.Background(), componenttest.NewNopHost()))
		e := le.(logsExporter).Unwrap()
		var out []incident.Incident
		for m := range 40 {
			at := t0.Add(time.Duration(m) * time.Minute)
			hot := m >= 30
			for s := 0; s < 60; s += 10 {
				ld := normalLogs(at.Add(time.Duration(s) * time.Second))
				if hot {
					addAnomaly(ld, "svc0", at.Add(time.Duration(s)*time.Second+time.Second), 0.8, "error_burst", "e1", "request failed <*>", "request failed 500")
				}
				if metricsFirst && s == 0 {
					require.NoError(t, me.ConsumeMetrics(context.Background(), podCPU(at, hot)))
				}
				require.NoError(t, le.ConsumeLogs(context.Background(), ld))
				if !metricsFirst && s == 0 {
					require.NoError(t, me.ConsumeMetrics(context.Background(), podCPU(at, hot)))
				}
			}
		}
		e.mu.Lock()
		out = append(out, e.engine.OpenIncidentList()...)
		e.mu.Unlock()
		require.NoError(t, me.Shutdown(context.Background()))
		require.NoError(t, le.Shutdown(context.Background()))
		return out
	}
	a := run(true)
	require.Len(t, a, 1)
	assert.Equal(t, "svc0", a[0].RootCauseService)
	assert.Contains(t, fmt.Sprint(a[0].Evidence), "cpu", "the CPU change is evidence of the incident")
	assert.Equal(t, a, run(false), "the same whatever the interleaving of metrics and logs")
}

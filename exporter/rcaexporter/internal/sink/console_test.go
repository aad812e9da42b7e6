// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

func TestConsoleLogsSummary(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	c := NewConsole(NewDefaultConsoleConfig(), zap.New(core))
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, c.Send(context.Background(), testIncident()))
	require.NoError(t, c.Send(context.Background(), resolvedIncident()))
	require.NoError(t, c.Shutdown(context.Background()))

	entries := logs.All()
	require.Len(t, entries, 2)
	assert.Equal(t, zapcore.InfoLevel, entries[0].Level)
	assert.Equal(t, "INCIDENT [Critical] Checkout failures caused by db connection pool exhaustion (id inc-42, v1)\n"+
		"  root cause:  db: connection pool exhausted (confidence 87%, statistical)\n"+
		"  propagation: db → payment → checkout → frontend\n"+
		"  affected:    payment, checkout, frontend\n"+
		"  candidates:\n"+
		"    1. db (0.800)\n"+
		"    2. payment (0.150)\n"+
		"  evidence:\n"+
		"    2026-03-04T10:00:01Z payment: pool timeout after 5000ms\n"+
		"    2026-03-04T10:00:02Z checkout: upstream payment returned 503\n"+
		"    2026-03-04T10:00:03Z frontend: request failed <500>\n"+
		"  remediation:\n"+
		"    1. Increase the pool size\n"+
		"    2. Kill long-running queries\n"+
		"  explanation: payment calls to db time out first; errors spread upstream\n"+
		"  started 2026-03-04T10:00:00Z, updated 2026-03-04T10:01:30Z", entries[0].Message)
	assert.Equal(t, map[string]any{
		"incident_id": "inc-42", "incident_version": int64(1), "status": "open", "severity": "Critical", "root_cause_service": "db",
	}, entries[0].ContextMap())
	assert.Contains(t, entries[1].Message, "RESOLVED [Critical]")
	assert.Contains(t, entries[1].Message, ", resolved 2026-03-04T10:10:00Z")
}

func TestConsoleMinimal(t *testing.T) {
	got := ConsoleSummary(&incident.Incident{ID: "x"}, ConsoleConfig{})
	assert.Equal(t, "INCIDENT [unknown] Incident x (id x, v0)\n  root cause:  unknown (confidence 0%, unknown)\n  started unknown time, updated unknown time", got)
	c := NewConsole(ConsoleConfig{}, nil)
	require.NoError(t, c.Send(context.Background(), &incident.Incident{}))
	cfg := ConsoleConfig{MaxEvidence: -1}
	assert.EqualError(t, cfg.Validate(), "`max_evidence` must not be negative")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
)

// TestGoldenEdges feeds a multi-service call tree (user -> frontend -> checkout over HTTP,
// checkout -> payment over gRPC with an error, checkout -> a postgres database, checkout ->
// shipping through a kafka topic) plus an INTERNAL-only gateway -> inventory trace, in five
// batches (the halves of one call out of order and across batches):
//   - batch1: the server and consumer halves of traces 1 and 2, and the client halves of trace 1;
//   - batch2: the client and producer halves of trace 2 (their partners came in batch1);
//   - batch3: trace 3 in the second window, the INTERNAL-only trace (an error), and a frontend
//     CLIENT call to `ads` (peer.service);
//   - batch4: spans of frontend and checkout 18 s later (event time moves only when two services
//     confirm it), so the `ads` client half expires unmatched (a virtual call);
//   - batch5: the `ads` server half, too late to pair: it counts from the user node.
//
// Every record emitted, in order, must equal testdata/expected/edges.yaml: the progress records
// of the batches (event time starts with batch1 and closes an empty window with batch4), then
// the edge records emitted at shutdown (three windows, with client- and server-side p95 where
// the side exists) and the progress record after them.
// To regenerate after a deliberate change, temporarily write `merged(p.edges)` with
// golden.WriteLogs and check the diff.
func TestGoldenEdges(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.InstanceID = "replica-1"
	p := newPipelines(t, cfg, nil, false)
	p.start(t, componenttest.NewNopHost())
	for _, name := range []string{"batch1.yaml", "batch2.yaml", "batch3.yaml", "batch4.yaml", "batch5.yaml"} {
		td, err := golden.ReadTraces(filepath.Join("testdata", "input", name))
		require.NoError(t, err)
		require.NoError(t, p.traces.ConsumeTraces(context.Background(), td))
	}
	p.shutdown(t)

	actual := merged(p.edges)
	expected, err := golden.ReadLogs(filepath.Join("testdata", "expected", "edges.yaml"))
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, actual,
		plogtest.IgnoreObservedTimestamp(),
		plogtest.IgnoreResourceLogsOrder(),
		plogtest.IgnoreLogRecordsOrder()))
	require.Zero(t, p.pass.LogRecordCount(), "edge records go to the traces -> logs output only")
}

func TestInstanceIDDefaultsToTheHostName(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, host, instanceID(""), "a Kubernetes pod's name, distinct per replica")
	assert.Equal(t, "analysis-7", instanceID("analysis-7"))
	ld, _ := windowsToLogs("logs2graph/prod", "analysis-7", nil, 0, time.Second, 0)
	v, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get("service.instance.id")
	require.True(t, ok)
	assert.Equal(t, "analysis-7", v.Str())
	ld, _ = windowsToLogs("logs2graph", "", nil, 0, time.Second, 0)
	_, ok = ld.ResourceLogs().At(0).Resource().Attributes().Get("service.instance.id")
	assert.False(t, ok, "no instance id: no attribute")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// layeredGraph returns a 50-node graph: 5 layers of 10 nodes, each node calling 3 nodes of the
// next layer (the last layer are databases), fed with 12 normal windows.
func layeredGraph(tb testing.TB) (*Engine, [][]string) {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.MaxHops = 3
	e, err := New(cfg)
	require.NoError(tb, err)
	layers := make([][]string, 5)
	for l := range layers {
		for i := range 10 {
			layers[l] = append(layers[l], fmt.Sprintf("svc-%d-%d", l, i))
		}
	}
	var links []link
	for l := 0; l < 4; l++ {
		for i, c := range layers[l] {
			for k := range 3 {
				sk := "service"
				if l == 3 {
					sk = "database"
				}
				links = append(links, link{c, layers[l+1][(i*7+k*3)%10], "service", sk})
			}
		}
	}
	s := &sim{e: e, win: 10 * sec, rand: 7}
	s.warm(links, t0, t0+120*sec)
	return e, layers
}

// BenchmarkRank measures one ranking (candidates, random walk, paths, evidence, similar
// incidents) of an incident spanning the whole 50-node graph: a fault in one database with
// anomalies in every service of the 4 upper layers. One op is one rank call.
func BenchmarkRank(b *testing.B) {
	e, layers := layeredGraph(b)
	fs := t0 + 121*sec
	root := layers[4][3]
	// callers of root see errors
	for _, c := range layers[3] {
		e.AddEdge(EdgeWindow{Client: c, Server: root, ServerKind: "database", ConnType: "rpc", Calls: 100, Errors: 70,
			P95: 25, WindowStart: fs, WindowEnd: fs + 10*sec})
	}
	for l := 3; l >= 0; l-- {
		for i, svc := range layers[l] {
			for k := range 4 {
				e.AddAnomaly(Anomaly{Service: svc, Time: fs + int64(4-l)*2*sec + int64(i+k)*sec/10, Score: 0.8,
					Type: "error_burst", TemplateID: fmt.Sprintf("t%d", k%2), Template: "call failed <*>", Line: "call failed 42"})
			}
		}
	}
	out := e.Advance(fs + 20*sec)
	require.Len(b, out, 1)
	require.Equal(b, root, out[0].RootCauseService)
	require.Len(b, out[0].AffectedServices, 41)
	inc := e.open[out[0].ID]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.rank(inc)
	}
}

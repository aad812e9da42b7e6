// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

func FuzzKnowledgeBaseUnmarshal(f *testing.F) {
	s := newSim(f, nil)
	dbFault(s, t0)
	snap, err := s.e.KnowledgeBase().MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add([]byte("RCAKB\x01\x00\x00\x00\x00[]"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		kb := NewKnowledgeBase(4)
		if kb.UnmarshalBinary(b) != nil {
			assert.Equal(t, 0, kb.Len())
			return
		}
		assert.LessOrEqual(t, kb.Len(), 4)
		out, err := kb.MarshalBinary()
		require.NoError(t, err)
		kb2 := NewKnowledgeBase(4)
		require.NoError(t, kb2.UnmarshalBinary(out))
		assert.Equal(t, kb.Len(), kb2.Len())
	})
}

// FuzzEngineUnmarshal: any input is either rejected without a change or restored within the
// bounds, and a restored engine snapshots to something it can load again.
func FuzzEngineUnmarshal(f *testing.F) {
	s := newSim(f, nil)
	s.warm(shop, t0, t0+60*sec)
	for i := range 6 {
		s.anom("payment", t0+60*sec+int64(i)*sec, 0.8, "error_burst", "p", "db query failed")
	}
	s.advance(t0 + 70*sec)
	snap, err := s.e.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	kb, err := s.e.KnowledgeBase().MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kb)
	f.Add([]byte("RCAEN\x01\x00\x00\x00\x00{}"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := DefaultConfig()
		cfg.MaxOpenIncidents = 3
		e, err := New(cfg)
		require.NoError(t, err)
		if e.UnmarshalBinary(b) != nil {
			assert.Equal(t, 0, e.OpenIncidents())
			assert.Equal(t, 0, e.KnowledgeBase().Len())
			return
		}
		assert.LessOrEqual(t, e.OpenIncidents(), 3)
		out, err := e.MarshalBinary()
		require.NoError(t, err)
		e2, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, e2.UnmarshalBinary(out))
		assert.Equal(t, e.OpenIncidents(), e2.OpenIncidents())
		// the restored engine keeps working
		e2.AddAnomaly(Anomaly{Service: "payment", Time: t0 + 80*sec, Score: 0.9, Type: "error_burst"})
		_ = e2.Advance(t0 + 3600*sec)
	})
}

// TestRandomStreamInvariants feeds a long pseudo-random stream of anomalies, edge windows
// (including invalid values) and watermark jumps, and checks the output invariants.
func TestRandomStreamInvariants(t *testing.T) {
	s := newSim(t, func(c *Config) {
		c.MaxOpenIncidents = 5
		c.MaxServicesPerIncident = 6
		c.MaxEdges = 40
		c.KnowledgeBaseSize = 8
	})
	svc := func() string { return fmt.Sprintf("s%d", int(s.jitter()*30)) }
	now := t0
	versions := map[string]int{}
	resolved := map[string]bool{}
	for i := range 20_000 {
		now += int64(s.jitter() * float64(2*sec))
		switch r := s.jitter(); {
		case r < 0.5:
			score := s.jitter()
			if i%997 == 0 {
				score = math.Inf(1)
			}
			s.anom(svc(), now-int64(s.jitter()*float64(30*sec)), score, "error_burst", fmt.Sprintf("t%d", i%7), "x <*>")
		case r < 0.95:
			c, sv := svc(), svc()
			calls := int64(s.jitter() * 50)
			s.e.AddEdge(EdgeWindow{Client: c, Server: sv, ConnType: "rpc", Calls: calls,
				Errors: int64(s.jitter() * float64(calls+1)), P95: s.jitter() * 3000, WindowStart: now - 10*sec, WindowEnd: now})
		default:
			if s.jitter() < 0.05 {
				now += 20 * 60 * sec
			}
			for _, in := range s.advance(now) {
				assert.Greater(t, in.Version, versions[in.ID], "versions increase")
				versions[in.ID] = in.Version
				assert.False(t, resolved[in.ID], "nothing after resolution")
				if in.Status == incident.StatusResolved {
					resolved[in.ID] = true
				}
				require.NotEmpty(t, in.RootCauseService)
				require.NotEmpty(t, in.PropagationPath)
				assert.Equal(t, in.RootCauseService, in.PropagationPath[0])
				assert.LessOrEqual(t, len(in.AffectedServices), 6)
				for _, c := range in.Candidates {
					assert.True(t, c.Score > 0 && c.Score <= 1, "score %v", c.Score)
				}
				for _, p := range in.DependencyPaths {
					assert.LessOrEqual(t, len(p), 6)
				}
				assert.LessOrEqual(t, in.Confidence, 1.0)
				assert.GreaterOrEqual(t, in.Confidence, 0.0)
			}
			assert.LessOrEqual(t, s.e.OpenIncidents(), 5)
			assert.LessOrEqual(t, s.e.KnowledgeBase().Len(), 8)
			assert.LessOrEqual(t, len(s.e.g.edges), 40)
		}
	}
	st := s.e.Stats()
	assert.Positive(t, st.IncidentsOpened)
	assert.Positive(t, st.IncidentsResolved)
	assert.Positive(t, st.DroppedInvalid)
	assert.Positive(t, st.DroppedEdgesFull)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestTemplatesCompile(t *testing.T) {
	g, err := New(1, testStart, time.Millisecond)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(g.tpls), 18)
	used := map[int]bool{}
	for _, tp := range g.tpls {
		used[tp.service] = true
		assert.Positive(t, tp.weight)
	}
	assert.Len(t, used, len(Services))

	for _, bad := range []string{"a {nope} b", "a {int:5:1}", "a {uuid"} {
		_, err := parseTemplate(bad)
		require.Error(t, err, bad)
	}
	segs, err := parseTemplate("took {int:3:3}ms")
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: deterministic test data
	var b []byte
	for _, s := range segs {
		if s.kind == "" {
			b = append(b, s.lit...)
		} else {
			b = appendVar(b, r, s)
		}
	}
	assert.Equal(t, "took 3ms", string(b))
}

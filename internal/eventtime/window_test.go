// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package eventtime

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFloorDivAndMod(t *testing.T) {
	for _, c := range []struct{ a, b, q, m int64 }{
		{7, 3, 2, 1}, {6, 3, 2, 0}, {-1, 3, -1, 2}, {-3, 3, -1, 0}, {-4, 3, -2, 2}, {0, 5, 0, 0},
	} {
		assert.Equal(t, c.q, FloorDiv(c.a, c.b), "%d/%d", c.a, c.b)
		assert.Equal(t, c.m, Mod(c.a, c.b), "%d mod %d", c.a, c.b)
	}
	assert.Equal(t, int64(1), FloorDiv(-7, -4))
}

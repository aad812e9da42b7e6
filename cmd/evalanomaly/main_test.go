// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPRF(t *testing.T) {
	p, r, f := scoreRow{tp: 8, fp: 2, fn: 8}.prf()
	assert.InDelta(t, 0.8, p, 1e-9)
	assert.InDelta(t, 0.5, r, 1e-9)
	assert.InDelta(t, 2*0.8*0.5/1.3, f, 1e-9)
	p, r, f = scoreRow{}.prf()
	assert.Zero(t, p)
	assert.Zero(t, r)
	assert.Zero(t, f)
}

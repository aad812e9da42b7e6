// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/miner"
)

func TestGroupCorrect(t *testing.T) {
	m, err := miner.New(miner.DefaultConfig())
	require.NoError(t, err)
	lines := []string{
		"user 1 logged in", "user 2 logged in", // one truth group, one mined group: correct
		"disk sda full", "disk sdb full", // truth says two groups, the miner may merge them
		"connection reset by peer",
	}
	truth := []string{"A", "A", "B", "C", "D"}
	pred := make([]*miner.Template, len(lines))
	for i, l := range lines {
		pred[i] = m.Train(l).Template
	}
	for i := range pred {
		pred[i] = pred[i].Current()
	}
	ok := groupCorrect(pred, truth)
	assert.True(t, ok[0])
	assert.True(t, ok[1])
	assert.True(t, ok[4])
	if pred[2] == pred[3] {
		assert.False(t, ok[2], "a mined group spanning two truth groups is wrong for all its lines")
		assert.False(t, ok[3])
	}

	// A truth group split over two mined groups is wrong for every line of it.
	a, b := &miner.Template{}, &miner.Template{}
	assert.Equal(t, []bool{false, false}, groupCorrect([]*miner.Template{a, b}, []string{"X", "X"}), "split")
	assert.Equal(t, []bool{false, false, false}, groupCorrect([]*miner.Template{a, b, a}, []string{"X", "X", "Y"}), "split and merged")
	assert.Equal(t, []bool{true, true}, groupCorrect([]*miner.Template{a, a}, []string{"X", "X"}))
	assert.Equal(t, []bool{false}, groupCorrect([]*miner.Template{nil}, []string{"X"}), "no template is never correct")
}

func TestNormalize(t *testing.T) {
	assert.Equal(t, "a <*> b", normalize("  a   <*>  b "))
	assert.Equal(t, "ip <*> port", normalize("ip <*>.<*>.<*>.<*>:<*> port"))
	assert.Equal(t, "x <*>", normalize("x <*><*> <*>"))
	assert.Equal(t, "no vars", normalize("no vars"))
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"
	"time"

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

func TestParseHDFSLine(t *testing.T) {
	ts, level, content, ok := parseHDFSLine("081109 203530 147 INFO dfs.DataNode$DataXceiver: Receiving block blk_-1 src: /10.0.0.1:1 dest: /10.0.0.2:2")
	assert.True(t, ok)
	assert.Equal(t, time.Date(2008, 11, 9, 20, 35, 30, 0, time.UTC).UnixNano(), ts)
	assert.Equal(t, "INFO", level)
	assert.Equal(t, "Receiving block blk_-1 src: /10.0.0.1:1 dest: /10.0.0.2:2", content)

	for _, bad := range []string{"", "too short", "xx yy 1 INFO comp: msg", "081109 203530 147 INFO nocolon msg"} {
		_, _, _, ok := parseHDFSLine(bad)
		assert.False(t, ok, bad)
	}
}

func TestSeverityNumber(t *testing.T) {
	assert.Equal(t, int32(9), severityNumber("INFO"))
	assert.Equal(t, int32(13), severityNumber("WARNING"))
	assert.Equal(t, int32(17), severityNumber("ERROR"))
	assert.Equal(t, int32(21), severityNumber("FATAL"))
}

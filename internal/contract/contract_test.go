// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package contract

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestSeverityFromText(t *testing.T) {
	for text, want := range map[string]int32{
		"": 0, "  ": 0, "verbose": 0, "ERRORERRORERRORERROR": 0,
		"trace": SeverityNumberTrace, "Debug": SeverityNumberDebug, "INFO": SeverityNumberInfo, "notice": SeverityNumberInfo,
		"Information": SeverityNumberInfo, "warn": SeverityNumberWarn, " WARNING ": SeverityNumberWarn,
		"error": SeverityNumberError, "ERR": SeverityNumberError, "severe": SeverityNumberError,
		"FATAL": SeverityNumberFatal, "critical": SeverityNumberFatal, "crit": SeverityNumberFatal, "alert": SeverityNumberFatal,
		"emerg": SeverityNumberFatal, "Emergency": SeverityNumberFatal, "panic": SeverityNumberFatal, "FAILURE": SeverityNumberFatal,
	} {
		assert.Equal(t, want, SeverityFromText(text), text)
	}
}

// The numbers are OpenTelemetry's.
func TestSeverityNumbersArePdatas(t *testing.T) {
	assert.Equal(t, int32(plog.SeverityNumberTrace), int32(SeverityNumberTrace))
	assert.Equal(t, int32(plog.SeverityNumberDebug), int32(SeverityNumberDebug))
	assert.Equal(t, int32(plog.SeverityNumberInfo), int32(SeverityNumberInfo))
	assert.Equal(t, int32(plog.SeverityNumberWarn), int32(SeverityNumberWarn))
	assert.Equal(t, int32(plog.SeverityNumberError), int32(SeverityNumberError))
	assert.Equal(t, int32(plog.SeverityNumberFatal), int32(SeverityNumberFatal))
}

func TestIsError(t *testing.T) {
	assert.True(t, IsError(int32(plog.SeverityNumberError2), "info"), "the number wins over the text")
	assert.False(t, IsError(int32(plog.SeverityNumberWarn4), "error"))
	assert.True(t, IsError(0, "Severe"))
	assert.True(t, IsError(0, "CRIT"))
	assert.False(t, IsError(0, "warning"))
	assert.False(t, IsError(0, ""))
}

func TestSeverityOf(t *testing.T) {
	for score, want := range map[float64]string{
		0: "", -1: "", math.NaN(): "", 0.1: SeverityLow, 0.5: SeverityMedium, 0.69: SeverityMedium,
		0.7: SeverityHigh, 0.9: SeverityCritical, 1: SeverityCritical,
	} {
		assert.Equal(t, want, SeverityOf(score), "%v", score)
	}
}

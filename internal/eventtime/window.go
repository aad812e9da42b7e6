// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package eventtime // import "github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"

// FloorDiv divides rounding towards negative infinity, so that FloorDiv(t, d)*d is the start of
// t's window of length d for any t, before the epoch too.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Mod returns a mod n in [0, n) for n > 0 (a ring index of any time).
func Mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}

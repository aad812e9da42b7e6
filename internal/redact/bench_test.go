// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package redact

import "testing"

// The benchmarks report the cost per line: each iteration redacts one line of the set in turn.

func benchLines(b *testing.B, cfg Config, lines []string) {
	r, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = r.Redact(lines[i])
		i++
		if i == len(lines) {
			i = 0
		}
	}
}

func BenchmarkRedactClean(b *testing.B) {
	benchLines(b, Config{HashKey: "k"}, cleanLines)
}

// With IPs on, the clean lines holding addresses (HDFS, nginx, sshd) are redacted too.
func BenchmarkRedactCleanIPsOn(b *testing.B) {
	benchLines(b, Config{HashKey: "k", IPs: true}, cleanLines)
}

func BenchmarkRedactCleanWithPattern(b *testing.B) {
	benchLines(b, Config{HashKey: "k", Patterns: []string{`EMP-\d{6}`}}, cleanLines)
}

func BenchmarkRedactDirty(b *testing.B) {
	lines, _ := TestCorpus()
	benchLines(b, Config{HashKey: "k"}, lines)
}

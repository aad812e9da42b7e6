// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package redact

import (
	"testing"
	"unicode/utf8"
)

func FuzzRedact(f *testing.F) {
	lines, _ := TestCorpus()
	for _, l := range lines {
		f.Add(l)
	}
	for _, l := range cleanLines[:10] {
		f.Add(l)
	}
	for _, s := range []string{
		"", "password=", `"token":"\`, "<EMAIL:0123abcd>", "<SECRET:00000000>x@y.co",
		"Authorization: Bearer <SECRET:0123abcd>", "+1 (555) 123-4567 4111 1111 1111 1111",
		"http://u:p@h", "-----BEGIN PRIVATE KEY-----", "eyJa.eyJb.", "\xff\xfe@a.io", "::ffff:1.2.3.4",
		"pwd=a@b.cc:x@y.dd", "password=<EMAIL:01234567>abc@def.gh",
	} {
		f.Add(s)
	}
	def, err := New(Config{HashKey: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	all, err := New(Config{HashKey: "fuzz", IPs: true, Patterns: []string{`\d{3,}`, `id=(\w+)`}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range []*Redactor{def, all} {
			got := r.Redact(s)
			if again := r.Redact(got); again != got {
				t.Fatalf("not idempotent:\n in:  %q\n 1st: %q\n 2nd: %q", s, got, again)
			}
			if utf8.ValidString(s) && !utf8.ValidString(got) {
				t.Fatalf("invalid UTF-8 output %q for %q", got, s)
			}
		}
	})
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logmsg

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExtract(t *testing.T) {
	fields := []string{"message", "msg"}
	tests := []struct {
		name, in, want string
		format         Format
	}{
		{"plain", "connection refused to 10.0.0.1", "connection refused to 10.0.0.1", FormatPlain},
		{"json message", `{"level":"error","message":"db timeout after 30s","ts":1}`, "db timeout after 30s", FormatJSON},
		{"json msg fallback", `{"msg":"hello \"world\"","level":"info"}`, `hello "world"`, FormatJSON},
		{"json priority", `{"msg":"second","message":"first"}`, "first", FormatJSON},
		{"json without field", `{"level":"info","count":3}`, `{"level":"info","count":3}`, FormatPlain},
		{"json non-string field", `{"message":42}`, `{"message":42}`, FormatPlain},
		{"broken json", `{"message":"unterminated}`, `{"message":"unterminated}`, FormatPlain},
		{"logfmt quoted", `ts=2024-01-01 level=warn msg="slow query took 35s" db=users`, "slow query took 35s", FormatLogfmt},
		{"logfmt bare", `level=info msg=started port=8080`, "started", FormatLogfmt},
		{"logfmt escaped", `level=info msg="say \"hi\"" x=1`, `say "hi"`, FormatLogfmt},
		{"logfmt unterminated", `level=info msg="oops`, `level=info msg="oops`, FormatPlain},
		{"one pair is prose", `retry=3 failed for user`, `retry=3 failed for user`, FormatPlain},
		{"key suffix not matched", `level=info xmsg=nope other=1`, `level=info xmsg=nope other=1`, FormatPlain},
		{"empty", "", "", FormatPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, format := Extract(tt.in, fields)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.format, format)
		})
	}
}

func TestExtractNoFields(t *testing.T) {
	in := `{"message":"x"}`
	got, format := Extract(in, nil)
	assert.Equal(t, in, got, "returned verbatim")
	assert.Equal(t, FormatPlain, format)
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{`{"message":"a"}`, `msg="x" a=b`, "plain", `{"msg":`, `a= msg="\`, "\xff\xfe="} {
		f.Add(s)
	}
	f.Fuzz(func(_ *testing.T, s string) {
		_, _ = Extract(s, []string{"message", "msg"})
	})
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package logmsg extracts the human message from structured log lines (JSON objects and logfmt),
// so that template mining sees "connection refused" rather than a whole JSON document.
package logmsg // import "github.com/otelcol-aiops/otelcol-aiops/internal/logmsg"

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Format is the detected encoding of a line.
type Format uint8

const (
	// FormatPlain is an unstructured line; the message is the line itself.
	FormatPlain Format = iota
	// FormatJSON is a JSON object carrying one of the message fields.
	FormatJSON
	// FormatLogfmt is a logfmt line carrying one of the message fields.
	FormatLogfmt
)

// Extract returns the message of line: the value of the first of fields found in a JSON object
// or in logfmt key=value pairs, otherwise the line itself. It never fails: malformed structured
// input is treated as plain text.
func Extract(line string, fields []string) (string, Format) {
	if len(fields) == 0 || len(line) < 3 {
		return line, FormatPlain
	}
	trimmed := strings.TrimSpace(line)
	if len(trimmed) >= 2 && trimmed[0] == '{' && trimmed[len(trimmed)-1] == '}' {
		if msg, ok := fromJSON(trimmed, fields); ok {
			return msg, FormatJSON
		}
		return line, FormatPlain
	}
	if strings.IndexByte(line, '=') < 0 {
		return line, FormatPlain
	}
	if msg, ok := fromLogfmt(line, fields); ok {
		return msg, FormatLogfmt
	}
	return line, FormatPlain
}

func fromJSON(s string, fields []string) (string, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return "", false
	}
	for _, f := range fields {
		raw, ok := obj[f]
		if !ok || len(raw) == 0 || raw[0] != '"' {
			continue
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			continue
		}
		return v, true
	}
	return "", false
}

// fromLogfmt looks for `field=value` at the start of the line or after a space, where value is a
// bare word or a double-quoted string with Go/logfmt escapes. The line must hold at least two
// key=value pairs to count as logfmt, so "retry=3 failed" style prose is left alone.
func fromLogfmt(s string, fields []string) (string, bool) {
	if countPairs(s) < 2 {
		return "", false
	}
	for _, f := range fields {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], f+"=")
			if i < 0 {
				break
			}
			i += from
			from = i + len(f) + 1
			if i > 0 && s[i-1] != ' ' && s[i-1] != '\t' {
				continue
			}
			v := s[i+len(f)+1:]
			if v != "" && v[0] == '"' {
				end := closingQuote(v)
				if end < 0 {
					return "", false
				}
				u, err := strconv.Unquote(v[:end+1])
				if err != nil {
					return v[1:end], true
				}
				return u, true
			}
			if j := strings.IndexAny(v, " \t"); j >= 0 {
				v = v[:j]
			}
			return v, true
		}
	}
	return "", false
}

func closingQuote(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func countPairs(s string) int {
	n := 0
	for i := 1; i < len(s); i++ {
		if s[i] != '=' {
			continue
		}
		// key must be a non-empty run of key characters right before '='.
		j := i - 1
		for j >= 0 && isKeyByte(s[j]) {
			j--
		}
		if j < i-1 && (j < 0 || s[j] == ' ' || s[j] == '\t') {
			n++
		}
	}
	return n
}

func isKeyByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logmsg // import "github.com/otelcol-aiops/otelcol-aiops/internal/logmsg"

import "strings"

// maxScanLines bounds the lines of a multi-line message searched for an exception class.
const maxScanLines = 64

// FirstLine reduces a multi-line message (a stack trace, a wrapped error) to what identifies it:
// its first non-empty line, followed by the class of its root exception when the first line does
// not name it. The frames ("at ...", "... 12 more") vary from one occurrence to the next and
// would give every stack trace a template of its own; the exception class is what tells two
// failures apart. The root exception is the last "Caused by:" class, else the first class found.
// A single-line message is returned unchanged, without allocating.
func FirstLine(msg string) string {
	nl := strings.IndexByte(msg, '\n')
	if nl < 0 {
		return msg
	}
	first := ""
	var class, cause string
	rest := msg
	for i := 0; i < maxScanLines && rest != ""; i++ {
		line := rest
		if j := strings.IndexByte(rest, '\n'); j >= 0 {
			line, rest = rest[:j], rest[j+1:]
		} else {
			rest = ""
		}
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" {
			continue
		}
		if first == "" {
			first = line
		}
		if strings.HasPrefix(line, "at ") || strings.HasPrefix(line, "... ") {
			continue
		}
		if c, ok := strings.CutPrefix(line, "Caused by:"); ok {
			if k := exceptionClass(c); k != "" {
				cause = k
			}
			continue
		}
		if class == "" {
			class = exceptionClass(line)
		}
	}
	if cause != "" {
		class = cause
	}
	if first == "" {
		return strings.TrimSpace(msg)
	}
	if class == "" || strings.Contains(first, class) {
		return first
	}
	return first + " " + class
}

// exceptionClass returns the first word of s that looks like an exception or error class name
// (letters, digits, dots, $ and _, ending in Exception, Error or Throwable after a longer name),
// or "".
func exceptionClass(s string) string {
	for w := range strings.FieldsSeq(s) {
		w = strings.TrimRight(w, ":;,")
		if w == "" || !classChars(w) {
			continue
		}
		for _, suffix := range [...]string{"Exception", "Error", "Throwable"} {
			if len(w) > len(suffix) && strings.HasSuffix(w, suffix) {
				return w // a class name, not the bare word "Error"
			}
		}
	}
	return ""
}

func classChars(w string) bool {
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '$', c == '_':
		default:
			return false
		}
	}
	return true
}

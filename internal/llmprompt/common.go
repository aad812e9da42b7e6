// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmprompt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Data-block delimiters. Log-derived (untrusted) text is only ever placed
// between a begin and an end line produced by dataBlock.
const (
	blockOpen  = "<<<"
	blockClose = ">>>"
	// Replacements used to neutralise forged delimiters inside a body.
	blockOpenSafe  = "‹‹‹"
	blockCloseSafe = "›››"
)

var delimReplacer = strings.NewReplacer(blockOpen, blockOpenSafe, blockClose, blockCloseSafe)

// neutralise replaces every occurrence of the data-block delimiters so that
// untrusted text can never open or close a block.
func neutralise(s string) string {
	if !strings.Contains(s, blockOpen) && !strings.Contains(s, blockClose) {
		return s
	}
	// Replace repeatedly: replacing "<<<<" leaves no "<<<" behind, but be
	// defensive against any overlap pattern.
	for strings.Contains(s, blockOpen) || strings.Contains(s, blockClose) {
		s = delimReplacer.Replace(s)
	}
	return s
}

// dataBlock wraps untrusted, log-derived body text between
// "<<<BEGIN kind DATA>>>" and "<<<END kind DATA>>>" lines. Any "<<<" or ">>>"
// inside body (and kind) is neutralised first, so the body cannot forge an end
// marker. The result ends with a newline.
func dataBlock(kind, body string) string {
	kind = strings.ToUpper(strings.TrimSpace(neutralise(kind)))
	kind = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, kind)
	body = neutralise(body)
	var sb strings.Builder
	sb.Grow(len(body) + 2*len(kind) + 40)
	sb.WriteString(blockOpen + "BEGIN " + kind + " DATA" + blockClose + "\n")
	sb.WriteString(body)
	if body != "" && !strings.HasSuffix(body, "\n") {
		sb.WriteByte('\n')
	}
	sb.WriteString(blockOpen + "END " + kind + " DATA" + blockClose + "\n")
	return sb.String()
}

// clip truncates s to at most n runes, UTF-8 safe: when s is longer, the result is its first
// n-1 runes followed by "…". Invalid UTF-8 is replaced by U+FFFD. n <= 0 yields "". It reads
// at most n runes of s, so clipping a huge string is cheap.
func clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	valid := true
	cut, count := 0, 0
	for i := 0; i < len(s); count++ {
		if count == n {
			return strings.ToValidUTF8(s[:cut], "\uFFFD") + "…"
		}
		if count == n-1 {
			cut = i
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			valid = false
		}
		i += size
	}
	if valid {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// hashKey returns the hex sha256 of the parts, each length-prefixed (uvarint
// length then bytes), so ("ab","c") and ("a","bc") differ.
func hashKey(parts ...string) string {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	for _, p := range parts {
		n := binary.PutUvarint(buf[:], uint64(len(p)))
		h.Write(buf[:n])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

package miner

import "strings"

// A pattern is the masked form of a token: constant bytes, with each variable part encoded as
// the two bytes wcByte, kind. A wildcard matches any (possibly empty) run of bytes.

// indexWild returns the index of the first wildcard in p at or after from, or -1.
func indexWild(p string, from int) int {
	if from >= len(p) {
		return -1
	}
	i := strings.IndexByte(p[from:], wcByte)
	if i < 0 {
		return -1
	}
	return from + i
}

// matchPattern reports whether s matches pattern p.
func matchPattern(p, s string) bool {
	i := indexWild(p, 0)
	if i < 0 {
		return p == s
	}
	if !strings.HasPrefix(s, p[:i]) {
		return false
	}
	pos := i // s[pos:] is still to be matched by the wildcard and the rest of p
	pi := i + 2
	for {
		j := indexWild(p, pi)
		if j < 0 {
			lit := p[pi:]
			return len(s)-len(lit) >= pos && s[len(s)-len(lit):] == lit
		}
		lit := p[pi:j]
		k := strings.Index(s[pos:], lit)
		if k < 0 {
			return false
		}
		pos += k + len(lit)
		pi = j + 2
	}
}

// capturePattern appends the parts of s matched by the wildcards of p to dst. ok is false
// (and dst unchanged) when s does not match p.
func capturePattern(p, s string, dst []string) ([]string, bool) {
	i := indexWild(p, 0)
	if i < 0 {
		return dst, p == s
	}
	if !strings.HasPrefix(s, p[:i]) {
		return dst, false
	}
	n0 := len(dst)
	pos := i
	pi := i + 2
	for {
		j := indexWild(p, pi)
		if j < 0 {
			lit := p[pi:]
			if len(s)-len(lit) < pos || s[len(s)-len(lit):] != lit {
				return dst[:n0], false
			}
			return append(dst, s[pos:len(s)-len(lit)]), true
		}
		lit := p[pi:j]
		k := strings.Index(s[pos:], lit)
		if k < 0 {
			return dst[:n0], false
		}
		dst = append(dst, s[pos:pos+k])
		pos += k + len(lit)
		pi = j + 2
	}
}

// countWild returns the number of wildcards in p.
func countWild(p string) int {
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] == wcByte {
			n++
			i++
		}
	}
	return n
}

func isDelim(c byte) bool { return ctab[c]&cDelim != 0 }

// generalize returns a pattern matching everything a matches and also b: the common prefix
// and suffix of a and b, cut at delimiters, around one wildcard ("uid=0"/"uid=7" -> "uid=<*>",
// "com.apple.x:"/"com.apple.y:" -> "com.apple.<*>:"). Different wildcard kinds become "<*>".
func generalize(a, b string) string {
	if a == b {
		return a
	}
	p, m := stems(a, b)
	if p == 0 && m == len(a) {
		return wildString
	}
	var sb strings.Builder
	sb.Grow(p + 2 + len(a) - m)
	sb.WriteString(a[:p])
	sb.WriteByte(wcByte)
	sb.WriteByte(kindBuiltin)
	sb.WriteString(a[m:])
	return sb.String()
}

// stems returns the common prefix a[:p] and suffix a[m:] of a and b used by generalize.
func stems[T ~string | ~[]byte](a string, b T) (p, m int) {
	n := len(a)
	if len(b) < n {
		n = len(b)
	}
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	// cut the prefix right after its last delimiter
	p = i
	for p > 0 && !isDelim(a[p-1]) {
		p--
	}
	// common suffix of the remainders
	j := 0
	for j < len(a)-p && j < len(b)-p && a[len(a)-1-j] == b[len(b)-1-j] {
		j++
	}
	// the suffix must start with a delimiter
	m = len(a) - j
	for m < len(a) && !isDelim(a[m]) {
		m++
	}
	return p, m
}

var wildString = string([]byte{wcByte, kindBuiltin})

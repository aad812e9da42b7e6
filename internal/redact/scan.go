// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package redact

import "strings"

// Pre-check bits: prescan sets the bit of every detector that could match, so that clean lines
// never reach a regular expression.
const (
	bitPEM uint32 = 1 << iota
	bitURL
	bitJWT
	bitToken
	bitBearer
	bitKV
	bitEmail
	bitCard
	bitPhone
	bitIP
)

// byte classes of the prescan loop
const (
	clsOther uint8 = iota
	clsDigit
	clsWord // letters and '_'
	clsMark // '<', ':', '=', '+', '(' and '.'
)

var classes = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = clsDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsWord
		t[c-'a'+'A'] = clsWord
	}
	t['_'] = clsWord
	for _, c := range "<:=+(." {
		t[c] = clsMark
	}
	return t
}()

// wordish marks the bytes of isWordChar.
var wordish = func() (t [256]bool) {
	for c := range t {
		t[c] = isWordChar(byte(c))
	}
	return t
}()

// prescan looks over s (skipping placeholders) and returns the bits of the detectors worth
// running. It must never miss a line a detector would match, and it must not allocate.
func prescan(s string, ips bool) uint32 {
	var bits uint32
	// 'J' is rare in logs, 'e' is not: find "eyJ" from its 'J'.
	for j := strings.IndexByte(s, 'J'); j >= 0; {
		if j >= 2 && s[j-2] == 'e' && s[j-1] == 'y' {
			bits |= bitJWT
			break
		}
		k := strings.IndexByte(s[j+1:], 'J')
		if k < 0 {
			break
		}
		j += 1 + k
	}
	if at := strings.IndexByte(s, '@'); at >= 0 {
		if u := strings.Index(s, "://"); u >= 0 && strings.IndexByte(s[u:], '@') >= 0 {
			bits |= bitURL
		}
		for at >= 0 {
			if at > 0 && isLocalChar(s[at-1]) && emailDomainAt(s[at+1:]) {
				bits |= bitEmail
				break
			}
			k := strings.IndexByte(s[at+1:], '@')
			if k < 0 {
				break
			}
			at += 1 + k
		}
	}
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch classes[c] {
		case clsOther:
			i++
			for i < n && classes[s[i]] == clsOther {
				i++
			}
		case clsDigit:
			// A run of digit groups joined by single spaces or dashes: card and phone candidates.
			seq := 0
			for {
				start := i
				for i < n && isDigit(s[i]) {
					i++
				}
				seq += i - start
				if i+1 >= n || !isDigit(s[i+1]) {
					break
				}
				if i-start == 3 && (s[i] == '-' || s[i] == '.') {
					bits |= bitPhone
				}
				if s[i] != ' ' && s[i] != '-' {
					break
				}
				i++
			}
			if seq >= 13 {
				bits |= bitCard
			}
		case clsWord:
			// At the start of a word: well-known token prefixes and auth schemes; then skip it.
			switch c {
			case 's', 'r', 'A', 'g', 'x':
				if tokenPrefix(s[i:]) {
					bits |= bitToken
				}
			case 'b', 'B':
				if hasPrefixFold(s[i:], "bearer") || hasPrefixFold(s[i:], "basic") {
					bits |= bitBearer
				}
				if i >= 5 && s[i-5:i] == "-----" && strings.HasPrefix(s[i:], "BEGIN ") {
					bits |= bitPEM
				}
			}
			i++
			for i < n && wordish[s[i]] {
				i++
			}
		default: // clsMark
			switch c {
			case '<':
				if l := placeholderLen(s[i:]); l > 0 {
					i += l
					continue
				}
			case ':', '=':
				if ips && c == ':' {
					bits |= bitIP
				}
				if bits&bitKV == 0 {
					if _, _, ok := secretKeyBefore(s, i); ok {
						bits |= bitKV
					}
				}
			case '.':
				if ips {
					bits |= bitIP
				}
			case '+':
				if i+1 < n && s[i+1] >= '1' && s[i+1] <= '9' {
					bits |= bitPhone
				}
			case '(':
				if i+4 < n && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) && s[i+4] == ')' {
					bits |= bitPhone
				}
			}
			i++
		}
	}
	return bits
}

// emailDomainAt reports whether t starts like the domain of an e-mail address: an alphanumeric,
// then domain characters up to a dot followed by two letters.
func emailDomainAt(t string) bool {
	if t == "" || !isAlnum(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if c == '.' {
			if i+2 < len(t) && isAlpha(t[i+1]) && isAlpha(t[i+2]) {
				return true
			}
			continue
		}
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	return false
}

// tokenPrefix reports whether t starts with the prefix of a well-known API key or token.
func tokenPrefix(t string) bool {
	switch t[0] {
	case 's':
		return strings.HasPrefix(t, "sk-") || strings.HasPrefix(t, "sk_live_") || strings.HasPrefix(t, "sk_test_")
	case 'r':
		return strings.HasPrefix(t, "rk_live_") || strings.HasPrefix(t, "rk_test_")
	case 'A':
		return strings.HasPrefix(t, "AKIA") || strings.HasPrefix(t, "ASIA") || strings.HasPrefix(t, "AIza")
	case 'g':
		if len(t) >= 4 && t[1] == 'h' && t[3] == '_' {
			switch t[2] {
			case 'p', 'o', 's', 'u', 'r':
				return true
			}
		}
		return strings.HasPrefix(t, "github_pat_") || strings.HasPrefix(t, "glpat-")
	case 'x':
		return (strings.HasPrefix(t, "xox") && len(t) > 4 && t[4] == '-') || strings.HasPrefix(t, "xapp-")
	}
	return false
}

// secretKeywords are the key suffixes that name a secret ('_' stands for any of _ - .).
var secretKeywords = [...]string{
	"password", "passwd", "pwd", "passphrase",
	"secret", "token",
	"api_key", "apikey", "access_key", "accesskey", "private_key", "privatekey", "secret_key", "secretkey",
	"auth", "authorization", "credentials", "credential",
	"session", "session_id", "sessionid", "session_key",
}

// isSecretKey reports whether key (ignoring trailing digits) ends with a secret keyword.
func isSecretKey(key string) bool {
	if !keywordTail(key) {
		return false
	}
	e := len(key)
	for e > 0 && isDigit(key[e-1]) {
		e--
	}
	k := key[:e]
	for _, kw := range secretKeywords {
		if hasKeySuffix(k, kw) {
			return true
		}
	}
	return false
}

// keywordTail is a cheap filter: whether s, ignoring trailing digits, ends with the last two
// letters of a secret keyword.
func keywordTail(s string) bool {
	e := len(s)
	for e > 0 && isDigit(s[e-1]) {
		e--
	}
	if e < 3 {
		return false
	}
	a, b := toLower(s[e-2]), toLower(s[e-1])
	switch b {
	case 'd':
		return a == 'r' || a == 'w' || a == 'i'
	case 'e':
		return a == 's'
	case 't':
		return a == 'e'
	case 'n':
		return a == 'e' || a == 'o'
	case 'y':
		return a == 'e'
	case 'h':
		return a == 't'
	case 's':
		return a == 'l'
	case 'l':
		return a == 'a'
	}
	return false
}

// hasKeySuffix reports whether key ends with kw, ASCII case-insensitively, where '_' in kw
// matches any of '_', '-' and '.'.
func hasKeySuffix(key, kw string) bool {
	if len(key) < len(kw) {
		return false
	}
	k := key[len(key)-len(kw):]
	for i := 0; i < len(kw); i++ {
		c, w := k[i], kw[i]
		if w == '_' {
			if c != '_' && c != '-' && c != '.' {
				return false
			}
			continue
		}
		if toLower(c) != w {
			return false
		}
	}
	return true
}

// secretKeyBefore looks at the key in front of the separator s[i] ('=' or ':'). It returns the
// key, whether blanks separate key and separator, and whether the key names a secret.
func secretKeyBefore(s string, i int) (key string, spaced, ok bool) {
	j := i
	if j > 0 {
		switch s[j-1] {
		case '!', '<', '>', '=', ':': // "!=", "<=", "==", "::"
			return "", false, false
		}
	}
	for k := 0; k < 3 && j > 0 && (s[j-1] == ' ' || s[j-1] == '\t'); k++ {
		j--
		spaced = true
	}
	quoted := false
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		quoted = true
		j--
		if j > 0 && s[j-1] == '\\' {
			j--
		}
	}
	e := j
	if !keywordTail(s[:e]) {
		return "", false, false
	}
	for j > 0 && isKeyChar(s[j-1]) {
		j--
	}
	if j == e {
		return "", false, false
	}
	if j > 0 && (s[j-1] == '/' || s[j-1] == '\\') { // a path such as /etc/passwd:
		return "", false, false
	}
	key = s[j:e]
	if !isSecretKey(key) {
		return "", false, false
	}
	if s[i] == ':' && !quoted && !spaced && isClassName(key) { // logger names: "INFO SparkSession: ..."
		return "", false, false
	}
	return key, spaced, true
}

// isClassName reports whether key looks like a (possibly qualified) class or logger name rather
// than a field name: a qualified name whose last part is capitalised, or a CamelCase word.
func isClassName(key string) bool {
	last := key
	qualified := false
	if k := strings.LastIndexByte(key, '.'); k >= 0 {
		last = key[k+1:]
		qualified = true
	}
	if last == "" || !isUpper(last[0]) || strings.ContainsAny(last, "_-") {
		return false
	}
	if qualified {
		return true
	}
	for k := 1; k+1 < len(last); k++ {
		if isLower(last[k]) && isUpper(last[k+1]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func isWordChar(c byte) bool { return isAlnum(c) || c == '_' }
func isKeyChar(c byte) bool  { return isWordChar(c) || c == '-' || c == '.' }
func isHex(c byte) bool      { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
func isSpace(c byte) bool    { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func toLower(c byte) byte {
	if isUpper(c) {
		return c + ('a' - 'A')
	}
	return c
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix p, ignoring case.
func hasPrefixFold(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if toLower(s[i]) != p[i] {
			return false
		}
	}
	return true
}

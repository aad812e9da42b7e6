// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package redact

import (
	"encoding/base64"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// detector finds values of one kind, either with a regular expression (plus an optional
// validation of each match) or with a hand-written scanner.
type detector struct {
	kind  kind
	bit   uint32 // pre-check bit; 0 runs the detector on every line
	re    *regexp.Regexp
	group int                                   // submatch replaced by re: 0 the whole match
	valid func(seg string, start, end int) bool // optional check of the replaced text seg[start:end]
	scan  func(seg string, off int, k kind, prio uint16, dst []span) []span
}

// find appends the spans found in seg, which starts at offset off of the whole text.
func (d *detector) find(seg string, off int, prio uint16, dst []span) []span {
	if d.scan != nil {
		return d.scan(seg, off, d.kind, prio, dst)
	}
	for _, m := range d.re.FindAllStringSubmatchIndex(seg, -1) {
		s, e := m[0], m[1]
		if d.group > 0 {
			s, e = m[2*d.group], m[2*d.group+1]
			if s < 0 {
				continue
			}
		}
		if e <= s || (d.valid != nil && !d.valid(seg, s, e)) {
			continue
		}
		dst = append(dst, span{start: off + s, end: off + e, kind: d.kind, prio: prio})
	}
	return dst
}

var (
	// The password may contain '@', ':', '?' and '#' (common unencoded); it runs to the last '@'
	// before a blank or '/'.
	reURLPass = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/?#@"'<>\\]*:([^\s/"'<>\\]+)@[A-Za-z0-9\[]`)
	reJWT     = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+){0,2}`)
	reToken   = regexp.MustCompile(`\b(?:` +
		`sk-[A-Za-z0-9_-]{20,}` +
		`|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}` +
		`|(?:AKIA|ASIA)[A-Z0-9]{16}\b` +
		`|gh[posur]_[A-Za-z0-9]{30,}` +
		`|github_pat_[A-Za-z0-9_]{20,}` +
		`|xox[abposr]-[A-Za-z0-9-]{10,}` +
		`|xapp-[A-Za-z0-9-]{10,}` +
		`|glpat-[A-Za-z0-9_-]{20,}` +
		`|AIza[A-Za-z0-9_-]{35,}` +
		`)`)
	reBearer = regexp.MustCompile(`(?i)\b(?:bearer|basic)\s+([A-Za-z0-9._~+/-]+=*)`)
	reEmail  = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b`)
)

// builtinDetectors returns the built-in detectors in priority order.
func builtinDetectors(ips bool) []detector {
	d := []detector{
		{kind: kindPrivateKey, bit: bitPEM, scan: scanPEM},
		{kind: kindURLPass, bit: bitURL, re: reURLPass, group: 1},
		{kind: kindJWT, bit: bitJWT, re: reJWT},
		{kind: kindSecret, bit: bitToken, re: reToken, valid: validToken},
		{kind: kindSecret, bit: bitBearer, re: reBearer, group: 1, valid: validBearer},
		{kind: kindSecret, bit: bitKV, scan: scanKV},
		{kind: kindEmail, bit: bitEmail, re: reEmail, valid: validEmail},
		{kind: kindCard, bit: bitCard, scan: scanCards},
		{kind: kindPhone, bit: bitPhone, scan: scanPhones},
	}
	if ips {
		d = append(d, detector{kind: kindIP, bit: bitIP, scan: scanIPs})
	}
	return d
}

// ---- PEM private keys ----

// scanPEM finds PEM private keys from the BEGIN to the END line. When no END line follows (a
// truncated log record), the key runs to the end of its base64 body.
func scanPEM(seg string, off int, k kind, prio uint16, dst []span) []span {
	noEnd := false // no END line after the current position: none after later ones either
	for i := 0; ; {
		b := strings.Index(seg[i:], "-----BEGIN ")
		if b < 0 {
			return dst
		}
		b += i
		h := pemBoundaryEnd(seg, b+len("-----BEGIN "))
		if h < 0 {
			i = b + len("-----BEGIN ")
			continue
		}
		e := -1
		if !noEnd {
			for from := h; ; {
				q := strings.Index(seg[from:], "-----END ")
				if q < 0 {
					noEnd = true
					break
				}
				q += from + len("-----END ")
				if e = pemBoundaryEnd(seg, q); e >= 0 {
					break
				}
				from = q
			}
		}
		if e < 0 {
			e = h
			for e < len(seg) && (isAlnum(seg[e]) || isSpace(seg[e]) || strings.IndexByte("+/=\\", seg[e]) >= 0) {
				e++
			}
		}
		dst = append(dst, span{start: off + b, end: off + e, kind: k, prio: prio})
		i = e
	}
}

// pemBoundaryEnd checks the label of a BEGIN/END line starting at s[i] ("RSA PRIVATE KEY-----")
// and returns the index after its closing dashes, or -1 when it is not a private key label.
func pemBoundaryEnd(s string, i int) int {
	j := i
	for j < len(s) && j-i <= 48 && (isUpper(s[j]) || isDigit(s[j]) || s[j] == ' ') {
		j++
	}
	label := s[i:j]
	if !strings.HasSuffix(label, "PRIVATE KEY") && !strings.HasSuffix(label, "PRIVATE KEY BLOCK") {
		return -1
	}
	if !strings.HasPrefix(s[j:], "-----") {
		return -1
	}
	return j + len("-----")
}

// validToken rejects sk-… words that are ordinary hyphenated names (sk-prod-cluster-node-01):
// real keys carry letters, digits and a long unbroken random run.
func validToken(seg string, s, e int) bool {
	t := seg[s:e]
	if !strings.HasPrefix(t, "sk-") {
		return true
	}
	body := t[3:]
	digit, letter, run, longest := false, false, 0, 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case isDigit(c):
			digit = true
		case isAlpha(c):
			letter = true
		}
		if c == '-' {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return digit && letter && longest >= 12
}

// validEmail skips user@host forms that are not personal addresses: the userinfo of a URL
// (ssh://deploy@host.example.com) and the git account of scp-style remotes (git@github.com:o/r).
func validEmail(seg string, s, _ int) bool {
	if s >= 3 && seg[s-3:s] == "://" {
		return false
	}
	return !strings.HasPrefix(seg[s:], "git@")
}

// validBearer checks the credential after "Bearer"/"Basic" outside an Authorization header,
// where the words also occur in prose ("Basic authentication failed").
func validBearer(seg string, s, e int) bool {
	tok := seg[s:e]
	j := s
	for j > 0 && isSpace(seg[j-1]) {
		j--
	}
	if j >= 5 && hasPrefixFold(seg[j-5:j], "basic") {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(tok, "="))
		if err != nil || len(raw) < 3 || !utf8.Valid(raw) {
			return false
		}
		colon := false
		for _, c := range raw {
			if c < 0x20 || c == 0x7f {
				return false
			}
			colon = colon || c == ':'
		}
		return colon
	}
	if len(tok) < 8 {
		return false
	}
	if len(tok) >= 20 {
		return true
	}
	return strings.ContainsAny(tok, "0123456789._~+/-=")
}

// ---- key=value secrets ----

// scanKV redacts the values of key=value, key: value and "key":"value" pairs whose key names a
// secret.
func scanKV(seg string, off int, k kind, prio uint16, dst []span) []span {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c != '=' && c != ':' {
			continue
		}
		key, spaced, ok := secretKeyBefore(seg, i)
		if !ok {
			continue
		}
		vs, ve := valueAfter(seg, i, key, spaced)
		if ve > vs && !trivialValue(seg[vs:ve], key) {
			dst = append(dst, span{start: off + vs, end: off + ve, kind: k, prio: prio})
		}
		if ve > i {
			i = ve - 1
		}
	}
	return dst
}

// valueAfter returns the bounds of the value following the separator s[i].
func valueAfter(s string, i int, key string, spaced bool) (int, int) {
	n := len(s)
	j := i + 1
	blanks := spaced
	if s[i] == ':' {
		if j < n && s[j] == '=' {
			j++
		} else if j < n && (s[j] == '/' || s[j] == ':') { // "://", "::"
			return 0, 0
		}
		blanks = true
	} else {
		if j < n && s[j] == '=' {
			return 0, 0
		}
		if j < n && s[j] == '>' {
			j++
			blanks = true
		}
	}
	if blanks {
		for j < n && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
	}
	if j >= n {
		return 0, 0
	}
	auth := hasKeySuffix(key, "authorization")
	switch {
	case s[j] == '\\' && j+1 < n && (s[j+1] == '"' || s[j+1] == '\''): // JSON inside a JSON string
		q := s[j+1]
		vs := j + 2
		if auth {
			vs = skipScheme(s, vs)
		}
		e := vs
		for e < n && (s[e] != '\\' || e+1 >= n || s[e+1] != q) {
			e++
		}
		return vs, e
	case s[j] == '"' || s[j] == '\'':
		q := s[j]
		vs := j + 1
		if auth {
			vs = skipScheme(s, vs)
		}
		e := vs
		for e < n && s[e] != q {
			if s[e] == '\\' && q == '"' && e+1 < n {
				e++
			}
			e++
		}
		return vs, e
	default:
		vs := j
		if auth {
			vs = skipScheme(s, vs)
		}
		e := vs
		for e < n && !isValueEnd(s[e]) {
			e++
		}
		return vs, e
	}
}

// skipScheme skips an authentication scheme ("Bearer ", "Basic ") at s[i:], so that only the
// credential is replaced. A scheme followed by nothing leaves no value at all.
func skipScheme(s string, i int) int {
	k := i
	for k < len(s) && isAlpha(s[k]) {
		k++
	}
	if k-i < 3 || k >= len(s) || s[k] != ' ' {
		return i
	}
	for k < len(s) && s[k] == ' ' {
		k++
	}
	if k >= len(s) || isValueEnd(s[k]) {
		return len(s)
	}
	return k
}

func isValueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '&', ',', ';', '"', '\'', '}', ']':
		return true
	}
	return false
}

var trivialValues = [...]string{
	"true", "false", "null", "nil", "none", "empty", "yes", "no", "on", "off",
	"enabled", "disabled", "required", "optional", "undefined", "n/a",
	"redacted", "[redacted]", "<redacted>", "[filtered]", "filtered", "hidden", "masked",
	"bearer", "basic", "digest", "negotiate", // a scheme without its credential
	"ok", "success", "succeeded", "failed", "failure", "error", "denied", "invalid", "expired",
	"missing", "present", "set", "unset", "valid", "accepted", "rejected", "changed", "updated",
}

// trivialValue reports values that are not secrets: flags, nulls, masks, templates, nested
// objects (their own keys are checked) and working directories (PWD=/home/x).
func trivialValue(v, key string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case '{', '[':
		return true
	case '/', '~':
		if hasKeySuffix(strings.TrimRight(key, "0123456789"), "pwd") {
			return true
		}
	}
	if strings.HasPrefix(v, "${") || strings.HasPrefix(v, "{{") {
		return true
	}
	if strings.Trim(v, "*") == "" {
		return true
	}
	for _, t := range trivialValues {
		if strings.EqualFold(v, t) {
			return true
		}
	}
	return false
}

// ---- card numbers ----

const maxCardGroups = 8

// scanCards finds 13-19 digit numbers, contiguous or grouped by one kind of separator (space or
// dash) in a card layout (4-4-4-4[-3], 4-6-5, 4-6-4), with a plausible issuer prefix for their
// length and a valid Luhn check digit.
func scanCards(seg string, off int, k kind, prio uint16, dst []span) []span {
	n := len(seg)
	var groups [maxCardGroups][2]int
	for i := 0; i < n; {
		if !isDigit(seg[i]) {
			i++
			continue
		}
		startOK := i == 0 || cardPrevOK(seg[i-1])
		ng, j := 0, i
		var sep byte
		for {
			gs := j
			for j < n && isDigit(seg[j]) {
				j++
			}
			groups[ng] = [2]int{gs, j}
			ng++
			if ng < maxCardGroups && j+1 < n && (seg[j] == ' ' || seg[j] == '-') && isDigit(seg[j+1]) && (sep == 0 || sep == seg[j]) {
				sep = seg[j]
				j++
				continue
			}
			break
		}
		lastOK := j == n || cardNextOK(seg, j)
		for g := 0; g < ng; {
			matched := 0
			if g > 0 || startOK {
				for w := min(ng-g, 5); w >= 1; w-- {
					if g+w == ng && !lastOK {
						continue
					}
					if cardWindow(seg, groups[g:g+w]) {
						matched = w
						break
					}
				}
			}
			if matched == 0 {
				g++
				continue
			}
			dst = append(dst, span{start: off + groups[g][0], end: off + groups[g+matched-1][1], kind: k, prio: prio})
			g += matched
		}
		i = j
		for i < n && isDigit(seg[i]) {
			i++
		}
	}
	return dst
}

// cardPrevOK rejects numbers glued to words, decimals, signs and paths (blk_-1234…, 0.1234…).
func cardPrevOK(c byte) bool {
	return !isWordChar(c) && c != '.' && c != '-' && c != '+' && c != '/' && c != '\\'
}

// cardNextOK rejects numbers followed by word characters or continued as decimals/ids.
func cardNextOK(s string, j int) bool {
	c := s[j]
	if isWordChar(c) {
		return false
	}
	if (c == '.' || c == '-' || c == ':') && j+1 < len(s) && isDigit(s[j+1]) {
		return false
	}
	return true
}

// cardWindow validates consecutive digit groups as one card number.
func cardWindow(s string, groups [][2]int) bool {
	total := 0
	for _, g := range groups {
		total += g[1] - g[0]
	}
	if total < 13 || total > 19 {
		return false
	}
	if len(groups) > 1 {
		l := func(i int) int { return groups[i][1] - groups[i][0] }
		shaped := true
		for i := 0; i < len(groups)-1; i++ {
			if l(i) != 4 {
				shaped = false
				break
			}
		}
		if last := l(len(groups) - 1); last < 1 || last > 4 {
			shaped = false
		}
		if !shaped && !(len(groups) == 3 && l(0) == 4 && l(1) == 6 && (l(2) == 4 || l(2) == 5)) {
			return false
		}
	}
	if !issuerOK(s[groups[0][0]], total) {
		return false
	}
	sum, double := 0, false
	for g := len(groups) - 1; g >= 0; g-- {
		for i := groups[g][1] - 1; i >= groups[g][0]; i-- {
			d := int(s[i] - '0')
			if double {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
			double = !double
		}
	}
	return sum%10 == 0
}

// issuerOK checks the major industry identifier against the number length: Visa 4 (13, 16, 19),
// Mastercard 2/5 (16; Maestro 5 up to 19), Amex/Diners/JCB 3 (14-19), Discover/UnionPay 6 (16-19).
// Numbers starting with 0, 1, 7, 8 or 9 (epoch timestamps, ids) are never cards.
func issuerOK(first byte, n int) bool {
	switch first {
	case '4':
		return n == 13 || n == 16 || n == 19
	case '2':
		return n == 16
	case '5', '6':
		return n >= 16
	case '3':
		return n >= 14
	}
	return false
}

// ---- phone numbers ----

// scanPhones finds E.164 numbers and separated national formats.
func scanPhones(seg string, off int, k kind, prio uint16, dst []span) []span {
	n := len(seg)
	for i := 0; i < n; i++ {
		c := seg[i]
		e := 0
		switch {
		case c == '+':
			e = matchE164(seg, i)
		case c == '(':
			e = matchParenPhone(seg, i)
		case isDigit(c):
			if i > 0 && isDigit(seg[i-1]) {
				continue
			}
			e = matchDashedPhone(seg, i)
		}
		if e > i {
			dst = append(dst, span{start: off + i, end: off + e, kind: k, prio: prio})
			i = e - 1
		}
	}
	return dst
}

// matchE164 matches '+' and 8-15 digits in groups separated by at most two of " -.()" at s[i:],
// returning the end of the longest match or 0.
func matchE164(s string, i int) int {
	n := len(s)
	if i > 0 {
		if p := s[i-1]; isWordChar(p) || p == '+' || p == '.' || p == '-' {
			return 0
		}
	}
	j := i + 1
	if j >= n || s[j] < '1' || s[j] > '9' {
		return 0
	}
	digits, best, bestGroups := 0, 0, 0
	var sizes [16]int
	ng := 0
	for {
		gs := j
		for j < n && isDigit(s[j]) {
			j++
		}
		digits += j - gs
		if digits > 15 {
			break
		}
		sizes[ng] = j - gs
		ng++
		if digits >= 8 && (j == n || !isWordChar(s[j])) {
			best, bestGroups = j, ng
		}
		k, cnt := j, 0
		for k < n && cnt < 2 && strings.IndexByte(" -.()", s[k]) >= 0 {
			k++
			cnt++
		}
		if cnt == 0 || k >= n || !isDigit(s[k]) {
			break
		}
		j = k
	}
	if best == 0 || (bestGroups == 3 && sizes[0] == 4 && sizes[1] == 2 && sizes[2] == 2) { // +2024-01-15
		return 0
	}
	return best
}

// runOf reports whether s[j:j+k] are exactly k digits (not followed by another digit).
func runOf(s string, j, k int) bool {
	if j+k > len(s) {
		return false
	}
	for i := j; i < j+k; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return j+k == len(s) || !isDigit(s[j+k])
}

// phoneEndOK rejects numbers that continue as words, decimals or longer dashed ids.
func phoneEndOK(s string, j int) bool {
	if j == len(s) {
		return true
	}
	c := s[j]
	if isWordChar(c) {
		return false
	}
	return !((c == '-' || c == '.') && j+1 < len(s) && isDigit(s[j+1]))
}

// matchParenPhone matches (ddd) ddd-dddd, (ddd)ddd-dddd, (ddd) ddd.dddd and (ddd) ddd dddd.
func matchParenPhone(s string, i int) int {
	if i > 0 && isWordChar(s[i-1]) {
		return 0
	}
	if !runOf(s, i+1, 3) || i+4 >= len(s) || s[i+4] != ')' {
		return 0
	}
	j := i + 5
	if j < len(s) && s[j] == ' ' {
		j++
	}
	if !runOf(s, j, 3) || j+3 >= len(s) {
		return 0
	}
	j += 3
	if c := s[j]; c != '-' && c != '.' && c != ' ' {
		return 0
	}
	j++
	if !runOf(s, j, 4) || !phoneEndOK(s, j+4) {
		return 0
	}
	return j + 4
}

// matchDashedPhone matches ddd-ddd-dddd and ddd.ddd.dddd (one separator throughout), optionally
// after a "1-" trunk prefix.
func matchDashedPhone(s string, i int) int {
	if i > 0 {
		if p := s[i-1]; isWordChar(p) || p == '.' || p == '-' || p == '+' || p == '/' {
			return 0
		}
	}
	if s[i] == '1' && i+2 < len(s) && (s[i+1] == '-' || s[i+1] == '.' || s[i+1] == ' ') {
		if e := dashed(s, i+2); e > 0 {
			return e
		}
	}
	return dashed(s, i)
}

func dashed(s string, j int) int {
	if !runOf(s, j, 3) || j+3 >= len(s) {
		return 0
	}
	sep := s[j+3]
	if sep != '-' && sep != '.' {
		return 0
	}
	j += 4
	if !runOf(s, j, 3) || j+3 >= len(s) || s[j+3] != sep {
		return 0
	}
	j += 4
	if !runOf(s, j, 4) || !phoneEndOK(s, j+4) {
		return 0
	}
	return j + 4
}

// ---- IP addresses ----

// scanIPs finds IPv4 and IPv6 addresses delimited by non-word characters. A port, prefix length
// or zone after the address is kept.
func scanIPs(seg string, off int, k kind, prio uint16, dst []span) []span {
	n := len(seg)
	for i := 0; i < n; {
		c := seg[i]
		if !isHex(c) && c != ':' {
			i++
			continue
		}
		if i > 0 && (isWordChar(seg[i-1]) || seg[i-1] == '.' || seg[i-1] == ':') {
			for i < n && (isWordChar(seg[i]) || seg[i] == '.' || seg[i] == ':') {
				i++
			}
			continue
		}
		j := i
		for j < n && (isHex(seg[j]) || seg[j] == ':' || seg[j] == '.') {
			j++
		}
		if j < n && isWordChar(seg[j]) {
			for j < n && (isWordChar(seg[j]) || seg[j] == '.' || seg[j] == ':') {
				j++
			}
			i = j
			continue
		}
		if l := ipPrefix(seg[i:j]); l > 0 {
			dst = append(dst, span{start: off + i, end: off + i + l, kind: k, prio: prio})
		}
		i = j
	}
	return dst
}

// ipPrefix returns the length of the IP address at the start of t (a run of hex digits, ':' and
// '.'), or 0.
func ipPrefix(t string) int {
	if c := strings.IndexByte(t, ':'); c >= 0 {
		v6 := strings.TrimRight(t, ".:")
		if plausibleIPv6(v6) {
			if a, err := netip.ParseAddr(v6); err == nil && a.Is6() {
				return len(v6)
			}
		}
		t = t[:c] // an IPv4 address followed by a port
	}
	v4 := strings.TrimRight(t, ".")
	if validIPv4(v4) {
		return len(v4)
	}
	return 0
}

// validIPv4 reports whether t is a dotted-quad IPv4 address (no leading zeros).
func validIPv4(t string) bool {
	parts, val, digits := 0, 0, 0
	for i := 0; i <= len(t); i++ {
		if i == len(t) || t[i] == '.' {
			if digits == 0 || val > 255 || (digits > 1 && t[i-digits] == '0') {
				return false
			}
			parts++
			val, digits = 0, 0
			continue
		}
		if !isDigit(t[i]) || digits == 3 {
			return false
		}
		val = val*10 + int(t[i]-'0')
		digits++
	}
	return parts == 4
}

// plausibleIPv6 is a cheap structural check before netip.ParseAddr (whose errors allocate):
// hex groups of at most 4 digits, and either "::" or 8 groups (7 with an IPv4 tail).
func plausibleIPv6(t string) bool {
	if len(t) < 2 || len(t) > 45 {
		return false
	}
	colons, group, hex := 0, 0, false
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == ':':
			colons++
			group = 0
		case c == '.':
			group = 0
		default:
			group++
			hex = true
			if group > 4 {
				return false
			}
		}
	}
	if !hex {
		return false
	}
	if strings.Contains(t, "::") {
		return colons >= 2
	}
	return colons == 7 || (colons == 6 && strings.IndexByte(t, '.') >= 0)
}

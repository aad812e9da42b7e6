package miner

import "strings"

// Built-in masking of variable tokens, written by hand: no regular expressions on the hot path.
//
// A line is split into words at whitespace (tokenize.go). Each word is split at "hard"
// delimiters (= , ; ( ) [ ] { } < > " ' | `), giving chunks. A chunk is first classified as a
// whole (path, URL, e-mail, IPv4[:port], IPv6/MAC/time, UUID, host:port, domain name, hex, id
// with '_' and digits, number with or without unit, ...). If it is not a variable as a whole,
// it is split at ':' into parts that are classified the same way, and the remaining constant
// parts are split at "soft" delimiters (. - + @ # $ % & ! ? * ~ / \ ^) into atoms; atoms that
// are numbers, hex ids or long digit-bearing identifiers are variables. Variable spans are
// written as a wildcard (wcByte, kind) pair; constant text is copied verbatim, so templates
// keep the original punctuation.

// Wildcard encoding inside patterns: wcByte followed by a kind byte in [kindBuiltin, 31].
// wcByte never occurs in token text because the tokenizer treats NUL as whitespace.
const (
	wcByte      = 0x00
	kindBuiltin = 0x01
)

// character classes
const (
	cDigit = 1 << iota
	cLower
	cUpper
	cHexLetter
	cSpace
	cHard  // hard delimiter: splits a word into chunks
	cSoft  // soft delimiter: splits a chunk into atoms
	cDelim // delimiter for pattern generalisation (pattern.go)
	cOther // neither a letter, a digit nor a space
	cEq    // '='
)

var ctab = func() (t [256]uint16) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= cDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= cUpper
	}
	for _, c := range "abcdefABCDEF" {
		t[c] |= cHexLetter
	}
	for _, c := range " \t\n\r\v\f\x00" {
		t[c] |= cSpace
	}
	for _, c := range "=,;()[]{}<>\"'|`" {
		t[c] |= cHard | cDelim
	}
	for _, c := range ".-+@#$%&!?*~/\\^" {
		t[c] |= cSoft
	}
	for _, c := range ".-:+@#$%&!?*~^" {
		t[c] |= cDelim
	}
	for c := 0; c < 256; c++ {
		if t[c]&(cDigit|cLower|cUpper|cSpace) == 0 {
			t[c] |= cOther
		}
	}
	t['='] |= cEq
	return t
}()

// stab holds the classes the word scanner needs, in one byte per character.
const (
	sSpace = 1 << iota
	sEq
	sDigit
	sOther // neither letter, digit, space nor '.'
	sDot
	sLetter
)

var stab = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		k := ctab[c]
		if k&cSpace != 0 {
			t[c] |= sSpace
		}
		if k&cEq != 0 {
			t[c] |= sEq
		}
		if k&cDigit != 0 {
			t[c] |= sDigit
		}
		if k&cOther != 0 {
			if c == '.' {
				t[c] |= sDot
			} else {
				t[c] |= sOther
			}
		}
		if k&(cLower|cUpper) != 0 {
			t[c] |= sLetter
		}
	}
	return t
}()

func isDigit(c byte) bool { return ctab[c]&cDigit != 0 }
func isAlpha(c byte) bool { return ctab[c]&(cLower|cUpper) != 0 }
func isAlnum(c byte) bool { return ctab[c]&(cLower|cUpper|cDigit) != 0 }
func isHex(c byte) bool   { return ctab[c]&(cDigit|cHexLetter) != 0 }
func isSpace(c byte) bool { return ctab[c]&cSpace != 0 }

// flags returned by the maskers (the token flags of tokenize.go)
const (
	mVar   = tVar   // at least one wildcard was written
	mAll   = tAll   // the whole input became a single wildcard
	mDigit = tDigit // constant text written contains a digit
)

// appendWild appends a wildcard of the given kind unless dst already ends with one
// (adjacent wildcards collapse).
func appendWild(dst []byte, base int, kind byte) []byte {
	if n := len(dst); n-2 >= base && dst[n-2] == wcByte {
		if dst[n-1] != kind {
			dst[n-1] = kindBuiltin
		}
		return dst
	}
	return append(dst, wcByte, kind)
}

// features of a chunk, computed in one pass.
type feat struct {
	digits                                           int  // number of digits
	alpha, colon, dot, slash, dash, under, at, other int  // 1 if present, else 0
	hexOnly                                          bool // only [0-9a-fA-F]
}

// presence bits for features(); pDigit must be 1 (it is also the digit counter increment)
const (
	pDigit = 1 << iota
	pHexLetter
	pLetter
	pColon
	pDot
	pSlash
	pDash
	pUnder
	pAt
	pOther
)

var ptab = func() (t [256]uint16) {
	for c := 0; c < 256; c++ {
		k := ctab[c]
		switch {
		case k&cDigit != 0:
			t[c] = pDigit
		case k&cHexLetter != 0:
			t[c] = pHexLetter
		case k&(cLower|cUpper) != 0:
			t[c] = pLetter
		case c == ':':
			t[c] = pColon
		case c == '.':
			t[c] = pDot
		case c == '/' || c == '\\':
			t[c] = pSlash
		case c == '-':
			t[c] = pDash
		case c == '_':
			t[c] = pUnder
		case c == '@':
			t[c] = pAt
		default:
			t[c] = pOther
		}
	}
	return t
}()

// features computes the digit count and, as 0/1, the presence of the other classes.
func features(s string) (f feat) {
	var has uint16
	d := 0
	for i := 0; i < len(s); i++ {
		k := ptab[s[i]]
		has |= k
		d += int(k & pDigit)
	}
	bit := func(b uint16) int {
		if has&b != 0 {
			return 1
		}
		return 0
	}
	f.digits = d
	f.alpha = bit(pHexLetter | pLetter)
	f.colon = bit(pColon)
	f.dot = bit(pDot)
	f.slash = bit(pSlash)
	f.dash = bit(pDash)
	f.under = bit(pUnder)
	f.at = bit(pAt)
	f.other = bit(pOther)
	f.hexOnly = has&^(pDigit|pHexLetter) == 0
	return f
}

// maskWord appends the masked form of w (no whitespace inside) to dst and returns the token
// flags. or is the union of the character classes of w.
func maskWord(dst []byte, base int, w string, or uint8) ([]byte, uint8) {
	return maskWordC(dst, base, w, or, nil)
}

// maskWordC is maskWord with an optional word cache (base must be len(dst) when wc is set).
func maskWordC(dst []byte, base int, w string, or uint8, wc *wordCache) ([]byte, uint8) {
	switch {
	case or&(sDigit|sOther|sDot) == 0: // letters only: the common case
		if len(w) >= 3 && len(w) <= 5 && isBoolLike(w) {
			return appendWild(dst, base, kindBuiltin), tVar | tAll
		}
		return append(dst, w...), 0
	case or == sDigit: // an unsigned integer
		return appendWild(dst, base, kindBuiltin), tVar | tAll
	case or == sDigit|sDot && isDigit(w[0]) && isDigit(w[len(w)-1]): // 1.5, 10.0.0.1, 2.6.5
		return appendWild(dst, base, kindBuiltin), tVar | tAll
	}
	trail := len(w)
	for trail > 0 && isTrailPunct(w[trail-1]) {
		trail--
	}
	if trail > 0 {
		core := w[:trail]
		if or&sDigit == 0 {
			if lettersOnly(core) { // a word and punctuation: "failed:"
				if isBoolLike(core) {
					return append(appendWild(dst, base, kindBuiltin), w[trail:]...), tVar
				}
				return append(dst, w...), 0
			}
			if !hasPathChar(core) && !hasBoolRun(core) {
				// punctuation but no path, URL, e-mail or domain name: constant ("(TID", "a_b()")
				return append(dst, w...), tPunct
			}
		} else if alnumOnly(core) { // eth1, ssh2, 9f4ef63, 12ms
			if alnumVar(core) {
				f := uint8(tVar)
				if trail == len(w) {
					f |= tAll
				}
				return append(appendWild(dst, base, kindBuiltin), w[trail:]...), f
			}
			return append(dst, w...), tDigit
		}
	}
	if wc != nil {
		if dst, flags, ok := wc.lookup(dst, w); ok {
			return dst, flags
		}
		if wc.e != nil && wc.learn(base, w, trail) {
			dst, flags, _ := wc.lookup(dst, w)
			return dst, flags
		}
	}
	return maskWordSlow(dst, base, w, trail)
}

// maskWordSlow is the general masker behind maskWord's fast paths.
func maskWordSlow(dst []byte, base int, w string, trail int) ([]byte, uint8) {
	start := len(dst)
	dst, flags := maskWordFull(dst, base, w)
	flags &^= tAll
	if len(dst)-start == 2 && dst[start] == wcByte {
		flags |= tAll // e.g. host:port parts merged into one wildcard
	}
	if flags&tVar == 0 {
		for i := 0; i < trail; i++ {
			if ctab[w[i]]&cOther != 0 {
				flags |= tPunct
				break
			}
		}
	}
	return dst, flags
}

func alnumOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if ctab[s[i]]&(cLower|cUpper|cDigit) == 0 {
			return false
		}
	}
	return true
}

// alnumVar is the masking decision for a chunk of letters and digits (same as wholeVar and
// atomVar for such input).
func alnumVar(s string) bool {
	if isDigit(s[0]) {
		return true
	}
	d, hex := 0, true
	for i := 0; i < len(s); i++ {
		k := ctab[s[i]]
		if k&cDigit != 0 {
			d++
		} else if k&cHexLetter == 0 {
			hex = false
		}
	}
	return d >= 4 || (hex && len(s) >= 6) || (len(s) >= 10 && looksRandom(s))
}

// hasPathChar reports whether s has a character that paths, URLs, e-mail addresses or domain
// names need.
func hasPathChar(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/', '\\', '@', ':', '~', '.':
			return true
		}
	}
	return false
}

// hasBoolRun reports whether s has a run of letters (and '_') that is a boolean-like word.
func hasBoolRun(s string) bool {
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (ctab[s[i]]&(cLower|cUpper) != 0 || s[i] == '_') {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if n := i - start; n >= 3 && n <= 5 && isBoolLike(s[start:i]) {
				return true
			}
			start = -1
		}
	}
	return false
}

func lettersOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if ctab[s[i]]&(cLower|cUpper) == 0 {
			return false
		}
	}
	return true
}

func maskWordFull(dst []byte, base int, w string) ([]byte, uint8) {
	if k := strings.Index(w, "://"); k > 0 {
		// a URL runs to the end of the word, trailing punctuation and closing brackets aside
		s := k
		for s > 0 && (isAlnum(w[s-1]) || w[s-1] == '+' || w[s-1] == '-' || w[s-1] == '.') {
			s--
		}
		e := len(w)
		for e > k+3 && (isTrailPunct(w[e-1]) || w[e-1] == ')' || w[e-1] == ']' || w[e-1] == '}' || w[e-1] == '"' || w[e-1] == '\'' || w[e-1] == '>') {
			e--
		}
		if s < k && e > k+3 {
			var flags uint8
			if s > 0 {
				dst, flags = maskWordFull(dst, base, w[:s])
				flags &^= mAll
			}
			dst = appendWild(dst, base, kindBuiltin)
			dst = append(dst, w[e:]...)
			flags |= mVar
			if s == 0 && e == len(w) {
				flags |= mAll
			}
			return dst, flags
		}
	}
	var flags uint8
	i := 0
	chunks := 0
	allVar := true
	for i < len(w) {
		c := w[i]
		if ctab[c]&cHard != 0 {
			dst = append(dst, c)
			allVar = false
			i++
			continue
		}
		j := i + 1
		for j < len(w) && ctab[w[j]]&cHard == 0 {
			j++
		}
		var f uint8
		dst, f = maskChunk(dst, base, w[i:j])
		chunks++
		flags |= f &^ mAll
		if f&mAll == 0 {
			allVar = false
		}
		i = j
	}
	if allVar && chunks == 1 {
		flags |= mAll
	}
	return dst, flags
}

func isTrailPunct(c byte) bool {
	switch c {
	case '.', ',', ':', ';', '!', '?':
		return true
	}
	return false
}

// maskChunk appends the masked form of a chunk (no whitespace, no hard delimiters).
func maskChunk(dst []byte, base int, c string) ([]byte, uint8) {
	k := len(c)
	for k > 1 && isTrailPunct(c[k-1]) {
		k--
	}
	core, tail := c[:k], c[k:]
	var flags uint8
	if len(core) == 1 && isTrailPunct(core[0]) {
		return append(dst, c...), 0
	}
	f := features(core)
	if f.digits == len(core) { // a number
		dst = appendWild(dst, base, kindBuiltin)
		if tail == "" {
			return dst, mVar | mAll
		}
		return append(dst, tail...), mVar
	}
	if f.digits == 0 && f.colon+f.dot+f.slash+f.dash+f.under+f.at+f.other == 0 { // a word
		if isBoolLike(core) {
			dst = appendWild(dst, base, kindBuiltin)
			if tail == "" {
				return dst, mVar | mAll
			}
			return append(dst, tail...), mVar
		}
		return append(dst, c...), 0
	}
	switch {
	case wholeVar(core, &f):
		dst = appendWild(dst, base, kindBuiltin)
		flags = mVar
		if tail == "" {
			flags |= mAll
		}
	case f.colon > 0:
		dst, flags = maskColonParts(dst, base, core)
	default:
		dst, flags = maskAtoms(dst, base, core, &f)
	}
	if tail != "" {
		flags &^= mAll
	}
	dst = append(dst, tail...)
	return dst, flags
}

// maskColonParts splits s at ':' and masks each part.
func maskColonParts(dst []byte, base int, s string) ([]byte, uint8) {
	var flags uint8
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ':' {
			continue
		}
		if p := s[start:i]; p != "" {
			pf := features(p)
			all := true
			if !wholeVar(p, &pf) {
				var af uint8
				mark := len(dst)
				dst, af = maskAtoms(dst, base, p, &pf)
				flags |= af &^ mAll
				if all = af&mAll != 0; all {
					dst = dst[:mark]
				}
			}
			if all {
				// host:port, a:b:c of variables: one wildcard
				if n := len(dst); n-3 >= base && dst[n-1] == ':' && dst[n-3] == wcByte && dst[n-2] == kindBuiltin {
					dst = dst[:n-1]
				}
				dst = appendWild(dst, base, kindBuiltin)
				flags |= mVar
			}
		}
		if i < len(s) {
			dst = append(dst, ':')
		}
		start = i + 1
	}
	return dst, flags
}

// maskAtoms splits s (no ':' needed) at soft delimiters and masks variable atoms.
func maskAtoms(dst []byte, base int, s string, f *feat) ([]byte, uint8) {
	if f.digits == 0 {
		// no digits: only whole-word variables (booleans) can occur inside
		if f.dot == 0 && f.dash == 0 && f.other == 0 && f.slash == 0 && f.at == 0 {
			return append(dst, s...), 0
		}
	}
	var flags uint8
	start := len(dst)
	vars, consts, mixed := 0, 0, 0
	i := 0
	for i < len(s) {
		c := s[i]
		if ctab[c]&cSoft != 0 {
			dst = append(dst, c)
			i++
			continue
		}
		j := i + 1
		for j < len(s) && ctab[s[j]]&cSoft == 0 {
			j++
		}
		a := s[i:j]
		if atomVar(a) {
			dst = appendWild(dst, base, kindBuiltin)
			flags |= mVar
			vars++
		} else {
			dst = append(dst, a...)
			if hasDigit(a) {
				flags |= mDigit
				mixed++
			}
			consts++
		}
		i = j
	}
	if vars+mixed >= 2 && vars+mixed > consts-mixed {
		// mostly variable or digit-bearing (host/10.1.2.3, Package_for_KB1~31bf~amd64~~6.1.1.0,
		// R02-M1-N0-C): one variable
		dst = appendWild(dst[:start], base, kindBuiltin)
		return dst, mVar | mAll
	}
	return dst, flags
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// atomVar reports whether an atom (no delimiters except '_') is a variable.
func atomVar(a string) bool {
	if a == "" {
		return false
	}
	if isDigit(a[0]) {
		return true // number, number with unit, 2kSOSP, 1001rts
	}
	d, al, other := 0, 0, 0
	hex := true
	for i := 0; i < len(a); i++ {
		k := ctab[a[i]]
		switch {
		case k&cDigit != 0:
			d++
		case k&(cLower|cUpper) != 0:
			al++
			if k&cHexLetter == 0 {
				hex = false
			}
		default:
			other++
			hex = false
		}
	}
	if d == 0 {
		return isBoolLike(a)
	}
	if hex && len(a) >= 6 {
		return true
	}
	if other > 0 { // '_' inside: identifier with digits (rdd_2_1), not a name (jk2_init)
		return d >= 2 || hasNumericPart(a, '_')
	}
	return d >= 4 || (len(a) >= 10 && looksRandom(a))
}

// looksRandom reports whether an alphanumeric string switches between upper case, lower case
// and digits at least every other character (keys, tokens: Xq3vLmN8pTz0aBcD), unlike names
// such as AppleThunderboltNHIType2 or Log4jLoggerAdapter.
func looksRandom(a string) bool {
	changes := 0
	prev := uint16(0)
	for i := 0; i < len(a); i++ {
		k := ctab[a[i]] & (cDigit | cLower | cUpper)
		if i > 0 && k != prev {
			changes++
		}
		prev = k
	}
	return 2*changes >= len(a)
}

// wholeVar reports whether a chunk (or a ':'-free part) is a variable as a whole.
func wholeVar(s string, f *feat) bool {
	if len(s) == 0 {
		return false
	}
	// paths (a path with ':' inside is split at ':' first: /10.1.2.3:50010:Got)
	if isPathStart(s) && (f.colon == 0 || isDrive(s)) {
		return true
	}
	if f.digits == 0 {
		if f.colon > 0 {
			return isURL(s)
		}
		if f.at > 0 && isEmail(s) {
			return true
		}
		if f.dot > 0 && (isDomain(s) || f.slash > 0 && isDomainPath(s)) {
			return true
		}
		return f.other == 0 && f.dot == 0 && f.slash == 0 && isBoolLike(s)
	}
	if f.colon > 0 {
		if isURL(s) || isColonHex(s, f) || isHostPort(s) {
			return true
		}
		return false
	}
	// digits, no colon
	if f.hexOnly {
		// decimal numbers, hex ids (9f4ef63, 003a90fc); not short words like C1 or e820
		return f.alpha == 0 || isDigit(s[0]) || len(s) >= 6 || f.digits >= 4
	}
	c0 := s[0]
	if c0 == '-' || c0 == '+' {
		if len(s) > 1 && (isDigit(s[1]) || s[1] == '.') {
			c0 = s[1]
			if c0 == '.' {
				c0 = '0'
			}
		}
	}
	if isDigit(c0) {
		if f.slash > 0 {
			return false // split at '/' by maskAtoms: 0.0.0.0/0.0.0.0, 4/8
		}
		if isIntRange(s) {
			return false
		}
		return true
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return true
	}
	if f.under > 0 && f.slash == 0 && f.other == 0 && (f.digits >= 2 || hasNumericPart(s, '_')) {
		return true // blk_-123, job_2008_0001, attempt_..._m_000001_0, rdd_2_1; not jk2_init
	}
	if f.slash > 0 && f.dot > 0 && (isProductVersion(s) || isDomainPath(s)) {
		return true // HTTP/1.1, Mozilla/5.0, registry.example.com/team/api
	}
	if f.at > 0 && isEmail(s) {
		return true
	}
	if f.dot > 0 && isDomain(s) {
		return true
	}
	if f.dash > 0 && isUUIDish(s) {
		return true
	}
	if (s[0] == 'v' || s[0] == 'V') && isVersion(s[1:]) {
		return true
	}
	return false
}

// hasNumericPart reports whether one of the sep-separated parts of s is an integer
// (optionally signed).
func hasNumericPart(s string, sep byte) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != sep {
			continue
		}
		p := s[start:i]
		if len(p) > 0 && p[0] == '-' {
			p = p[1:]
		}
		if p != "" {
			num := true
			for k := 0; k < len(p); k++ {
				if !isDigit(p[k]) {
					num = false
					break
				}
			}
			if num {
				return true
			}
		}
		start = i + 1
	}
	return false
}

func isPlainNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+' || s[i] == '<' || s[i] == '>' || s[i] == '~') {
		i++
	}
	if i >= len(s) || !isDigit(s[i]) {
		return false
	}
	dots := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			dots++
			if dots > 1 || i == len(s)-1 {
				return false
			}
			continue
		}
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// isDomainPath: a domain name followed by a path (example.com/a/b), a URL without scheme.
func isDomainPath(s string) bool {
	k := strings.IndexByte(s, '/')
	return k > 0 && k < len(s)-1 && isDomain(s[:k])
}

// isProductVersion: name/1.2 (letters, '-' or '_' before the slash, a dotted version after).
func isProductVersion(s string) bool {
	k := 0
	for k < len(s) && s[k] != '/' {
		c := s[k]
		if !isAlpha(c) && c != '-' && c != '_' {
			return false
		}
		k++
	}
	return k > 0 && k < len(s) && isVersion(s[k+1:])
}

// isIntRange: 104-127 (two integers; dates such as 2017-05-16 are not ranges)
func isIntRange(s string) bool {
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' {
			if i == 0 || i == len(s)-1 || dash {
				return false
			}
			dash = true
			continue
		}
		if !isDigit(c) {
			return false
		}
	}
	return dash
}

func isVersion(s string) bool {
	if s == "" || !isDigit(s[0]) {
		return false
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if i == len(s)-1 || s[i+1] == '.' {
				return false
			}
			dots++
			continue
		}
		if !isDigit(c) {
			return false
		}
	}
	return dots > 0
}

// isPathStart: /abs/path, ~/x, ./x, ../x, \x, C:\x, C:/x
func isPathStart(s string) bool {
	if len(s) < 2 {
		return false
	}
	switch s[0] {
	case '/':
		return s[1] != '/' || len(s) > 2 // "//" alone is not a path
	case '\\':
		return isAlnum(s[1]) || s[1] == '_' || s[1] == '\\'
	case '~':
		return s[1] == '/'
	case '.':
		return s[1] == '/' || (len(s) > 2 && s[1] == '.' && s[2] == '/')
	}
	if len(s) > 3 && isAlpha(s[0]) && s[1] == ':' && (s[2] == '\\' || s[2] == '/') && !isSpace(s[3]) {
		return true
	}
	return false
}

func isDrive(s string) bool {
	return len(s) > 3 && isAlpha(s[0]) && s[1] == ':' && (s[2] == '\\' || s[2] == '/')
}

// isURL: scheme://rest
func isURL(s string) bool {
	for i := 1; i+3 <= len(s); i++ {
		c := s[i]
		if c == ':' {
			return i+3 < len(s) && s[i+1] == '/' && s[i+2] == '/'
		}
		if !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return false
}

// isColonHex: IPv6, MAC addresses, times such as 12:30:45 or 09:21:58.929: only hex digits,
// ':' and '.', at least two colons and one digit.
func isColonHex(s string, f *feat) bool {
	if f.digits == 0 || f.slash+f.dash+f.under+f.at+f.other > 0 {
		return false
	}
	colons := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			colons++
		}
	}
	if colons < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isHex(c) && c != ':' && c != '.' {
			return false
		}
	}
	// hex groups are at most 4 characters (IPv6) - longer runs are not addresses
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ':' || s[i] == '.' {
			run = 0
			continue
		}
		run++
		if run > 4 {
			return false
		}
	}
	return true
}

// isHostPort: host:port where host is an IPv4 address, a domain name, localhost, or a host
// name containing a digit (msra-sa-41:9000).
func isHostPort(s string) bool {
	c := -1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			c = i
			break
		}
	}
	if c <= 0 || c == len(s)-1 || len(s)-c-1 > 5 {
		return false
	}
	for i := c + 1; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	host := s[:c]
	digit := false
	for i := 0; i < len(host); i++ {
		ch := host[i]
		switch {
		case isDigit(ch):
			digit = true
		case isAlpha(ch), ch == '-', ch == '.':
		default:
			return false
		}
	}
	if isIPv4(host) || isDomain(host) || host == "localhost" {
		return true
	}
	return digit && isAlpha(host[0])
}

func isIPv4(s string) bool {
	groups, n := 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if n == 0 || n > 3 {
				return false
			}
			groups++
			n = 0
			continue
		}
		if !isDigit(s[i]) {
			return false
		}
		n++
	}
	return groups == 4
}

// isUUIDish: dash-separated hex groups (UUIDs and similar ids), with a digit, >= 16 hex chars.
func isUUIDish(s string) bool {
	groups, hexes, digits, n := 0, 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '-' {
			if n == 0 {
				return false
			}
			groups++
			n = 0
			continue
		}
		c := s[i]
		if !isHex(c) {
			return false
		}
		if isDigit(c) {
			digits++
		}
		hexes++
		n++
	}
	return groups >= 3 && digits > 0 && hexes >= 16
}

// isEmail: local@domain.tld
func isEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at <= 0 || at == len(s)-1 {
		return false
	}
	for i := 0; i < at; i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' && c != '+' {
			return false
		}
	}
	return isDomain(s[at+1:])
}

// isDomain: host name labels separated by dots whose last label is a well-known top-level
// domain (com, net, org, ..., or a country code that is not a common file extension).
func isDomain(s string) bool {
	last := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if i == 0 || s[i-1] == '.' {
				return false
			}
			last = i
			continue
		}
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	if last <= 0 || last == len(s)-1 {
		return false
	}
	return isTLD(s[last+1:])
}

func isTLD(t string) bool {
	if len(t) < 2 || len(t) > 11 {
		return false
	}
	var b [11]byte
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c < 'a' || c > 'z' {
			return false
		}
		b[i] = c
	}
	_, ok := tlds[string(b[:len(t)])] // no allocation: map lookup with converted key
	return ok
}

var tlds = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, s := range []string{
		"com", "net", "org", "edu", "gov", "mil", "io", "local", "localdomain", "lan", "arpa", "internal",
		"cn", "jp", "uk", "de", "fr", "ru", "hk", "tw", "kr", "br", "au", "ca", "us", "eu", "nl",
		"se", "ch", "om", "be", "dk", "fi", "nz", "za", "mx", "ar", "cz", "ie", "pt", "gr", "hu",
		"ro", "tr", "ua", "vn", "sg",
	} {
		m[s] = struct{}{}
	}
	return m
}()

// isBoolLike: booleans and the default strings the labelling guidelines treat as variables.
func isBoolLike(s string) bool {
	switch len(s) {
	case 3:
		return eqFold(s, "nil")
	case 4:
		return eqFold(s, "true") || eqFold(s, "null") || eqFold(s, "root")
	case 5:
		return eqFold(s, "false") || eqFold(s, "admin")
	}
	return false
}

// eqFold compares s with a lower-case ASCII word, ignoring ASCII case.
func eqFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

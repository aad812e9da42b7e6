package miner

import (
	"encoding/binary"
	"math/bits"
	"regexp"
	"unicode/utf8"
	"unsafe"
)

// token is one word of the current line: a whitespace-delimited word, or a span merged from
// several words (a number and its unit, a quoted value, the tail beyond MaxTokens).
// Offsets index the line (text) and the scratch buffer norm (masked form).
type token struct {
	hash           uint64
	ws, start, end int32 // whitespace before the token is line[ws:start], text line[start:end]
	ns, ne         int32 // masked form is norm[ns:ne]
	flags          uint8
}

// token flags
const (
	tVar   = 1 << iota // masked form contains a wildcard
	tAll               // masked form is exactly one wildcard
	tDigit             // constant text contains a digit
	tPunct             // constant text contains a character other than a letter or digit (trailing .,:;!? aside)
	tGen               // template token generalised by merging lines (not by masking)
)

// formFlags computes the token flags of a masked form.
func formFlags[T ~string | ~[]byte](b T) uint8 {
	var f uint8
	n := len(b)
	end := n
	for end > 0 && isTrailPunct(b[end-1]) {
		end--
	}
	for i := 0; i < n; i++ {
		c := b[i]
		if c == wcByte {
			f |= tVar
			i++
			continue
		}
		k := ctab[c]
		if k&cDigit != 0 {
			f |= tDigit
		} else if k&(cLower|cUpper) == 0 && i < end {
			f |= tPunct
		}
	}
	if n == 2 && b[0] == wcByte {
		f |= tAll
	}
	if f&tVar != 0 {
		f &^= tPunct // as the maskers: punctuation matters for constant tokens only
	}
	return f
}

// wordOr returns the union of the stab classes of s.
func wordOr(s string) uint8 {
	var or uint8
	for i := 0; i < len(s); i++ {
		or |= stab[s[i]]
	}
	return or
}

// span is a forced variable span of the line (user mask match or quoted value).
type span struct {
	start, end int32
	kind       byte
}

// maxQuoted bounds the length of a quoted key="value" that may contain spaces.
const maxQuoted = 256

// tokenizer holds the reusable scratch buffers of a Miner.
type tokenizer struct {
	seed uint64
	sig  uint64 // signature of the current line

	maybeQty, maybeDate bool // the current line may need mergeQuantities / markDates
	masks               []*regexp.Regexp
	toks                []token
	norm                []byte
	scratch             []byte // line signature
	words               *wordCache
	shapeBuf            []byte     // lineShape
	runs                []digitRun // digit runs of the line, from lineShape
	lits                []uint8    // literal digit runs, from literalRuns
	spans               []span
	wspans              []span
}

// truncate cuts line to at most max bytes on a rune boundary.
func truncate(line string, max int) (string, bool) {
	if len(line) <= max {
		return line, false
	}
	cut := max
	for k := 0; k < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(line[cut]); k++ {
		cut--
	}
	if cut == 0 || !utf8.RuneStart(line[cut]) {
		cut = max // invalid UTF-8: cut at the byte limit
	}
	return line[:cut], true
}

// tokenize splits line into t.toks, computing masked forms and hashes. It returns whether the
// token count was capped at maxTokens.
func (t *tokenizer) tokenize(line string, maxTokens int) bool {
	t.toks = t.toks[:0]
	t.norm = t.norm[:0]
	t.spans = t.spans[:0]
	if len(t.masks) > 0 {
		t.userSpans(line)
	}
	if len(t.spans) == 0 {
		t.scanPlain(line)
	} else {
		t.maybeQty, t.maybeDate = true, true
		t.scanSpans(line)
	}
	if len(t.toks) > 1 {
		if t.maybeQty {
			t.mergeQuantities(line)
		}
		if t.maybeDate {
			t.markDates(line)
		}
	}
	capped := false
	if len(t.toks) > maxTokens {
		t.capTokens(line, maxTokens)
		capped = true
	}
	// token hashes, and the line signature: the hash of the masked forms joined by sigSep
	s := t.scratch[:0]
	for k := range t.toks {
		tk := &t.toks[k]
		b := t.norm[tk.ns:tk.ne]
		tk.hash = hashBytes(b, t.seed)
		s = append(append(s, b...), sigSep...)
	}
	t.scratch = s
	t.sig = lineSig(s, len(t.toks), t.seed)
	return capped
}

// sigSep separates masked forms in a line signature; it never occurs inside one (wildcard
// kinds start at 1).
const sigSep = "\x00\x00"

func lineSig(joined []byte, ntoks int, seed uint64) uint64 {
	h := hashBytes(joined, seed) ^ uint64(ntoks)*0x9E3779B97F4A7C15
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>31
}

// SWAR word scanning: eight bytes at a time.
const (
	swarHi   = 0x8080808080808080
	swarLo7  = 0x7f7f7f7f7f7f7f7f
	swarOnes = 0x0101010101010101
)

// geq7 sets the high bit of every lane whose 7-bit value is >= n.
func geq7(x uint64, n uint64) uint64 { return ((x | swarHi) - n*swarOnes) & swarHi }

func load64(s string, i int) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i)) //nolint:gosec // G103: audited, callers guarantee i+8 <= len(s)
}

// scan8 advances from i over word bytes eight at a time, up to the first whitespace or '='
// (or a control byte, left to the byte loop), and returns the new position and the union of
// the stab classes of the bytes passed.
func scan8(s string, i int) (int, uint8) {
	var or uint8
	for i+8 <= len(s) {
		v := load64(s, i)
		high := v & swarHi
		x := v & swarLo7
		low := (^geq7(x, 0x21) & swarHi) &^ high // <= 0x20: space or control
		eq := (^geq7(x^(0x3d*swarOnes), 1) & swarHi) &^ high
		stop := low | eq
		digit := (geq7(x, 0x30) &^ geq7(x, 0x3a)) &^ high
		y := x | 0x2020202020202020
		letter := (geq7(y, 0x61) &^ geq7(y, 0x7b)) &^ high
		dot := (^geq7(x^(0x2e*swarOnes), 1) & swarHi) &^ high
		if stop != 0 {
			// keep only the lanes before the first stop
			keep := uint64(1)<<(uint(bits.TrailingZeros64(stop))&^7) - 1
			digit &= keep
			letter &= keep
			dot &= keep
			other := swarHi & keep &^ (digit | letter | dot)
			or |= classOr(digit, letter, dot, other)
			return i + bits.TrailingZeros64(stop)>>3, or
		}
		other := swarHi &^ (digit | letter | dot)
		or |= classOr(digit, letter, dot, other)
		i += 8
	}
	return i, or
}

func classOr(digit, letter, dot, other uint64) uint8 {
	var or uint8
	if digit != 0 {
		or |= sDigit
	}
	if letter != 0 {
		or |= sLetter
	}
	if dot != 0 {
		or |= sDot
	}
	if other != 0 {
		or |= sOther
	}
	return or
}

// Word cache. The masking decisions depend on the letters, the punctuation and the positions
// and lengths of digit runs of a word, never on the digit values. Words that need the general
// masker (uid=0, host:port, blk_-42, 12:30:45) are therefore looked up by their shape, the word
// with each digit run abstracted to its length, in a small direct-mapped cache of masked
// templates in which constant digit runs refer to the runs of the word.
const (
	wordCacheSize = 1024
	wordMaxRaw    = 64 // longer words are not cached
	wordMaxKey    = 32
	wordMaxTmpl   = 40
	wordMaxRuns   = 10
	runMark       = 0x20 // template bytes wcByte, runMark+k stand for digit run k of the word
)

type wordEntry struct {
	keyLen, tmplLen, flags uint8
	key                    [wordMaxKey]byte
	tmpl                   [wordMaxTmpl]byte
}

type wordCache struct {
	seed    uint64
	entries [wordCacheSize]wordEntry
	canon   []byte
	scratch []byte
	// shape of the word being looked up
	key   [wordMaxKey]byte
	keyN  int
	runs  [wordMaxRuns][2]int32 // start, length
	runsN int
	e     *wordEntry // slot of the word being looked up, nil if the word is not cacheable
}

// shape computes the key and digit runs of w; false if w is not cacheable.
func (c *wordCache) shape(w string) bool {
	if len(w) > wordMaxRaw {
		return false
	}
	kn, rn := 0, 0
	for i := 0; i < len(w); {
		if isDigit(w[i]) {
			j := i + 1
			for j < len(w) && isDigit(w[j]) {
				j++
			}
			if rn == wordMaxRuns || kn+2 > wordMaxKey {
				return false
			}
			c.runs[rn] = [2]int32{int32(i), int32(j - i)}
			rn++
			c.key[kn], c.key[kn+1] = wcByte, byte(j-i)
			kn += 2
			i = j
			continue
		}
		if kn == wordMaxKey {
			return false
		}
		c.key[kn] = w[i]
		kn++
		i++
	}
	c.keyN, c.runsN = kn, rn
	return true
}

// lookup appends the cached masked form of w.
func (c *wordCache) lookup(dst []byte, w string) ([]byte, uint8, bool) {
	c.e = nil
	if !c.shape(w) {
		return dst, 0, false
	}
	e := &c.entries[hashBytes(c.key[:c.keyN], c.seed)&(wordCacheSize-1)]
	c.e = e
	if int(e.keyLen) != c.keyN || string(e.key[:e.keyLen]) != string(c.key[:c.keyN]) {
		return dst, 0, false
	}
	t := e.tmpl[:e.tmplLen]
	for j := 0; j < len(t); j++ {
		b := t[j]
		if b == wcByte && j+1 < len(t) {
			if k := t[j+1]; k >= runMark {
				r := c.runs[k-runMark]
				dst = append(dst, w[r[0]:r[0]+r[1]]...)
			} else {
				dst = append(dst, b, k)
			}
			j++
			continue
		}
		dst = append(dst, b)
	}
	return dst, e.flags, true
}

// learn masks the canonical form of the word last looked up (digit run k written with the
// digit k, so that constant runs in the result are attributable) and stores the template.
// The masking rules depend on digit positions and run lengths only, so the template holds
// for every word of the same shape.
func (c *wordCache) learn(base int, w string, trail int) bool {
	e := c.e
	c.e = nil
	c.canon = append(c.canon[:0], w...)
	canon := c.canon
	for k := 0; k < c.runsN; k++ {
		r := c.runs[k]
		for i := r[0]; i < r[0]+r[1]; i++ {
			canon[i] = byte('0' + k)
		}
	}
	m, flags := maskWordSlow(c.scratch[:0], 0, bytesString(canon), trail)
	c.scratch = m
	var tmpl [wordMaxTmpl]byte
	tn := 0
	for j := 0; j < len(m); {
		b := m[j]
		switch {
		case b == wcByte && j+1 < len(m):
			if tn+2 > wordMaxTmpl {
				return false
			}
			tmpl[tn], tmpl[tn+1] = b, m[j+1]
			tn += 2
			j += 2
		case isDigit(b):
			k := j + 1
			for k < len(m) && m[k] == b {
				k++
			}
			run := int(b - '0')
			if run >= c.runsN || int32(k-j) != c.runs[run][1] || tn+2 > wordMaxTmpl {
				return false // not a whole run: do not cache
			}
			tmpl[tn], tmpl[tn+1] = wcByte, byte(runMark+run)
			tn += 2
			j = k
		default:
			if tn == wordMaxTmpl {
				return false
			}
			tmpl[tn] = b
			tn++
			j++
		}
	}
	e.keyLen = uint8(copy(e.key[:], c.key[:c.keyN]))
	e.tmplLen = uint8(copy(e.tmpl[:], tmpl[:tn]))
	e.flags = flags
	return true
}

// maskWordCached is maskWord for a whole word written at the end of dst, with the word cache.
func (t *tokenizer) maskWordCached(dst []byte, w string, or uint8) ([]byte, uint8) {
	return maskWordC(dst, len(dst), w, or, t.words)
}

// scanPlain splits line into words (no user mask spans) and masks them.
func (t *tokenizer) scanPlain(line string) {
	toks, norm := t.toks, t.norm
	n := len(line)
	i := 0
	qty, date := false, false
	prevVar := false
	for {
		ws := i
		for i < n && stab[line[i]]&sSpace != 0 {
			i++
		}
		if i >= n {
			break
		}
		start := i
		var or uint8
		quoted := false
		i, or = scan8(line, i)
		for i < n {
			k := stab[line[i]]
			if k&(sSpace|sEq) != 0 {
				if k&sSpace != 0 {
					break
				}
				if i+2 < n && (line[i+1] == '"' || line[i+1] == '\'') {
					if q := closeQuote(line, i+2, line[i+1]); q > i+2 {
						quoted = true
						break
					}
				}
			}
			or |= k
			i++
		}
		if quoted {
			// key="quoted value": the generic scanner handles it
			t.toks, t.norm = toks, norm
			t.scanWord(line, ws, start, 0)
			toks, norm = t.toks, t.norm
			i = int(toks[len(toks)-1].end)
			prevVar = toks[len(toks)-1].flags&tVar != 0
			continue
		}
		w := line[start:i]
		if prevVar && or&sLetter != 0 {
			qty = true // a unit may follow a number
		}
		if !date && or&sDigit == 0 && maybeName(w) {
			nw := trimOpen(w)
			date = isMonth(nw) || isWeekday(nw)
		}
		ns := len(norm)
		var f uint8
		norm, f = t.maskWordCached(norm, w, or)
		prevVar = f&tVar != 0
		toks = append(toks, token{ws: int32(ws), start: int32(start), end: int32(i), ns: int32(ns), ne: int32(len(norm)), flags: f})
	}
	t.toks, t.norm = toks, norm
	t.maybeQty, t.maybeDate = qty, date
}

// scanSpans splits line into words around the user mask spans.
func (t *tokenizer) scanSpans(line string) {
	n := len(line)
	sp := 0
	i := 0
	for {
		ws := i
		for i < n && isSpace(line[i]) && (sp >= len(t.spans) || int(t.spans[sp].start) != i) {
			i++
		}
		if i >= n {
			break
		}
		sp = t.scanWord(line, ws, i, sp)
		i = int(t.toks[len(t.toks)-1].end)
	}
}

// scanWord scans and masks the word starting at start, honouring the user mask spans from
// index sp and quoted key="values". It returns the next span index.
func (t *tokenizer) scanWord(line string, ws, start, sp int) int {
	n := len(line)
	i := start
	for sp < len(t.spans) && int(t.spans[sp].start) < i {
		sp++ // defensive: never happens with non-overlapping spans
	}
	t.wspans = t.wspans[:0]
	for i < n {
		if sp < len(t.spans) && int(t.spans[sp].start) == i {
			t.wspans = append(t.wspans, t.spans[sp])
			i = int(t.spans[sp].end)
			sp++
			continue
		}
		c := line[i]
		if isSpace(c) {
			break
		}
		if c == '=' && i+2 < n && (line[i+1] == '"' || line[i+1] == '\'') {
			if q := closeQuote(line, i+2, line[i+1]); q > i+2 && (sp >= len(t.spans) || int(t.spans[sp].start) >= q) {
				t.wspans = append(t.wspans, span{start: int32(i + 2), end: int32(q), kind: kindBuiltin})
				i = q
				continue
			}
		}
		i++
	}
	ns := len(t.norm)
	var f uint8
	if len(t.wspans) == 0 {
		t.norm, f = maskWord(t.norm, ns, line[start:i], wordOr(line[start:i]))
	} else {
		f = t.maskWithSpans(line, start, i)
	}
	t.toks = append(t.toks, token{ws: int32(ws), start: int32(start), end: int32(i), ns: int32(ns), ne: int32(len(t.norm)), flags: f})
	return sp
}

// closeQuote returns the index of the closing quote q for a quoted value starting at from, or -1.
func closeQuote(line string, from int, q byte) int {
	end := from + maxQuoted
	if end > len(line) {
		end = len(line)
	}
	for i := from; i < end; i++ {
		if line[i] == q {
			return i
		}
	}
	return -1
}

// maskWithSpans masks line[start:end] whose forced spans are in t.wspans.
func (t *tokenizer) maskWithSpans(line string, start, end int) uint8 {
	var flags uint8
	pos := start
	base := len(t.norm)
	for _, s := range t.wspans {
		if int(s.start) > pos {
			var f uint8
			t.norm, f = maskWord(t.norm, base, line[pos:s.start], wordOr(line[pos:s.start]))
			flags |= f
		}
		t.norm = appendWild(t.norm, base, s.kind)
		pos = int(s.end)
	}
	if pos < end {
		var f uint8
		t.norm, f = maskWord(t.norm, base, line[pos:end], wordOr(line[pos:end]))
		flags |= f
	}
	flags |= tVar
	flags &^= tPunct | tAll
	if len(t.norm)-base == 2 {
		flags |= tAll // one wildcard
	}
	return flags
}

// userSpans collects non-overlapping matches of the user masks, earlier masks first.
func (t *tokenizer) userSpans(line string) {
	for k, re := range t.masks {
		for _, m := range re.FindAllStringIndex(line, -1) {
			if m[1] <= m[0] {
				continue
			}
			s := span{start: int32(m[0]), end: int32(m[1]), kind: byte(kindBuiltin + 1 + k)}
			overlap := false
			for _, o := range t.spans {
				if s.start < o.end && o.start < s.end {
					overlap = true
					break
				}
			}
			if !overlap {
				t.spans = append(t.spans, s)
			}
		}
	}
	// insertion sort by start (few spans)
	for i := 1; i < len(t.spans); i++ {
		for j := i; j > 0 && t.spans[j].start < t.spans[j-1].start; j-- {
			t.spans[j], t.spans[j-1] = t.spans[j-1], t.spans[j]
		}
	}
}

// setWild replaces the masked form of toks[k] by a single wildcard followed by suffix.
func (t *tokenizer) setWild(k int, suffix string) {
	ns := len(t.norm)
	t.norm = append(t.norm, wcByte, kindBuiltin)
	t.norm = append(t.norm, suffix...)
	tk := &t.toks[k]
	tk.ns, tk.ne = int32(ns), int32(len(t.norm))
	tk.flags = tVar
	if suffix == "" {
		tk.flags |= tAll
	}
}

// mergeQuantities joins a number and a following unit word ("10 KB", "3 bytes (0.0 KB)",
// "<1 sec") into one variable token.
func (t *tokenizer) mergeQuantities(line string) {
	out := 0
	toks := t.toks
	for k := 0; k < len(toks); k++ {
		tk := toks[k]
		if tk.flags&tVar != 0 && k+1 < len(toks) && isPlainNumber(line[tk.start:tk.end]) {
			u := toks[k+1]
			if ucore, utail := splitUnit(line[u.start:u.end]); isUnit(ucore) {
				end := u.end
				suffix := utail
				// "N bytes (M KB)": absorb the parenthesised equivalent
				if utail == "" && k+3 < len(toks) {
					p, q := toks[k+2], toks[k+3]
					pt, qt := line[p.start:p.end], line[q.start:q.end]
					if len(pt) > 1 && pt[0] == '(' && isPlainNumber(pt[1:]) {
						qcore, qtail := splitUnit(qt)
						if isUnit(qcore) && len(qtail) > 0 && qtail[0] == ')' {
							end = q.end
							suffix = qtail[1:]
							k += 2
						}
					}
				}
				toks[out] = tk
				toks[out].end = end
				t.setWild(out, suffix)
				out++
				k++
				continue
			}
		}
		toks[out] = tk
		out++
	}
	t.toks = toks[:out]
}

// splitUnit splits trailing punctuation off a word: "KB)," -> "KB", "),".
func splitUnit(w string) (string, string) {
	k := len(w)
	for k > 0 {
		switch w[k-1] {
		case ',', ';', '.', ')', ']', ':':
			k--
			continue
		}
		break
	}
	return w[:k], w[k:]
}

// isUnit: size units and abbreviated time units. Spelled-out time units (seconds, minutes)
// stay constant text.
func isUnit(u string) bool {
	switch len(u) {
	case 1:
		return u == "B" || u == "K" || u == "M" || u == "G" || u == "s"
	case 2:
		switch u {
		case "KB", "kB", "MB", "GB", "TB", "PB", "Kb", "Mb", "Gb", "ms", "us", "ns", "µs":
			return true
		}
	case 3:
		switch u {
		case "KiB", "MiB", "GiB", "TiB", "sec", "min", "hrs":
			return true
		}
	case 4:
		return u == "secs" || u == "mins" || u == "byte"
	case 5:
		return u == "bytes"
	}
	return false
}

// markDates masks month and weekday names and time-zone abbreviations that are part of a
// date ("Fri Jun 17 07:07:00 2005", "Jun 14 15:16:01", "08:16:53 PDT 2005").
func (t *tokenizer) markDates(line string) {
	toks := t.toks
	text := func(k int) string { return trimOpen(line[toks[k].start:toks[k].end]) }
	isDay := func(k int) bool {
		if k < 0 || k >= len(toks) {
			return false
		}
		s := text(k)
		if len(s) > 0 && s[len(s)-1] == ',' {
			s = s[:len(s)-1]
		}
		return (len(s) == 1 || len(s) == 2) && isDigit(s[0]) && isDigit(s[len(s)-1])
	}
	months := false
	for k := range toks {
		if toks[k].flags&tVar == 0 && maybeName(line[toks[k].start:toks[k].end]) && isMonth(text(k)) && (isDay(k+1) || isDay(k-1)) {
			t.setWild(k, "")
			months = true
		}
	}
	if !months {
		return
	}
	for k := range toks {
		if toks[k].flags&tVar == 0 && isWeekday(text(k)) && k+1 < len(toks) && (toks[k+1].flags&tAll != 0) {
			t.setWild(k, "")
		}
	}
	for k := 1; k < len(toks); k++ {
		if toks[k].flags&tVar == 0 && toks[k-1].flags&tAll != 0 && isTZ(text(k)) {
			t.setWild(k, "")
		}
	}
}

func isMonth(s string) bool {
	if len(s) < 3 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	if s[len(s)-1] == ',' || s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	switch s {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
		"January", "February", "March", "April", "June", "July", "August", "September", "October",
		"November", "December":
		return true
	}
	return false
}

func isWeekday(s string) bool {
	if len(s) < 3 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	if s[len(s)-1] == ',' || s[len(s)-1] == ']' || s[len(s)-1] == ')' {
		s = s[:len(s)-1]
	}
	switch s {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
		"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday":
		return true
	}
	return false
}

func isTZ(s string) bool {
	switch s {
	case "UTC", "GMT", "Z", "PST", "PDT", "MST", "MDT", "CST", "CDT", "EST", "EDT", "CET", "CEST",
		"EET", "EEST", "WET", "WEST", "BST", "IST", "JST", "KST", "HKT", "SGT", "AEST", "AEDT":
		return true
	}
	return false
}

// maybeName is a cheap filter for month and weekday names: 3 to 11 bytes starting with an
// upper-case letter, possibly after an opening bracket.
func maybeName(s string) bool {
	if len(s) < 3 || len(s) > 11 {
		return false
	}
	c := s[0]
	if c == '[' || c == '(' {
		c = s[1]
	}
	return c >= 'A' && c <= 'Z'
}

// trimOpen drops opening brackets: "[Sun" -> "Sun".
func trimOpen(s string) string {
	for len(s) > 1 && (s[0] == '[' || s[0] == '(' || s[0] == '{' || s[0] == '<') {
		s = s[1:]
	}
	return s
}

// capTokens merges toks[max-1:] into one token whose masked form joins the masked forms
// with the original whitespace.
func (t *tokenizer) capTokens(line string, max int) {
	first := t.toks[max-1]
	ns := len(t.norm)
	t.norm = append(t.norm, t.norm[first.ns:first.ne]...)
	for _, tk := range t.toks[max:] {
		for i := tk.ws; i < tk.start; i++ {
			c := line[i]
			if c == wcByte {
				c = ' '
			}
			t.norm = append(t.norm, c)
		}
		t.norm = append(t.norm, t.norm[tk.ns:tk.ne]...)
	}
	last := t.toks[len(t.toks)-1]
	first.end = last.end
	first.ns, first.ne = int32(ns), int32(len(t.norm))
	first.flags = formFlags(t.norm[ns:])
	t.toks = t.toks[:max]
	t.toks[max-1] = first
}

// hashBytes is a fast seeded 64-bit hash of a token (not for adversarial use beyond the
// random per-Miner seed).
func hashBytes(b []byte, seed uint64) uint64 {
	const k0, k1 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9
	h := seed ^ uint64(len(b))*k0
	i := 0
	for ; i+8 <= len(b); i += 8 {
		h = bits.RotateLeft64((h^binary.LittleEndian.Uint64(b[i:]))*k1, 31) * k0
	}
	if i < len(b) {
		var v uint64
		if len(b) >= 8 {
			v = binary.LittleEndian.Uint64(b[len(b)-8:])
		} else {
			for j := len(b) - 1; j >= i; j-- {
				v = v<<8 | uint64(b[j])
			}
		}
		h = bits.RotateLeft64((h^v)*k1, 31) * k0
	}
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	h ^= h >> 33
	return h
}

func hashString(s string, seed uint64) uint64 {
	if s == "" {
		return hashBytes(nil, seed)
	}
	return hashBytes(unsafe.Slice(unsafe.StringData(s), len(s)), seed) //nolint:gosec // G103: audited read-only view; hashBytes never writes
}

// Line shapes. Masking depends on the letters, punctuation, whitespace and the positions and
// lengths of digit runs of a line, never on digit values (see wordCache). A line's shape is the
// line with every digit run abstracted to its length. Two lines with the same shape whose
// constant ("literal") digit runs are equal have the same masked token sequence, hence the
// same signature: the shape cache of the Miner maps a shape to the template, after checking
// the literal runs recorded with it.

type digitRun struct{ start, n int32 }

// maxLitRuns bounds the literal digit runs a cached shape may have.
const maxLitRuns = 8

// lineShape fills t.runs and returns the hash of the shape of line; false if the line has a
// digit run longer than 255 bytes.
func (t *tokenizer) lineShape(line string) (uint64, bool) {
	buf := t.shapeBuf[:0]
	runs := t.runs[:0]
	n := len(line)
	i := 0
	for i < n {
		if i+8 <= n {
			v := load64(line, i)
			high := v & swarHi
			x := v & swarLo7
			special := ((geq7(x, 0x30) &^ geq7(x, 0x3a)) | (^geq7(x, 1) & swarHi)) &^ high // digits, NUL
			if special == 0 {
				buf = binary.LittleEndian.AppendUint64(buf, v)
				i += 8
				continue
			}
			p := bits.TrailingZeros64(special) >> 3
			buf = append(buf, line[i:i+p]...)
			i += p
		}
		c := line[i]
		switch {
		case isDigit(c):
			j := i + 1
			for j < n && isDigit(line[j]) {
				j++
			}
			if j-i > 255 {
				t.shapeBuf, t.runs = buf, runs
				return 0, false
			}
			runs = append(runs, digitRun{int32(i), int32(j - i)})
			buf = append(buf, 0, byte(j-i))
			i = j
		case c == 0:
			buf = append(buf, 0, 0) // a NUL byte, distinct from a run marker (lengths are >= 1)
			i++
		default:
			buf = append(buf, c)
			i++
		}
	}
	t.shapeBuf, t.runs = buf, runs
	return hashBytes(buf, t.seed^0x5bd1e9955bd1e995), true
}

// literalRuns fills t.lits with the indices (in t.runs, which lineShape computed for the same
// line) of the digit runs that stay constant in the masked tokens; false when a token keeps
// some of its digits and masks others, or there are too many literal runs.
func (t *tokenizer) literalRuns(line string) bool {
	lits := t.lits[:0]
	r := 0
	for k := range t.toks {
		tk := &t.toks[k]
		first := r
		for r < len(t.runs) && t.runs[r].start < tk.end {
			r++
		}
		if tk.flags&tDigit == 0 {
			continue // no constant digits: every run of the token is masked
		}
		if string(t.norm[tk.ns:tk.ne]) != line[tk.start:tk.end] {
			t.lits = lits
			return false
		}
		for j := first; j < r; j++ {
			if len(lits) == maxLitRuns {
				t.lits = lits
				return false
			}
			lits = append(lits, uint8(j))
		}
	}
	t.lits = lits
	return r == len(t.runs) && len(t.runs) < 256
}

// litHash hashes the digits of the literal runs lits of line (runs from lineShape).
func (t *tokenizer) litHash(line string, lits []uint8) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, k := range lits {
		if int(k) >= len(t.runs) {
			return 0
		}
		r := t.runs[k]
		for _, c := range []byte(line[r.start : r.start+r.n]) {
			h ^= uint64(c)
			h *= 0x100000001b3
		}
		h ^= 0xff
		h *= 0x100000001b3
	}
	return h
}

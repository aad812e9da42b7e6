// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package redact removes secrets and personal data from text before it leaves the collector
// (sent to an LLM or written to a sink).
//
// Every redacted value is replaced by a pseudonymous placeholder such as <EMAIL:3f2a9c1b>, whose
// eight hex digits are the first four bytes of HMAC-SHA256(key, KIND+value). Equal values
// therefore map to equal placeholders (an LLM-result cache keyed by redacted text still hits, and
// the model can still see that "the same user failed 5 times"), while the value itself cannot be
// recovered without the key.
//
// Built-in detectors, in priority order (when two matches overlap, the earlier kind wins):
//
//   - PRIVATE_KEY: PEM private keys, BEGIN to END marker (multi-line; a truncated key is redacted
//     to the end of its base64 body).
//   - URLPASS: the password of scheme://user:password@host; scheme, user and host are kept.
//   - JWT: three base64url segments, the first starting with eyJ.
//   - SECRET: prefixed API keys and tokens (sk-…, AKIA…, ghp_…, xoxb-…, glpat-…, AIza…,
//     sk_live_…), Bearer/Basic credentials, and the value of key=value, key: value and
//     "key":"value" pairs whose key names a secret (password, token, api_key, secret, auth, …).
//   - EMAIL: e-mail addresses.
//   - CARD: 13-19 digit card numbers (optionally grouped by spaces or dashes) with a plausible
//     issuer prefix and a valid Luhn check digit.
//   - PHONE: E.164 numbers (+ and 8-15 digits) and separated national formats such as
//     (555) 123-4567 and 555-123-4567.
//   - IP: IPv4 and IPv6 addresses, only when Config.IPs is set.
//   - REDACTED: matches of the user patterns of Config.Patterns.
//
// Redact is idempotent: text inside placeholders is never matched again.
package redact // import "github.com/otelcol-aiops/otelcol-aiops/internal/redact"

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Config configures a Redactor. The zero value is usable: built-in detectors without IPs and a
// random per-process pseudonym key.
type Config struct {
	// IPs also redacts IPv4/IPv6 addresses (off by default: IPs are often useful and not secret).
	IPs bool `mapstructure:"ips"`
	// Patterns are extra user regular expressions (RE2 syntax). The whole match is replaced, or
	// only the first capture group when the expression has one (a match whose first group did not
	// participate or is empty is left alone).
	Patterns []string `mapstructure:"patterns"`
	// HashKey is the key of the keyed hash (HMAC-SHA256) used for pseudonyms. Empty means a
	// random per-process key: placeholders are then stable within one process only.
	HashKey string `mapstructure:"hash_key"`
}

// Validate reports the first pattern that is empty or not a valid regular expression.
func (c Config) Validate() error {
	for i, p := range c.Patterns {
		if p == "" {
			return fmt.Errorf("redact: patterns[%d]: empty pattern", i)
		}
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("redact: patterns[%d]: %w", i, err)
		}
	}
	return nil
}

// Redactor replaces secrets and personal data with pseudonymous placeholders. It is safe for
// concurrent use.
type Redactor struct {
	key    []byte
	ips    bool
	always bool // some detector (a user pattern) runs on every line
	dets   []detector
	macs   sync.Pool
	count  atomic.Uint64
}

// maxPasses bounds the redaction passes over one input. A pass only rescans text that the
// previous pass changed, so in practice the second pass confirms a fixpoint.
const maxPasses = 8

// New returns a Redactor for cfg.
func New(cfg Config) (*Redactor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key := []byte(cfg.HashKey)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("redact: generating a random hash key: %w", err)
		}
	}
	r := &Redactor{key: key, ips: cfg.IPs}
	r.macs.New = func() any { return hmac.New(sha256.New, r.key) }
	r.dets = builtinDetectors(cfg.IPs)
	for _, p := range cfg.Patterns {
		re := regexp.MustCompile(p) // validated above
		d := detector{kind: kindRedacted, re: re}
		if re.NumSubexp() > 0 {
			d.group = 1
		}
		r.dets = append(r.dets, d)
		r.always = true
	}
	return r, nil
}

// Count returns the number of values redacted so far.
func (r *Redactor) Count() uint64 {
	if r == nil {
		return 0
	}
	return r.count.Load()
}

// Redact returns s with every detected secret replaced by its placeholder. When nothing is found
// it returns s itself without allocating. Redact(Redact(s)) == Redact(s). A nil Redactor
// returns s unchanged.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	out := s
	for range maxPasses {
		next, n := r.pass(out)
		if n == 0 {
			break
		}
		r.count.Add(uint64(n))
		out = next
	}
	return out
}

// span is one value to replace: s[start:end] becomes a placeholder of kind. prio is the index
// of the detector that found it (lower wins on overlap).
type span struct {
	start, end int
	kind       kind
	prio       uint16
}

// pass runs every detector whose cheap pre-check fired over the text between existing
// placeholders, resolves overlaps by priority and renders the result.
func (r *Redactor) pass(s string) (string, int) {
	if s == "" {
		return s, 0
	}
	bits := prescan(s, r.ips)
	if bits == 0 && !r.always {
		return s, 0
	}
	var spans []span
	for i := range r.dets {
		d := &r.dets[i]
		if d.bit != 0 && bits&d.bit == 0 {
			continue
		}
		spans = collect(s, d, uint16(i), spans)
	}
	if len(spans) == 0 {
		return s, 0
	}
	spans = resolve(spans)
	return r.render(s, spans), len(spans)
}

// collect runs d over each stretch of s between placeholders.
func collect(s string, d *detector, prio uint16, dst []span) []span {
	start := 0
	for start < len(s) {
		ps, pe := nextPlaceholder(s, start)
		if ps > start {
			dst = d.find(s[start:ps], start, prio, dst)
		}
		start = pe
	}
	return dst
}

// resolve merges the per-detector runs of spans (each sorted and non-overlapping, concatenated
// in priority order) into one sorted, non-overlapping list, dropping lower-priority spans that
// overlap a higher-priority one.
func resolve(spans []span) []span {
	first := 0
	for first < len(spans) && spans[first].prio == spans[0].prio {
		first++
	}
	if first == len(spans) {
		return spans
	}
	acc := append(make([]span, 0, len(spans)), spans[:first]...)
	tmp := make([]span, 0, len(spans))
	for i := first; i < len(spans); {
		j := i
		for j < len(spans) && spans[j].prio == spans[i].prio {
			j++
		}
		run := spans[i:j]
		tmp = tmp[:0]
		a, b := 0, 0
		for a < len(acc) || b < len(run) {
			if b == len(run) || (a < len(acc) && acc[a].start <= run[b].start) {
				tmp = append(tmp, acc[a])
				a++
				continue
			}
			sp := run[b]
			b++
			if len(tmp) > 0 && tmp[len(tmp)-1].end > sp.start {
				continue
			}
			if a < len(acc) && acc[a].start < sp.end {
				continue
			}
			tmp = append(tmp, sp)
		}
		acc, tmp = tmp, acc
		i = j
	}
	return acc
}

const hexDigits = "0123456789abcdef"

// render replaces every span of s by its placeholder.
func (r *Redactor) render(s string, spans []span) string {
	var b strings.Builder
	b.Grow(len(s) + len(spans)*(maxKindLen+11))
	h := r.macs.Get().(hash.Hash)
	defer r.macs.Put(h)
	var sum [sha256.Size]byte
	var buf []byte
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		name := kindNames[sp.kind]
		buf = append(append(buf[:0], name...), s[sp.start:sp.end]...)
		h.Reset()
		h.Write(buf)
		d := h.Sum(sum[:0])
		b.WriteByte('<')
		b.WriteString(name)
		b.WriteByte(':')
		for _, x := range d[:4] {
			b.WriteByte(hexDigits[x>>4])
			b.WriteByte(hexDigits[x&0x0f])
		}
		b.WriteByte('>')
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// kind is the category of a redacted value; its name appears in the placeholder.
type kind uint8

const (
	kindPrivateKey kind = iota
	kindURLPass
	kindJWT
	kindSecret
	kindEmail
	kindCard
	kindPhone
	kindIP
	kindRedacted
)

var kindNames = [...]string{
	kindPrivateKey: "PRIVATE_KEY",
	kindURLPass:    "URLPASS",
	kindJWT:        "JWT",
	kindSecret:     "SECRET",
	kindEmail:      "EMAIL",
	kindCard:       "CARD",
	kindPhone:      "PHONE",
	kindIP:         "IP",
	kindRedacted:   "REDACTED",
}

const maxKindLen = len("PRIVATE_KEY")

// placeholderLen returns the length of the placeholder <KIND:xxxxxxxx> at the start of t, or 0.
func placeholderLen(t string) int {
	if len(t) < 12 || t[0] != '<' {
		return 0
	}
	j := 1
	for j < len(t) && j <= maxKindLen && (isUpper(t[j]) || t[j] == '_') {
		j++
	}
	if j == 1 || len(t) < j+10 || t[j] != ':' {
		return 0
	}
	if !knownKind(t[1:j]) {
		return 0
	}
	for k := j + 1; k < j+9; k++ {
		c := t[k]
		if !isDigit(c) && (c < 'a' || c > 'f') {
			return 0
		}
	}
	if t[j+9] != '>' {
		return 0
	}
	return j + 10
}

func knownKind(name string) bool {
	for _, k := range kindNames {
		if k == name {
			return true
		}
	}
	return false
}

// nextPlaceholder returns the bounds of the first placeholder at or after from, or
// (len(s), len(s)) when there is none.
func nextPlaceholder(s string, from int) (int, int) {
	for i := from; i < len(s); {
		k := strings.IndexByte(s[i:], '<')
		if k < 0 {
			break
		}
		i += k
		if l := placeholderLen(s[i:]); l > 0 {
			return i, i + l
		}
		i++
	}
	return len(s), len(s)
}

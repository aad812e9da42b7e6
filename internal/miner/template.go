package miner

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// Template is a mined log template. It is owned by the Miner; callers only read it, and
// reading must be serialised with calls that mutate the Miner (Train, UnmarshalBinary).
type Template struct {
	id    string
	str   string
	count int64
	toks  []ttok
	seq   uint64 // creation sequence number

	// LRU list (most recently used at the head of the Miner's list)
	prev, next *Template
	leaf       *node
	alive      bool
	mergedInto *Template // set when absorbed by a more general template
}

// ttok is one template token.
type ttok struct {
	ws    string // whitespace before the token (from the line that created the template)
	pat   string // pattern: constant text and wildcards
	hash  uint64 // hash of pat
	flags uint8  // tVar (contains a wildcard), tAll (is exactly one wildcard), tDigit
}

// ID returns the stable id: assigned at creation, kept while the template generalises and
// across MarshalBinary/UnmarshalBinary.
func (t *Template) ID() string { return t.id }

// String returns the template text, with "<*>" for variables and "<Name>" for user masks.
// The string is cached: no allocation per call.
func (t *Template) String() string { return t.str }

// Count returns the number of lines matched so far (including the one that created it).
func (t *Template) Count() int64 { return t.count }

// Current returns the template that now stands for t: t itself while it is live, the
// template that absorbed it if it was merged into a more general one, or nil if it was
// evicted (or dropped by UnmarshalBinary).
func (t *Template) Current() *Template {
	for t != nil && !t.alive {
		t = t.mergedInto
	}
	return t
}

// Tokens returns the number of tokens of the template.
func (t *Template) Tokens() int { return len(t.toks) }

func patFlags(p string) uint8 { return formFlags(p) }

// render builds the template string. names are the user mask names (kind 2 is names[0]).
func render(toks []ttok, names []string) string {
	n := 0
	for i := range toks {
		n += len(toks[i].ws) + len(toks[i].pat) + 4
	}
	var sb strings.Builder
	sb.Grow(n)
	for i := range toks {
		if i > 0 {
			sb.WriteString(toks[i].ws)
		}
		appendRendered(&sb, toks[i].pat, names)
	}
	return sb.String()
}

func appendRendered(sb *strings.Builder, p string, names []string) {
	for {
		j := strings.IndexByte(p, wcByte)
		if j < 0 {
			sb.WriteString(p)
			return
		}
		sb.WriteString(p[:j])
		kind := byte(kindBuiltin)
		if j+1 < len(p) {
			kind = p[j+1]
		}
		if k := int(kind) - kindBuiltin - 1; k >= 0 && k < len(names) {
			sb.WriteByte('<')
			sb.WriteString(names[k])
			sb.WriteByte('>')
		} else {
			sb.WriteString("<*>")
		}
		if j+2 > len(p) {
			return
		}
		p = p[j+2:]
	}
}

// templateID hashes the creation-time template with FNV-64a; on a collision with a live
// template, a counter is appended to the hashed text until the id is free.
func templateID(s string, taken func(string) bool) string {
	for n := 0; ; n++ {
		h := fnv.New64a()
		// hash.Hash.Write never returns an error.
		_, _ = h.Write([]byte(s))
		if n > 0 {
			_, _ = h.Write([]byte{0})
			_, _ = h.Write(strconv.AppendInt(nil, int64(n), 10))
		}
		id := strconv.FormatUint(h.Sum64(), 16)
		if len(id) < 16 {
			id = strings.Repeat("0", 16-len(id)) + id
		}
		if !taken(id) {
			return id
		}
	}
}

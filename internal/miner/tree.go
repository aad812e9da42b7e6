package miner

import (
	"cmp"
	"slices"
)

// Prefix tree: the first level is keyed by the token count, then Depth-2 levels keyed by the
// leading tokens. Tokens that are (partly) variable or contain digits go to the wildcard
// child, as do new tokens once a node has MaxChildren children. Leaves hold templates.

type node struct {
	parent *node
	key    uint64 // key in the parent (unused for wildcard children and length roots)
	isWild bool
	keys   []uint64
	kids   []*node
	wild   *node
	tmpls  []*Template
}

func (n *node) child(key uint64) *node {
	for i, k := range n.keys {
		if k == key {
			return n.kids[i]
		}
	}
	return nil
}

func (n *node) empty() bool {
	return len(n.tmpls) == 0 && len(n.keys) == 0 && n.wild == nil
}

// treeWild reports whether a token goes to the wildcard child.
func treeWild(flags uint8) bool { return flags&(tVar|tDigit|tPunct) != 0 }

// levels is the number of token levels below the length level.
func (m *Miner) levels(ntoks int) int {
	l := m.cfg.Depth - 2
	if ntoks < l {
		return ntoks
	}
	return l
}

// insert adds t to the leaf of its path, creating nodes as needed.
func (m *Miner) insert(t *Template) {
	nt := len(t.toks)
	for len(m.byLen) <= nt {
		m.byLen = append(m.byLen, nil)
	}
	cur := m.byLen[nt]
	if cur == nil {
		cur = &node{}
		m.byLen[nt] = cur
	}
	for i := 0; i < m.levels(nt); i++ {
		tt := &t.toks[i]
		var next *node
		if !treeWild(tt.flags) {
			next = cur.child(tt.hash)
			if next == nil && len(cur.keys) < m.cfg.MaxChildren {
				next = &node{parent: cur, key: tt.hash}
				cur.keys = append(cur.keys, tt.hash)
				cur.kids = append(cur.kids, next)
			}
		}
		if next == nil {
			if cur.wild == nil {
				cur.wild = &node{parent: cur, isWild: true}
			}
			next = cur.wild
		}
		cur = next
	}
	cur.tmpls = append(cur.tmpls, t)
	t.leaf = cur
}

// unlink removes t from its leaf and prunes empty nodes.
func (m *Miner) unlink(t *Template) {
	leaf := t.leaf
	if leaf == nil {
		return
	}
	t.leaf = nil
	for i, x := range leaf.tmpls {
		if x == t {
			last := len(leaf.tmpls) - 1
			leaf.tmpls[i] = leaf.tmpls[last]
			leaf.tmpls[last] = nil
			leaf.tmpls = leaf.tmpls[:last]
			break
		}
	}
	for n := leaf; n != nil && n.empty(); {
		p := n.parent
		if p == nil {
			// length root
			for i, r := range m.byLen {
				if r == n {
					m.byLen[i] = nil
					break
				}
			}
			return
		}
		if n.isWild {
			p.wild = nil
		} else {
			for i, k := range p.keys {
				if k == n.key && p.kids[i] == n {
					last := len(p.keys) - 1
					p.keys[i] = p.keys[last]
					p.kids[i] = p.kids[last]
					p.kids[last] = nil
					p.keys = p.keys[:last]
					p.kids = p.kids[:last]
					break
				}
			}
		}
		n = p
	}
}

// match is the outcome of a tree search.
type match struct {
	t *Template // best mergeable template, or the consolidation target
	// siblings (with t) differ from the line only in lower-case words at the same positions;
	// with the line they show enough distinct values to make those positions variables.
	siblings []*Template
}

// search returns the best template for the current tokens. Exact children are tried before
// the wildcard child; the first leaf holding a candidate above the threshold wins.
func (m *Miner) search(toks []token) match {
	nt := len(toks)
	if nt >= len(m.byLen) || m.byLen[nt] == nil {
		return match{}
	}
	m.leaves = 0
	return m.descend(m.byLen[nt], toks, 0, m.levels(nt))
}

// maxLeaves bounds the leaves one search visits (exact and wildcard paths can branch at
// every level).
const maxLeaves = 8

func (m *Miner) descend(n *node, toks []token, depth, levels int) match {
	if depth == levels {
		m.leaves++
		return m.best(n.tmpls, toks)
	}
	if m.leaves >= maxLeaves {
		return match{}
	}
	tk := &toks[depth]
	if !treeWild(tk.flags) {
		if c := n.child(tk.hash); c != nil {
			if r := m.descend(c, toks, depth+1, levels); r.t != nil {
				return r
			}
		}
	}
	if n.wild != nil {
		return m.descend(n.wild, toks, depth+1, levels)
	}
	return match{}
}

// best picks the template of ts most similar to toks. Templates that differ from the line in
// a constant word containing an upper-case letter are never candidates; templates that differ
// only in lower-case words are candidates only when at least siblingValues-1 of them differ at
// the same positions (the line brings the last distinct value).
func (m *Miner) best(ts []*Template, toks []token) match {
	var bt *Template
	bestEq := -1
	need := m.minScore(len(toks))
	m.soft = m.soft[:0]
	for _, t := range ts {
		if !canReach(t, toks, need) {
			continue
		}
		eq, soft, hard := m.score(t, toks)
		if eq < need || hard {
			continue
		}
		if soft == 0 {
			if eq > bestEq || (eq == bestEq && (t.count > bt.count || t.count == bt.count && t.seq < bt.seq)) {
				bt, bestEq = t, eq
			}
			continue
		}
		m.soft = append(m.soft, softCand{t: t, mask: soft})
	}
	if bt != nil || len(m.soft) < siblingValues-1 {
		return match{t: bt}
	}
	// group soft candidates by conflict positions: the first group large enough wins
	slices.SortStableFunc(m.soft, func(a, b softCand) int { return cmp.Compare(a.mask, b.mask) })
	for i := 0; i < len(m.soft); {
		j := i + 1
		for j < len(m.soft) && m.soft[j].mask == m.soft[i].mask {
			j++
		}
		if j-i >= siblingValues-1 {
			r := match{siblings: m.sibs[:0]}
			for _, c := range m.soft[i:j] {
				r.siblings = append(r.siblings, c.t)
				if r.t == nil || c.t.count > r.t.count || c.t.count == r.t.count && c.t.seq < r.t.seq {
					r.t = c.t
				}
			}
			m.sibs = r.siblings
			return r
		}
		i = j
	}
	return match{}
}

// siblingValues is the number of distinct lower-case words needed at a position before it is
// taken as a variable.
const siblingValues = 3

type softCand struct {
	t    *Template
	mask uint64
}

// minScore is the number of equal tokens needed for the similarity threshold.
func (m *Miner) minScore(n int) int {
	need := int(m.cfg.SimilarityThreshold*float64(n) + 0.999999)
	if need < 1 {
		need = 1
	}
	return need
}

// score counts the positions where the template token equals the line token, or is a
// pattern the line token matches (a bare template wildcard counts only against a line token
// that is itself a variable). It also classifies the positions where a constant word of the
// template differs from a constant word of the line: soft (bit set) when both are lower case,
// hard when either has an upper-case letter.
func (m *Miner) score(t *Template, toks []token) (eq int, soft uint64, hard bool) {
	norm := m.tok.norm
	for i := range toks {
		lt := &toks[i]
		tt := &t.toks[i]
		if tt.hash == lt.hash {
			eq++
			continue
		}
		if tt.flags&tVar != 0 {
			if tt.flags&tAll != 0 {
				if lt.flags&tAll != 0 {
					eq++
				}
				continue
			}
			if matchPattern(tt.pat, bytesString(norm[lt.ns:lt.ne])) {
				eq++
				continue
			}
			if tt.flags&tGen != 0 {
				continue // generalised before: a variable position
			}
			// a masked form against a different token: like lower-case words if they share
			// a stem (tty=:<*> / tty=NODEVssh), compared as words if not (num=<*> / topActivity=<*>)
			if p, m := stems(tt.pat, norm[lt.ns:lt.ne]); (p > 0 || m < len(tt.pat)) && i < 64 {
				soft |= 1 << uint(i)
				continue
			}
		}
		if lt.flags&tAll != 0 || (tt.flags&tVar == 0 && lt.flags&tVar != 0) {
			continue // a variable-looking difference
		}
		if i >= 64 {
			hard = true
			continue
		}
		lp := norm[lt.ns:lt.ne]
		// ids (bglio716/bglio91, Thunderbird_A8/Thunderbird_C5), dotted names sharing a
		// stem (com.apple.x/com.apple.y), values of one key (SHA256:x/SHA256:y) and lower-case
		// words are variables only once enough distinct values were seen; other words
		// (HTTPS/SOCKS5, Paused/Resumed) are constants.
		if idDiff(tt.pat, lp) || dottedStem(tt.pat, lp) || keyStem(tt.pat, lp) || (!hasUpper(tt.pat) && !hasUpperB(lp)) {
			soft |= 1 << uint(i)
			continue
		}
		hard = true
	}
	return eq, soft, hard
}

// canReach is a cheap upper bound on score's eq: only positions with an equal token hash or a
// variable in the template can count as equal. It lets best skip most templates of a crowded
// leaf (a flood of unrelated lines) without running the per-token word rules.
func canReach(t *Template, toks []token, need int) bool {
	possible := len(toks)
	for i := range toks {
		if t.toks[i].hash != toks[i].hash && t.toks[i].flags&tVar == 0 {
			possible--
			if possible < need {
				return false
			}
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

func hasUpperB(s []byte) bool {
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// idDiff reports whether a and b look like two values of one identifier: they share a
// prefix or a suffix, and the differing middles are alphanumeric with a digit.
func idDiff(a string, b []byte) bool {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	q := 0
	for q < len(a)-p && q < len(b)-p && a[len(a)-1-q] == b[len(b)-1-q] {
		q++
	}
	stem := false
	for i := 0; i < p && !stem; i++ {
		stem = isAlnum(a[i])
	}
	for i := len(a) - q; i < len(a) && !stem; i++ {
		stem = isAlnum(a[i])
	}
	if !stem {
		return false
	}
	// widen the difference to the enclosing alphanumeric run: A8/B8 differ in "A8"/"B8"
	for p > 0 && isAlnum(a[p-1]) {
		p--
	}
	for q > 0 && isAlnum(a[len(a)-q]) {
		q--
	}
	ma, mb := a[p:len(a)-q], b[p:len(b)-q]
	digit := false
	for i := 0; i < len(ma); i++ {
		if !isAlnum(ma[i]) {
			return false
		}
		digit = digit || isDigit(ma[i])
	}
	for _, c := range mb {
		if !isAlnum(c) {
			return false
		}
		digit = digit || isDigit(c)
	}
	return digit
}

// dottedStem reports whether a and b are dotted names that share a stem ending with '.'
// (com.apple.icloud.fmfd:, com.apple.Safari.Update:) or an extension (chrome.exe, QQ.exe).
func dottedStem(a string, b []byte) bool {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	for p > 0 && a[p-1] != '.' {
		p--
	}
	if p >= 2 && isAlnum(a[0]) {
		return identRest(a[p:]) && identRest(bytesString(b[p:]))
	}
	q := 0
	for q < len(a) && q < len(b) && a[len(a)-1-q] == b[len(b)-1-q] {
		q++
	}
	for q > 0 && a[len(a)-q] != '.' {
		q--
	}
	if q < 2 || q >= len(a) || q >= len(b) {
		return false
	}
	return identRest(a[:len(a)-q]) && identRest(bytesString(b[:len(b)-q])) && identRest(a[len(a)-q+1:])
}

func identRest(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' && c != '$' && (i != len(s)-1 || (c != ':' && c != ',')) {
			return false
		}
	}
	return true
}

// keyStem reports whether a and b are two values of one key: they share a prefix ending with
// '=' or ':' that contains a letter or digit (SHA256:abc / SHA256:xyz).
func keyStem(a string, b []byte) bool {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	for p > 0 && a[p-1] != '=' && a[p-1] != ':' {
		p--
	}
	for i := 0; i < p; i++ {
		if isAlnum(a[i]) {
			return p < len(a) && p < len(b)
		}
	}
	return false
}

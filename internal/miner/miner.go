package miner

import (
	"hash/maphash"
	"regexp"
	"slices"
	"strings"
	"unsafe"
)

// Status tells what Train did with a line.
type Status uint8

const (
	// StatusMatched: the line matched an existing template unchanged.
	StatusMatched Status = iota
	// StatusCreated: the line created a new template.
	StatusCreated
	// StatusGeneralized: the line matched a template that was generalised to cover it.
	StatusGeneralized
	// StatusChurnBlocked: no template matched and template creation is paused by the churn guard.
	StatusChurnBlocked
	// StatusEmpty: the line has no tokens.
	StatusEmpty
)

func (s Status) String() string {
	switch s {
	case StatusMatched:
		return "matched"
	case StatusCreated:
		return "created"
	case StatusGeneralized:
		return "generalized"
	case StatusChurnBlocked:
		return "churn_blocked"
	case StatusEmpty:
		return "empty"
	}
	return "unknown"
}

// Result is the outcome of Train.
type Result struct {
	Template  *Template // nil for StatusEmpty and StatusChurnBlocked
	Status    Status
	Truncated bool // line was cut to MaxLineLength
}

// Stats are cumulative counters of a Miner, plus the number of live templates.
type Stats struct {
	Lines, Created, Generalized, Evicted, ChurnBlocked, Truncated, TokensCapped, Empty uint64
	Live                                                                               int // templates in memory
	// Merged counts templates absorbed by a more general sibling (see Template.Current).
	Merged uint64
}

// cacheEntry maps a line signature (hash of the masked token sequence) to the template the
// sequence matched, so repeated lines skip the tree search.
type cacheEntry struct {
	sig uint64
	t   *Template
}

// shapeEntry maps a line shape to the template of its masked token sequence (tokenize.go),
// for the lines whose literal digit runs hash to lit.
type shapeEntry struct {
	shape uint64
	lit   uint64
	t     *Template
	nlit  uint8
	lits  [maxLitRuns]uint8
}

// Miner is an online Drain-style template miner. It is NOT goroutine-safe: the caller
// serialises all calls, including reads of the Templates it returned.
type Miner struct {
	cfg   Config
	names []string // user mask names
	tok   tokenizer

	byLen []*node // prefix-tree roots by token count
	ids   map[string]*Template
	head  *Template // most recently used
	tail  *Template // least recently used
	live  int
	seq   uint64 // creation sequence

	soft   []softCand  // scratch for best
	sibs   []*Template // scratch for best
	leaves int         // leaves visited by the current search

	cache     []cacheEntry
	shapes    []shapeEntry
	cacheMask uint64

	stats Stats

	// churn guard window
	winStart, winCreated, winEvicted, pausedUntil uint64
}

// New returns a Miner for cfg, or the error of cfg.Validate.
func New(cfg Config) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Miner{cfg: cfg}
	m.cfg.Masks = slices.Clone(cfg.Masks)
	for _, mk := range cfg.Masks {
		m.tok.masks = append(m.tok.masks, regexp.MustCompile(mk.Regex)) // validated above
		m.names = append(m.names, mk.Name)
	}
	m.tok.seed = maphash.String(maphash.MakeSeed(), "otelcol-aiops/miner")
	m.tok.words = &wordCache{seed: m.tok.seed}
	m.reset()
	size := 1024
	for size < 4*cfg.MaxTemplates && size < 1<<16 {
		size <<= 1
	}
	m.cache = make([]cacheEntry, size)
	m.shapes = make([]shapeEntry, size)
	m.cacheMask = uint64(size - 1)
	return m, nil
}

func (m *Miner) reset() {
	m.byLen = nil
	m.ids = make(map[string]*Template)
	m.head, m.tail = nil, nil
	m.live = 0
	m.seq = 0
}

// churnWindow is the number of lines over which the churn guard counts creations and
// evictions, and the number of lines creation stays paused once the guard trips.
func (m *Miner) churnWindow() uint64 {
	w := uint64(4 * m.cfg.MaxTemplates)
	if w < 1024 {
		w = 1024
	}
	return w
}

// churnMinCreations is the number of creations in a window below which the guard never trips.
const churnMinCreations = 8

func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	// Callers only use the result while b is unmodified and never retain it.
	return unsafe.String(&b[0], len(b)) //nolint:gosec // G103: audited zero-copy view of a scratch buffer, not retained
}

// prepare truncates and tokenizes line into the scratch buffers, without counting.
func (m *Miner) prepare(line string) string {
	line, _ = truncate(line, m.cfg.MaxLineLength)
	m.tok.tokenize(line, m.cfg.MaxTokens)
	return line
}

func (m *Miner) signature() uint64 { return m.tok.sig }

// shapeMatch looks a (truncated) line up in the shape cache. It returns the shape hash,
// whether the line has a usable shape, and the template, or nil.
func (m *Miner) shapeMatch(line string) (uint64, bool, *Template) {
	if len(m.tok.masks) > 0 {
		return 0, false, nil // user masks are regular expressions: values matter
	}
	h, ok := m.tok.lineShape(line)
	if !ok {
		return 0, false, nil
	}
	e := &m.shapes[h&m.cacheMask]
	if e.shape != h || e.t == nil || !e.t.alive {
		return h, true, nil
	}
	if e.nlit > 0 && m.tok.litHash(line, e.lits[:e.nlit]) != e.lit {
		return h, true, nil
	}
	return h, true, e.t
}

// shapeStore records the template of a line mined by the full path in the shape cache.
// t.runs still holds the digit runs of line (lineShape ran before tokenize).
func (m *Miner) shapeStore(line string, shape uint64, res *Result) {
	if res.Template == nil || !m.tok.literalRuns(line) {
		return
	}
	e := &m.shapes[shape&m.cacheMask]
	e.shape = shape
	e.t = res.Template
	e.nlit = uint8(copy(e.lits[:], m.tok.lits))
	e.lit = m.tok.litHash(line, e.lits[:e.nlit])
}

func (m *Miner) cacheGet(sig uint64, ntoks int) *Template {
	e := &m.cache[sig&m.cacheMask]
	if e.sig == sig && e.t != nil && e.t.alive && len(e.t.toks) == ntoks {
		return e.t
	}
	return nil
}

func (m *Miner) cachePut(sig uint64, t *Template) {
	e := &m.cache[sig&m.cacheMask]
	e.sig, e.t = sig, t
}

// Train mines one line: it matches the line against the templates, generalising the best
// one if needed, or creates a new template.
func (m *Miner) Train(line string) Result {
	m.stats.Lines++
	if m.stats.Lines-m.winStart >= m.churnWindow() {
		m.winStart, m.winCreated, m.winEvicted = m.stats.Lines, 0, 0
	}
	var res Result
	line, res.Truncated = truncate(line, m.cfg.MaxLineLength)
	if res.Truncated {
		m.stats.Truncated++
	}
	shape, shapeOK, shaped := m.shapeMatch(line)
	if shaped != nil {
		shaped.count++
		m.touch(shaped)
		res.Template, res.Status = shaped, StatusMatched
		return res
	}
	m.train(line, &res)
	if shapeOK {
		m.shapeStore(line, shape, &res)
	}
	return res
}

// train is the full path of Train: tokenize, look up the signature cache, search the tree,
// then merge or create.
func (m *Miner) train(line string, res *Result) {
	if m.tok.tokenize(line, m.cfg.MaxTokens) {
		m.stats.TokensCapped++
	}
	toks := m.tok.toks
	if len(toks) == 0 {
		m.stats.Empty++
		res.Status = StatusEmpty
		return
	}
	sig := m.signature()
	if t := m.cacheGet(sig, len(toks)); t != nil {
		t.count++
		m.touch(t)
		res.Template, res.Status = t, StatusMatched
		return
	}
	if r := m.search(toks); r.t != nil {
		t := r.t
		res.Status = StatusMatched
		changed := m.merge(t, toks)
		for _, u := range r.siblings {
			if u != t {
				m.absorb(t, u)
				changed = true
			}
		}
		if changed {
			res.Status = StatusGeneralized
			m.stats.Generalized++
		}
		t.count++
		m.touch(t)
		m.cachePut(sig, t)
		res.Template = t
		return
	}
	if m.blocked() {
		m.stats.ChurnBlocked++
		res.Status = StatusChurnBlocked
		return
	}
	t := m.create(line, toks)
	m.cachePut(sig, t)
	res.Template, res.Status = t, StatusCreated
}

// blocked reports whether the churn guard pauses template creation.
func (m *Miner) blocked() bool {
	if m.cfg.ChurnGuardRatio <= 0 {
		return false
	}
	if m.stats.Lines < m.pausedUntil {
		return true
	}
	if m.winCreated >= churnMinCreations && float64(m.winEvicted) > m.cfg.ChurnGuardRatio*float64(m.winCreated) {
		m.pausedUntil = m.stats.Lines + m.churnWindow()
		m.winStart, m.winCreated, m.winEvicted = m.stats.Lines, 0, 0
		return true
	}
	return false
}

// Match finds the template Train would match for line, without learning: no template is
// created or changed and counters are not updated. It returns nil if none is similar enough.
func (m *Miner) Match(line string) *Template {
	line, _ = truncate(line, m.cfg.MaxLineLength)
	shape, shapeOK, t := m.shapeMatch(line)
	if t != nil {
		return t
	}
	m.tok.tokenize(line, m.cfg.MaxTokens)
	toks := m.tok.toks
	if len(toks) == 0 {
		return nil
	}
	sig := m.signature()
	if t := m.cacheGet(sig, len(toks)); t != nil {
		return t
	}
	r := m.search(toks)
	if len(r.siblings) > 0 || r.t == nil {
		return nil // Train would merge several templates: no single match yet
	}
	if m.covers(r.t, toks) {
		// the template already covers the line as it is: Train would not change it, so the
		// caches may remember the match
		m.cachePut(sig, r.t)
		if shapeOK {
			res := Result{Template: r.t}
			m.shapeStore(line, shape, &res)
		}
	}
	return r.t
}

// covers reports whether every token of the line equals the template token or matches its
// pattern.
func (m *Miner) covers(t *Template, toks []token) bool {
	norm := m.tok.norm
	for i := range toks {
		tt, lt := &t.toks[i], &toks[i]
		if tt.hash == lt.hash || tt.flags&tAll != 0 {
			continue
		}
		if tt.flags&tVar == 0 || !matchPattern(tt.pat, bytesString(norm[lt.ns:lt.ne])) {
			return false
		}
	}
	return true
}

// Params appends the variable parts of line with respect to t to dst: one entry per
// wildcard of t, in order. If the line does not fit t (different token count), dst is
// returned unchanged; a token whose constant parts differ from t contributes its whole text
// for its first wildcard and empty strings for the others.
func (m *Miner) Params(t *Template, line string, dst []string) []string {
	if t == nil {
		return dst
	}
	line = m.prepare(line)
	toks := m.tok.toks
	if len(toks) != len(t.toks) {
		return dst
	}
	for i := range toks {
		tt := &t.toks[i]
		if tt.flags&tVar == 0 {
			continue
		}
		text := line[toks[i].start:toks[i].end]
		if tt.flags&tAll != 0 {
			dst = append(dst, text)
			continue
		}
		var ok bool
		if dst, ok = capturePattern(tt.pat, text, dst); !ok {
			dst = append(dst, text)
			for k := countWild(tt.pat); k > 1; k-- {
				dst = append(dst, "")
			}
		}
	}
	return dst
}

// Stats returns the counters.
func (m *Miner) Stats() Stats {
	s := m.stats
	s.Live = m.live
	return s
}

// Templates returns the live templates in creation order.
func (m *Miner) Templates() []*Template {
	out := make([]*Template, 0, m.live)
	for t := m.head; t != nil; t = t.next {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Template) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return out
}

// absorb generalises t to cover u, adds u's count to t and removes u, which then forwards
// to t (Template.Current).
func (m *Miner) absorb(t, u *Template) {
	changedLevel := false
	levels := m.levels(len(t.toks))
	for i := range t.toks {
		tt := &t.toks[i]
		np := generalize(tt.pat, u.toks[i].pat)
		if np == tt.pat {
			continue
		}
		oldWild := treeWild(tt.flags)
		tt.pat = np
		tt.hash = hashString(np, m.tok.seed)
		tt.flags = patFlags(np) | tGen
		if i < levels && treeWild(tt.flags) != oldWild {
			changedLevel = true
		}
	}
	t.str = render(t.toks, m.names)
	if changedLevel {
		m.unlink(t)
		m.insert(t)
	}
	t.count += u.count
	m.unlink(u)
	m.unlist(u)
	delete(m.ids, u.id)
	u.alive = false
	u.mergedInto = t
	m.live--
	m.stats.Merged++
}

// merge generalises t so that it covers toks. It reports whether t changed.
func (m *Miner) merge(t *Template, toks []token) bool {
	changed := false
	reindex := false
	levels := m.levels(len(toks))
	norm := m.tok.norm
	for i := range toks {
		lt := &toks[i]
		tt := &t.toks[i]
		if tt.hash == lt.hash || tt.flags&tAll != 0 {
			continue
		}
		lp := bytesString(norm[lt.ns:lt.ne])
		if tt.flags&tVar != 0 && matchPattern(tt.pat, lp) {
			continue
		}
		np := generalize(tt.pat, lp)
		if np == tt.pat {
			continue
		}
		oldWild := treeWild(tt.flags)
		tt.pat = np
		tt.hash = hashString(np, m.tok.seed)
		tt.flags = patFlags(np) | tGen
		changed = true
		if i < levels && treeWild(tt.flags) != oldWild {
			reindex = true
		}
	}
	if changed {
		t.str = render(t.toks, m.names)
		if reindex {
			m.unlink(t)
			m.insert(t)
		}
	}
	return changed
}

// create adds a template for the current line.
func (m *Miner) create(line string, toks []token) *Template {
	norm := m.tok.norm
	t := &Template{toks: make([]ttok, len(toks)), count: 1, alive: true}
	for i := range toks {
		lt := &toks[i]
		tt := &t.toks[i]
		tt.ws = strings.Clone(line[lt.ws:lt.start])
		tt.pat = string(norm[lt.ns:lt.ne])
		tt.hash = lt.hash
		tt.flags = lt.flags
	}
	t.str = render(t.toks, m.names)
	t.id = templateID(t.str, m.idTaken)
	m.add(t)
	m.stats.Created++
	m.winCreated++
	for m.live > m.cfg.MaxTemplates {
		m.evict(m.tail)
	}
	return t
}

func (m *Miner) idTaken(id string) bool { _, ok := m.ids[id]; return ok }

// add links a new template into the id index, the LRU list (as most recent) and the tree.
func (m *Miner) add(t *Template) {
	m.seq++
	t.seq = m.seq
	t.alive = true
	m.ids[t.id] = t
	m.pushFront(t)
	m.live++
	m.insert(t)
}

func (m *Miner) evict(t *Template) {
	m.unlink(t)
	m.unlist(t)
	delete(m.ids, t.id)
	t.alive = false
	m.live--
	m.stats.Evicted++
	m.winEvicted++
}

func (m *Miner) pushFront(t *Template) {
	t.prev = nil
	t.next = m.head
	if m.head != nil {
		m.head.prev = t
	}
	m.head = t
	if m.tail == nil {
		m.tail = t
	}
}

func (m *Miner) unlist(t *Template) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		m.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		m.tail = t.prev
	}
	t.prev, t.next = nil, nil
}

func (m *Miner) touch(t *Template) {
	if m.head == t {
		return
	}
	m.unlist(t)
	m.pushFront(t)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmprompt

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
)

// PromptVersion is the version of the prompts and of the answer schemas. It is part of every
// cache key, so changing the prompts invalidates cached answers.
const PromptVersion = "v2"

// Record is one analysed log record as the processor saw it.
type Record struct {
	TemplateID, Template, Message string
	Params                        []string
	SeverityNumber                int32     // OTel severity number; >=17 is error
	Time                          time.Time // zero or the Unix epoch when unknown
	// Statistical verdict of the processor's detectors.
	Detected               bool
	Type, Severity, Reason string
	Score                  float64
	// Weight is how many records this one stands for (a caller sampling normal records);
	// 0 and 1 mean itself only.
	Weight int
}

// Limits bound what a Window keeps. Zero (or negative) fields take the defaults 20, 2, 300, 3
// and 64; values above the hard maxima (200, 10, 4000, 20, 4096) are lowered to them.
type Limits struct {
	MaxTemplates            int // templates in a Window
	MaxExemplarsPerTemplate int // exemplar lines kept per template
	MaxExemplarLen          int // characters of one exemplar line
	MaxParamSamples         int // sample values kept per parameter position
	MaxDistinct             int // distinct values counted per parameter position (then ">=MaxDistinct")
}

// Defaults and hard maxima of Limits.
const (
	defMaxTemplates    = 20
	defMaxExemplars    = 2
	defMaxExemplarLen  = 300
	defMaxParamSamples = 3
	defMaxDistinct     = 64

	hardMaxTemplates    = 200
	hardMaxExemplars    = 10
	hardMaxExemplarLen  = 4000
	hardMaxParamSamples = 20
	hardMaxDistinct     = 4096
)

// Internal bounds of a WindowBuilder, whatever the input.
const (
	trackFactor        = 4         // templates tracked = trackFactor * MaxTemplates
	maxParamPositions  = 8         // parameter positions summarised per template
	maxParamSampleLen  = 80        // characters of one parameter sample
	maxNumericParamLen = 40        // longer values are not parsed as numbers
	maxTemplateTextLen = 400       // characters of a template text
	maxIDLen           = 64        // longer template ids are replaced by a hash
	maxTypeLen         = 64        // characters of a finding type
	maxReasonLen       = 300       // characters of a finding reason
	maxRedactInput     = 64 << 10  // bytes of a message given to redact
	omittedExactCap    = 1024      // omitted template ids counted exactly
	omittedSketchBits  = 1 << 14   // bits of the linear-counting sketch beyond that
	unknownTemplateID  = "none"    // id of records without a template id
	unknownFindingType = "unknown" // type of a detected record without a type
)

func (l Limits) withDefaults() Limits {
	fix := func(v, def, hardMax int) int {
		if v <= 0 {
			return def
		}
		return min(v, hardMax)
	}
	return Limits{
		MaxTemplates:            fix(l.MaxTemplates, defMaxTemplates, hardMaxTemplates),
		MaxExemplarsPerTemplate: fix(l.MaxExemplarsPerTemplate, defMaxExemplars, hardMaxExemplars),
		MaxExemplarLen:          fix(l.MaxExemplarLen, defMaxExemplarLen, hardMaxExemplarLen),
		MaxParamSamples:         fix(l.MaxParamSamples, defMaxParamSamples, hardMaxParamSamples),
		MaxDistinct:             fix(l.MaxDistinct, defMaxDistinct, hardMaxDistinct),
	}
}

// Finding is the statistical findings of one (Type, TemplateID), aggregated over the window:
// the highest severity and score, the reason of the highest-scored record, and the number of
// records.
type Finding struct {
	Type, TemplateID, Severity, Reason string
	Score                              float64
	Count                              int
}

// ParamSummary summarises the values of one parameter position of a template.
type ParamSummary struct {
	Position int // 0-based position in Record.Params
	// Distinct is the number of distinct values, counted up to MaxDistinct.
	Distinct int
	Samples  []string // first distinct values, redacted and clipped
	Numeric  bool     // every value was a finite number
	Min, Max float64  // range when Numeric
	// Saturated is set when Distinct reached MaxDistinct: there are ">= Distinct" values.
	Saturated bool
}

// TemplateStat is one template of a window.
type TemplateStat struct {
	ID, Template  string
	Count, Errors int
	Flagged       bool // some record of the template was flagged by the detectors
	Params        []ParamSummary
	Exemplars     []string // redacted, single-line, clipped; flagged and error records first
}

// Window is what the processor saw of one service during one window, compact enough for a
// prompt.
type Window struct {
	Service    string
	Start, End time.Time // first and last record time (UTC); zero when no record had a time
	Records    int
	Levels     map[string]int // "error","warn","info","debug","other" counts
	// Templates holds at most MaxTemplates templates: flagged first, then templates with
	// errors, then by count (descending); ties by ID.
	Templates []TemplateStat
	// Findings are aggregated per (Type, TemplateID), sorted by severity, score and count
	// (descending), then Type and TemplateID.
	Findings []Finding
	// OmittedTemplates is the number of templates seen but not in Templates (approximate
	// beyond about a thousand).
	OmittedTemplates int
}

// Flagged reports whether the window has any statistical finding (or flagged template).
func (w Window) Flagged() bool {
	if len(w.Findings) > 0 {
		return true
	}
	for i := range w.Templates {
		if w.Templates[i].Flagged {
			return true
		}
	}
	return false
}

// Level names of Window.Levels.
const (
	levelError = "error"
	levelWarn  = "warn"
	levelInfo  = "info"
	levelDebug = "debug"
	levelOther = "other"
)

var windowLevelNames = [...]string{levelError, levelWarn, levelInfo, levelDebug, levelOther}

func windowLevelIndex(sev int32) int {
	switch {
	case sev >= contract.SeverityNumberError:
		return 0
	case sev >= contract.SeverityNumberWarn:
		return 1
	case sev >= contract.SeverityNumberInfo:
		return 2
	case sev >= contract.SeverityNumberTrace:
		return 3
	default:
		return 4
	}
}

// WindowBuilder accumulates the records of one service's window in bounded memory. It is not
// safe for concurrent use.
type WindowBuilder struct {
	lim    Limits
	redact func(string) string

	service    string
	records    int
	seq        uint64
	levels     [len(windowLevelNames)]int
	start, end time.Time

	templates map[string]*windowTemplate
	findings  map[windowFindingKey]*windowFinding
	omitted   windowDistinct
}

type windowTemplate struct {
	id, text      string
	count, errors int
	flagged       bool
	firstSeq      uint64
	params        []windowParam
	exemplars     []windowExemplar
}

type windowParam struct {
	distinct  map[uint64]struct{}
	samples   []string
	seen      bool
	nonNumber bool
	min, max  float64
}

type windowExemplar struct {
	text string
	prio int
	seq  uint64
}

type windowFindingKey struct{ typ, templateID string }

type windowFinding struct {
	severity string
	reason   string
	score    float64
	count    int
	scored   bool
}

// NewWindowBuilder returns a builder for service's window. redact (nil = identity) is applied
// to every log-derived text the window keeps: exemplars, parameter samples, template texts and
// finding reasons.
func NewWindowBuilder(service string, lim Limits, redact func(string) string) *WindowBuilder {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	b := &WindowBuilder{lim: lim.withDefaults(), redact: redact}
	b.Reset(service)
	return b
}

// Reset empties the builder and starts a window of service.
func (b *WindowBuilder) Reset(service string) {
	b.service = service
	b.records = 0
	b.seq = 0
	b.levels = [len(windowLevelNames)]int{}
	b.start, b.end = time.Time{}, time.Time{}
	b.templates = make(map[string]*windowTemplate)
	b.findings = make(map[windowFindingKey]*windowFinding)
	b.omitted = windowDistinct{}
}

// Len is the number of records added since the last Reset.
func (b *WindowBuilder) Len() int { return b.records }

func (b *WindowBuilder) maxTracked() int { return trackFactor * b.lim.MaxTemplates }

// Add accounts one record. It keeps nothing of r beyond the limits.
func (b *WindowBuilder) Add(r *Record) {
	if r == nil {
		return
	}
	w := max(r.Weight, 1)
	b.records += w
	b.seq++
	b.levels[windowLevelIndex(r.SeverityNumber)] += w
	// A zero time and the Unix epoch (OTLP's "unset" timestamp) are unknown times.
	if !r.Time.IsZero() && r.Time.UnixNano() != 0 {
		if b.start.IsZero() || r.Time.Before(b.start) {
			b.start = r.Time
		}
		if b.end.IsZero() || r.Time.After(b.end) {
			b.end = r.Time
		}
	}
	isErr := r.SeverityNumber >= contract.SeverityNumberError
	id := windowTemplateID(r.TemplateID)
	if r.Detected {
		b.addFinding(r, id)
	}

	t := b.templates[id]
	if t == nil {
		t = b.track(id, r.Detected, isErr)
		if t == nil {
			return
		}
	}
	t.count += w
	if isErr {
		t.errors += w
	}
	if r.Detected {
		t.flagged = true
	}
	if t.text == "" && r.Template != "" {
		t.text = promptOneLine(clip(b.redactBounded(r.Template), maxTemplateTextLen))
	}
	b.addParams(t, r.Params)
	b.addExemplar(t, r, isErr)
}

// track starts tracking template id, evicting a less important one when the table is full.
// It returns nil when the record's template is not tracked (counted as omitted).
func (b *WindowBuilder) track(id string, flagged, isErr bool) *windowTemplate {
	if len(b.templates) >= b.maxTracked() {
		class := windowClass(flagged, isErr)
		if class == 0 {
			b.omitted.add(id)
			return nil
		}
		var victim *windowTemplate
		for _, c := range b.templates {
			if victim == nil || windowLessImportant(c, victim) {
				victim = c
			}
		}
		if victim == nil || windowClass(victim.flagged, victim.errors > 0) >= class {
			b.omitted.add(id)
			return nil
		}
		delete(b.templates, victim.id)
		b.omitted.add(victim.id)
	}
	b.omitted.remove(id)
	t := &windowTemplate{id: id, firstSeq: b.seq}
	b.templates[id] = t
	return t
}

func windowClass(flagged, isErr bool) int {
	switch {
	case flagged:
		return 2
	case isErr:
		return 1
	default:
		return 0
	}
}

// windowLessImportant orders eviction candidates: lower class, then fewer records, then the
// most recently seen template.
func windowLessImportant(a, c *windowTemplate) bool {
	ca, cc := windowClass(a.flagged, a.errors > 0), windowClass(c.flagged, c.errors > 0)
	if ca != cc {
		return ca < cc
	}
	if a.count != c.count {
		return a.count < c.count
	}
	return a.firstSeq > c.firstSeq
}

func (b *WindowBuilder) redactBounded(s string) string {
	if len(s) > maxRedactInput {
		s = clip(s, maxRedactInput)
	}
	return b.redact(s)
}

func (b *WindowBuilder) addParams(t *windowTemplate, params []string) {
	n := min(len(params), maxParamPositions)
	for len(t.params) < n {
		t.params = append(t.params, windowParam{})
	}
	for i := range n {
		p := &t.params[i]
		v := params[i]
		sum := windowHash(v)
		if p.distinct == nil {
			p.distinct = make(map[uint64]struct{})
		}
		if _, ok := p.distinct[sum]; !ok && len(p.distinct) < b.lim.MaxDistinct {
			p.distinct[sum] = struct{}{}
			if len(p.samples) < b.lim.MaxParamSamples {
				s := promptOneLine(clip(b.redactBounded(v), maxParamSampleLen))
				if !slices.Contains(p.samples, s) {
					p.samples = append(p.samples, s)
				}
			}
		}
		if p.nonNumber {
			continue
		}
		f, ok := windowNumber(v)
		if !ok {
			p.nonNumber = true
			continue
		}
		if !p.seen {
			p.min, p.max, p.seen = f, f, true
		} else {
			p.min, p.max = math.Min(p.min, f), math.Max(p.max, f)
		}
	}
}

func windowNumber(s string) (float64, bool) {
	if s == "" || len(s) > maxNumericParamLen {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// addExemplar keeps the first records of the highest priority (flagged, then error, then any).
func (b *WindowBuilder) addExemplar(t *windowTemplate, r *Record, isErr bool) {
	if r.Message == "" {
		return
	}
	prio := windowClass(r.Detected, isErr)
	if len(t.exemplars) < b.lim.MaxExemplarsPerTemplate {
		t.exemplars = append(t.exemplars, windowExemplar{text: b.exemplarText(r.Message), prio: prio, seq: b.seq})
		return
	}
	victim := -1
	for i, e := range t.exemplars {
		if victim < 0 || e.prio < t.exemplars[victim].prio ||
			(e.prio == t.exemplars[victim].prio && e.seq > t.exemplars[victim].seq) {
			victim = i
		}
	}
	if victim >= 0 && t.exemplars[victim].prio < prio {
		t.exemplars[victim] = windowExemplar{text: b.exemplarText(r.Message), prio: prio, seq: b.seq}
	}
}

func (b *WindowBuilder) exemplarText(msg string) string {
	return promptOneLine(clip(b.redactBounded(msg), b.lim.MaxExemplarLen))
}

func (b *WindowBuilder) addFinding(r *Record, id string) {
	typ := promptOneLine(clip(strings.TrimSpace(r.Type), maxTypeLen))
	if typ == "" {
		typ = unknownFindingType
	}
	k := windowFindingKey{typ: typ, templateID: id}
	f := b.findings[k]
	if f == nil {
		// Bounded: beyond the table size, findings of unknown keys are merged per type
		// without template, then all into one.
		if len(b.findings) >= b.maxTracked() {
			k.templateID = ""
			if f = b.findings[k]; f == nil && len(b.findings) >= b.maxTracked()+b.lim.MaxTemplates {
				k.typ = "other"
				f = b.findings[k]
			}
		}
		if f == nil {
			f = &windowFinding{}
			b.findings[k] = f
		}
	}
	f.count++
	sev := windowSeverity(r.Severity, r.Score)
	if severityRank(sev) > severityRank(f.severity) {
		f.severity = sev
	}
	score := r.Score
	if math.IsNaN(score) || math.IsInf(score, 0) {
		score = 0
	}
	if !f.scored || score > f.score {
		f.scored = true
		f.score = score
		f.reason = promptOneLine(clip(b.redactBounded(clip(r.Reason, 4*maxReasonLen)), maxReasonLen))
	}
}

// windowSeverity is the canonical severity band of a record: its Severity when it names a band
// (any case), else the band of its score.
func windowSeverity(s string, score float64) string {
	if c, ok := canonicalSeverity(s); ok && c != "" {
		return c
	}
	return contract.SeverityOf(score)
}

// canonicalSeverity maps a severity (any case, spaces trimmed) to its canonical band; "None"
// and "" map to "" (no band). ok is false for anything else.
func canonicalSeverity(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return contract.SeverityCritical, true
	case "high":
		return contract.SeverityHigh, true
	case "medium":
		return contract.SeverityMedium, true
	case "low":
		return contract.SeverityLow, true
	case "none", "":
		return "", true
	}
	return "", false
}

func severityRank(s string) int {
	switch s {
	case contract.SeverityCritical:
		return 4
	case contract.SeverityHigh:
		return 3
	case contract.SeverityMedium:
		return 2
	case contract.SeverityLow:
		return 1
	}
	return 0
}

// windowTemplateID bounds a template id: empty ids become "none", long ones a hash.
func windowTemplateID(id string) string {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return unknownTemplateID
	case len(id) > maxIDLen || strings.IndexFunc(id, unicode.IsControl) >= 0:
		return "id#" + strconv.FormatUint(windowHash(id), 16)
	}
	return id
}

// promptOneLine makes s a single line: control characters (newlines, tabs, ...) become spaces.
func promptOneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// Window returns a snapshot of the window. It is deterministic for the same Add sequence and
// shares no memory with the builder.
func (b *WindowBuilder) Window() Window {
	w := Window{
		Service: b.service,
		Records: b.records,
		Levels:  make(map[string]int, len(windowLevelNames)),
	}
	if !b.start.IsZero() {
		w.Start, w.End = b.start.UTC(), b.end.UTC()
	}
	for i, name := range windowLevelNames {
		w.Levels[name] = b.levels[i]
	}

	all := make([]*windowTemplate, 0, len(b.templates))
	for _, t := range b.templates {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, c *windowTemplate) int {
		return compareTemplateOrder(a.flagged, c.flagged, a.errors, c.errors, a.count, c.count, a.id, c.id)
	})
	if len(all) > b.lim.MaxTemplates {
		w.OmittedTemplates = len(all) - b.lim.MaxTemplates
		all = all[:b.lim.MaxTemplates]
	}
	w.OmittedTemplates += b.omitted.count()
	w.Templates = make([]TemplateStat, 0, len(all))
	for _, t := range all {
		w.Templates = append(w.Templates, t.stat(b.lim.MaxDistinct))
	}

	w.Findings = make([]Finding, 0, len(b.findings))
	for k, f := range b.findings {
		w.Findings = append(w.Findings, Finding{
			Type: k.typ, TemplateID: k.templateID, Severity: f.severity, Reason: f.reason,
			Score: f.score, Count: f.count,
		})
	}
	sortFindings(w.Findings)
	return w
}

// compareTemplateOrder orders templates: flagged first, then with errors, then by count
// (descending), then by id.
func compareTemplateOrder(fa, fc bool, ea, ec, na, nc int, ida, idc string) int {
	if fa != fc {
		if fa {
			return -1
		}
		return 1
	}
	if (ea > 0) != (ec > 0) {
		if ea > 0 {
			return -1
		}
		return 1
	}
	if na != nc {
		return cmp.Compare(nc, na)
	}
	return strings.Compare(ida, idc)
}

func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, c Finding) int {
		if r := cmp.Compare(severityRank(c.Severity), severityRank(a.Severity)); r != 0 {
			return r
		}
		if r := cmp.Compare(c.Score, a.Score); r != 0 {
			return r
		}
		if r := cmp.Compare(c.Count, a.Count); r != 0 {
			return r
		}
		if r := strings.Compare(a.Type, c.Type); r != 0 {
			return r
		}
		if r := strings.Compare(a.TemplateID, c.TemplateID); r != 0 {
			return r
		}
		return strings.Compare(a.Reason, c.Reason)
	})
}

func (t *windowTemplate) stat(maxDistinct int) TemplateStat {
	s := TemplateStat{ID: t.id, Template: t.text, Count: t.count, Errors: t.errors, Flagged: t.flagged}
	for i := range t.params {
		p := &t.params[i]
		ps := ParamSummary{
			Position:  i,
			Distinct:  min(len(p.distinct), maxDistinct),
			Samples:   slices.Clone(p.samples),
			Saturated: len(p.distinct) >= maxDistinct,
		}
		if p.seen && !p.nonNumber {
			ps.Numeric, ps.Min, ps.Max = true, p.min, p.max
		}
		s.Params = append(s.Params, ps)
	}
	ex := slices.Clone(t.exemplars)
	slices.SortFunc(ex, func(a, c windowExemplar) int {
		if a.prio != c.prio {
			return cmp.Compare(c.prio, a.prio)
		}
		return cmp.Compare(a.seq, c.seq)
	})
	for _, e := range ex {
		s.Exemplars = append(s.Exemplars, e.text)
	}
	return s
}

// windowDistinct counts distinct omitted template ids in bounded memory: exactly up to
// omittedExactCap ids, then estimated by linear counting over a fixed bitmap.
type windowDistinct struct {
	exact    map[uint64]struct{}
	overflow bool
	sketch   []uint64 // omittedSketchBits bits, allocated on first overflow
}

// windowHash is the 64-bit FNV-1a hash of s (as hash/fnv, without allocating).
func windowHash(s string) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	return h
}

func (d *windowDistinct) add(id string) {
	sum := windowHash(id)
	if !d.overflow {
		if d.exact == nil {
			d.exact = make(map[uint64]struct{})
		}
		if _, ok := d.exact[sum]; ok {
			return
		}
		if len(d.exact) < omittedExactCap {
			d.exact[sum] = struct{}{}
			return
		}
		d.overflow = true
		d.sketch = make([]uint64, omittedSketchBits/64)
		for k := range d.exact {
			d.setBit(k)
		}
		d.exact = nil
	}
	d.setBit(sum)
}

// remove forgets id when it is counted exactly (it is tracked again).
func (d *windowDistinct) remove(id string) {
	if !d.overflow && d.exact != nil {
		delete(d.exact, windowHash(id))
	}
}

func (d *windowDistinct) setBit(sum uint64) {
	// Mix the high bits in: fnv's low bits alone are poorly distributed for short ids.
	i := (sum ^ sum>>29 ^ sum>>47) % omittedSketchBits
	d.sketch[i/64] |= 1 << (i % 64)
}

func (d *windowDistinct) count() int {
	if !d.overflow {
		return len(d.exact)
	}
	set := 0
	for _, w := range d.sketch {
		set += bits.OnesCount64(w)
	}
	m := float64(omittedSketchBits)
	zero := m - float64(set)
	if zero < 1 {
		zero = 1
	}
	return max(omittedExactCap+1, int(math.Round(-m*math.Log(zero/m))))
}

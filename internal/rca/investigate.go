// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// Investigations answer "what is the root cause of the problem seen at this moment?" on demand,
// typically for an alert: the engine keeps a bounded history of the evidence it placed (per
// service, summaries of 15 s of event time), and Investigate ranks the evidence of a window
// before the query time with the same ranking as incidents (rank), over the current graph.

// QueryTolerance is how far beyond the engine's event time (its watermark) a query may ask: the
// watermark lags the wall clock by the pipeline's lateness (edge windows, allowed lateness), and
// alerts are stamped with wall-clock time.
const QueryTolerance = 2 * time.Minute

// AlertAnomalyType is the anomaly type of the symptom an investigation adds for the queried
// service when that service shows no symptom of its own in the window: the alert is one.
const AlertAnomalyType = "alert"

const (
	historyBucket      = int64(15 * time.Second)
	histMaxExemplars   = 2   // per bucket; a window keeps the maxExemplars earliest
	histMaxTemplates   = 8   // per bucket
	histMaxTypes       = 16  // as for incidents
	histMaxLine        = 500 // bytes of an exemplar line kept (evidence lines show 500)
	histMaxTemplateLen = 300 // bytes of a template text or key kept
	alertScore         = 0.5 // Medium: the alert is a symptom, weaker than the evidence it explains
)

// ErrInvalidQuery is returned (wrapped) by Investigate for a query without a valid time, or with a
// window that is negative or longer than MaxQueryWindow.
var ErrInvalidQuery = errors.New("invalid query")

// OutsideHistoryError is returned by Investigate when the query time is outside the event time
// the engine holds evidence for, [From, To] (unix nanoseconds). Held is false when the engine has
// not seen any input yet; From and To are then 0.
type OutsideHistoryError struct {
	Time, From, To int64
	Held           bool
}

func (e *OutsideHistoryError) Error() string {
	if !e.Held {
		return fmt.Sprintf("time %s is outside the history held: no input has been received yet", fmtTime(e.Time))
	}
	return fmt.Sprintf("time %s is outside the history held, from %s to %s", fmtTime(e.Time), fmtTime(e.From), fmtTime(e.To))
}

// Query asks for a root-cause ranking at one moment.
type Query struct {
	// Time is the moment to explain, unix nanoseconds of event time (for an alert, its start).
	Time int64
	// Service, optional, is the service the question is about (the alerting service). The scope
	// is then that service and the services with anomalies connected to it: within MaxHops in the
	// graph of it or of another service in the scope. Without it, the scope is the connected group
	// of services with anomalies whose anomaly weight is largest.
	Service string
	// Window is how far before Time evidence is taken; 0 means CorrelationWindow. At most
	// MaxQueryWindow.
	Window time.Duration
	// Note, optional, describes the trigger (an alert's name and summary). It is the evidence line
	// of the symptom added for Service when Service shows none of its own in the window.
	Note string
}

// Result is the answer of an investigation.
type Result struct {
	// Incident is the ranking in the incident schema (root cause, candidates with scores and
	// reasons, evidence, affected services, propagation and dependency paths, explanation), with
	// version 1. When Found is false it has no candidates, no root cause and empty lists.
	Incident incident.Incident
	// Found reports whether anomaly evidence is held for the scope within the window.
	Found bool
	// Message says what was found, or why nothing was, and what the evidence may lack.
	Message string
	// From and To bound the evidence window (unix nanoseconds, event time).
	From, To int64
	// HeldFrom is the earliest event time the engine holds evidence for; EvidenceUntil is the
	// engine's event time (watermark): evidence after it may still be arriving.
	HeldFrom, EvidenceUntil int64
	// OpenIncidents lists the ids of open incidents, started by To, that share a service with the
	// scope, oldest first.
	OpenIncidents []string
}

// MaxQueryWindow is the longest window Investigate accepts: the history retention
// (HistoryRetention, at least CorrelationWindow).
func (e *Engine) MaxQueryWindow() time.Duration { return e.retention() }

func (e *Engine) retention() time.Duration {
	return max(e.cfg.HistoryRetention, e.cfg.CorrelationWindow)
}

// heldRange is the event time a query may ask about: from the engine's first event time (or the
// retention horizon, or the newest history dropped by the bound) to the watermark plus
// QueryTolerance. ok is false when the engine has no event time yet.
func (e *Engine) heldRange() (from, to int64, ok bool) {
	if e.wm <= 0 {
		return 0, 0, false
	}
	from = max(e.wm-int64(e.retention()), e.hist.since, e.hist.lost)
	to = e.wm + int64(QueryTolerance)
	if to < e.wm { // overflow
		to = math.MaxInt64
	}
	return from, to, true
}

// Investigate ranks root-cause candidates for q from the evidence history, the current graph and
// the knowledge base. It changes nothing in the engine. Errors: ErrInvalidQuery (wrapped) and
// *OutsideHistoryError. It is Investigation followed by Rank; a caller that serialises access
// with a lock can call Investigation under the lock and Rank outside it.
func (e *Engine) Investigate(q Query) (Result, error) {
	inv, err := e.Investigation(q)
	if err != nil {
		return Result{}, err
	}
	return inv.Rank(), nil
}

// Investigation is a ranking prepared by Engine.Investigation: it holds copies of the evidence
// and of the part of the graph the ranking reads, so Rank needs nothing from the engine. Not safe
// for concurrent use.
type Investigation struct {
	res     Result
	notes   []string
	det     *Engine // detached: the config and a copy of the graph around the scope
	inc     *openInc
	similar []incident.Similar
}

// Investigation validates q and copies what the ranking of q needs from the engine (the evidence
// of the window, the graph within five hops of the scope, similar past incidents). It is cheap
// compared with Rank, and changes nothing in the engine.
func (e *Engine) Investigation(q Query) (*Investigation, error) {
	if q.Time <= 0 {
		return nil, fmt.Errorf("%w: time must be after 1970-01-01T00:00:00Z", ErrInvalidQuery)
	}
	w := q.Window
	if w == 0 {
		w = e.cfg.CorrelationWindow
	}
	if w < 0 || w > e.retention() {
		return nil, fmt.Errorf("%w: window must be positive and at most %s", ErrInvalidQuery, e.retention())
	}
	from, to, held := e.heldRange()
	if !held || q.Time < from || q.Time > to {
		return nil, &OutsideHistoryError{Time: q.Time, From: from, To: to, Held: held}
	}
	lo, hi := q.Time-int64(w), q.Time
	inv := &Investigation{res: Result{From: lo, To: hi, HeldFrom: from, EvidenceUntil: e.wm}}
	if lo < from {
		inv.notes = append(inv.notes, fmt.Sprintf("evidence before %s is not held", fmtTime(from)))
	}
	if hi > e.wm {
		inv.notes = append(inv.notes, fmt.Sprintf("evidence after %s (the event time reached) may still be arriving", fmtTime(e.wm)))
	}

	aggs := e.hist.window(lo, hi, e.cfg.MaxTemplatesPerService)
	scope, left := e.investigationScope(q.Service, aggs)
	services := make(map[string]*svcAgg, len(scope))
	for _, s := range scope {
		if sa := aggs[s]; sa != nil {
			services[s] = sa
		}
	}
	id := investigationID(q.Service, q.Time, w)
	if left > 0 {
		if q.Service != "" {
			inv.notes = append(inv.notes, fmt.Sprintf("%d services with anomalies not connected to %s were left out", left, q.Service))
		} else {
			inv.notes = append(inv.notes, fmt.Sprintf("%d services with anomalies in unconnected parts of the graph were left out", left))
		}
	}
	if len(services) == 0 {
		inv.res.Message = e.nothingHeld(q.Service, lo, hi)
		inv.res.Incident = emptyIncident(id, lo, hi, inv.res.Message)
		inv.res.Message = withNotes(inv.res.Message, inv.notes)
		return inv, nil
	}
	if q.Service != "" {
		if sa := services[q.Service]; sa == nil || sa.symptoms == 0 {
			note := q.Note
			if note == "" {
				note = "symptom reported by the query"
			}
			p := pendingAnom{a: Anomaly{
				Service: q.Service, Time: q.Time, Score: alertScore, Severity: SeverityOf(alertScore),
				Type: AlertAnomalyType, Line: note,
			}}
			if sa == nil {
				sa = newAgg()
				services[q.Service] = sa
			}
			accumulate(sa, &p, e.cfg.MaxTemplatesPerService, maxExemplars)
		}
	}

	inc := &openInc{id: id, start: math.MaxInt64, last: lo, services: services}
	for _, sa := range services {
		inc.start = min(inc.start, sa.onset)
		inc.last = max(inc.last, min(sa.last, hi))
	}
	affected := serviceList(inc)
	sub := newDepGraph()
	for v := range e.g.within(affected, maxHopsPath) {
		if nd := e.g.nodes[v]; nd != nil {
			sub.nodes[v] = &node{kind: nd.kind, out: maps.Clone(nd.out), in: maps.Clone(nd.in)}
		}
	}
	inv.det = &Engine{cfg: e.cfg, g: sub, kb: NewKnowledgeBase(1)}
	inv.inc = inc
	inv.similar = e.kb.Similar(id, inc.start, affected, templateKeys(inc), e.cfg.MaxSimilar, e.cfg.MinSimilarity)
	for _, oi := range e.sortedOpen() {
		if oi.version == 0 || oi.start > hi {
			continue
		}
		for s := range oi.services {
			if _, ok := services[s]; ok {
				inv.res.OpenIncidents = append(inv.res.OpenIncidents, oi.id)
				break
			}
		}
	}
	return inv, nil
}

// Rank ranks the prepared evidence (see Engine.Investigate).
func (inv *Investigation) Rank() Result {
	r := inv.res
	r.OpenIncidents = slices.Clone(inv.res.OpenIncidents)
	if inv.inc == nil {
		r.Incident = inv.res.Incident.Clone()
		return r
	}
	inv.det.rank(inv.inc)
	out := inv.inc.out.Clone()
	out.Version = 1
	out.SimilarIncidents = slices.Clone(inv.similar)
	r.Incident = out
	r.Found = true
	msg := fmt.Sprintf("%d services with anomalies between %s and %s; most likely root cause %s (confidence %.2f): %s",
		len(out.AffectedServices), fmtTime(r.From), fmtTime(r.To), out.RootCauseService, out.Confidence, out.RootCauseIssue)
	r.Message = withNotes(msg, inv.notes)
	return r
}

func (e *Engine) nothingHeld(service string, lo, hi int64) string {
	span := fmt.Sprintf("between %s and %s", fmtTime(lo), fmtTime(hi))
	switch {
	case service == "":
		return "no anomalies held " + span
	case e.g.nodes[service] == nil:
		return fmt.Sprintf("no anomalies held for service %q %s, and it is not in the dependency graph (services are matched by service.name)", service, span)
	default:
		return fmt.Sprintf("no anomalies held for service %q or the services connected to it (within %d hops) %s", service, e.cfg.MaxHops, span)
	}
}

func withNotes(msg string, notes []string) string {
	if len(notes) == 0 {
		return msg
	}
	return msg + "; " + strings.Join(notes, "; ")
}

func emptyIncident(id string, lo, hi int64, msg string) incident.Incident {
	return incident.Incident{
		ID: id, Title: "No anomalies held", Explanation: msg, Source: "statistical",
		PropagationPath: []string{}, Evidence: []string{}, DependencyPaths: [][]string{},
		Candidates: []incident.Candidate{}, AffectedServices: []string{},
		StartedAt: timeOf(lo), UpdatedAt: timeOf(hi),
	}
}

func investigationID(service string, t int64, w time.Duration) string {
	return incidentID("query\x00"+service+"\x00"+w.String(), t)
}

func fmtTime(ns int64) string { return timeOf(ns).Format(time.RFC3339) }

// investigationScope returns the services to rank: with a service, that service and the services
// with anomalies (aggs) reached from it through hops of at most MaxHops between services of the
// scope; without one, the connected group of services with anomalies with the largest summed
// anomaly weight (ties: the earliest). left counts the services with anomalies left out.
func (e *Engine) investigationScope(service string, aggs map[string]*svcAgg) (scope []string, left int) {
	grow := func(seed string, in map[string]bool) {
		in[seed] = true
		frontier := []string{seed}
		for len(frontier) > 0 {
			near := e.g.within(frontier, e.cfg.MaxHops)
			frontier = frontier[:0]
			for _, v := range sortedKeys(near) {
				if _, ok := aggs[v]; ok && !in[v] {
					in[v] = true
					frontier = append(frontier, v)
				}
			}
		}
	}
	keys := func(in map[string]bool) []string {
		out := make([]string, 0, len(in))
		for s := range in {
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	if service != "" {
		in := map[string]bool{}
		grow(service, in)
		scope = keys(in)
		for s := range aggs {
			if !in[s] {
				left++
			}
		}
		return scope, left
	}
	names := make([]string, 0, len(aggs))
	for s := range aggs {
		names = append(names, s)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	bestW, bestOnset := -1.0, int64(math.MaxInt64)
	for _, s := range names {
		if seen[s] {
			continue
		}
		in := map[string]bool{}
		grow(s, in)
		weight, onset := 0.0, int64(math.MaxInt64)
		for v := range in {
			seen[v] = true
			weight += aggs[v].maxScore
			onset = min(onset, aggs[v].onset)
		}
		if weight > bestW+1e-12 || (math.Abs(weight-bestW) <= 1e-12 && onset < bestOnset) {
			bestW, bestOnset, scope = weight, onset, keys(in)
		}
	}
	return scope, len(aggs) - len(scope)
}

// histBucket summarises the evidence of one service placed in 15 s of event time.
type histBucket struct {
	start int64
	sa    *svcAgg
}

type histRef struct {
	service string
	start   int64
}

// evidenceHistory keeps, per service, summaries (svcAgg, as incidents keep per service) of the
// evidence the engine placed, in buckets of 15 s of event time, for the retention
// (HistoryRetention, at least CorrelationWindow) and at most MaxHistoryBuckets buckets; when
// full, the oldest bucket is dropped and history before its end counts as not held. Strings are
// shortened and copied, so a summary does not pin records in memory. Not persisted: after a
// restart, history is held from the restored event time on.
type evidenceHistory struct {
	svcs  map[string][]*histBucket // ascending start
	fifo  []histRef                // buckets in creation order (about event-time order)
	head  int
	since int64 // the engine's first event time: nothing before it is held
	lost  int64 // end of the newest bucket dropped by the bound
}

func (h *evidenceHistory) buckets() int { return len(h.fifo) - h.head }

func floorBucket(t int64) int64 {
	q := t / historyBucket
	if t%historyBucket != 0 && t < 0 {
		q--
	}
	return q * historyBucket
}

// remember adds placed evidence to the history.
func (e *Engine) remember(p *pendingAnom) {
	h := &e.hist
	t := p.a.Time
	if t <= 0 || t > math.MaxInt64-4*historyBucket {
		return
	}
	start := floorBucket(t)
	if start+historyBucket <= e.wm-int64(e.retention()) {
		return // older than anything kept
	}
	b := h.find(p.a.Service, start)
	if b == nil {
		for h.buckets() >= e.cfg.MaxHistoryBuckets && h.buckets() > 0 {
			h.pop(true)
		}
		b = &histBucket{start: start, sa: newAgg()}
		h.insert(p.a.Service, b)
	}
	accumulate(b.sa, p, histMaxTemplates, histMaxExemplars)
}

func (h *evidenceHistory) find(service string, start int64) *histBucket {
	list := h.svcs[service]
	for i := len(list) - 1; i >= 0; i-- {
		switch {
		case list[i].start == start:
			return list[i]
		case list[i].start < start:
			return nil
		}
	}
	return nil
}

func (h *evidenceHistory) insert(service string, b *histBucket) {
	if h.svcs == nil {
		h.svcs = map[string][]*histBucket{}
	}
	list, ok := h.svcs[service]
	if !ok {
		service = strings.Clone(service)
	}
	i := sort.Search(len(list), func(i int) bool { return list[i].start >= b.start })
	h.svcs[service] = slices.Insert(list, i, b)
	h.fifo = append(h.fifo, histRef{service: service, start: b.start})
}

// pop drops the oldest bucket created; lost marks history before its end as not held.
func (h *evidenceHistory) pop(lost bool) {
	ref := h.fifo[h.head]
	h.fifo[h.head] = histRef{}
	h.head++
	if h.head >= 1024 && 2*h.head >= len(h.fifo) {
		n := copy(h.fifo, h.fifo[h.head:])
		clear(h.fifo[n:])
		h.fifo = h.fifo[:n]
		h.head = 0
	}
	list := h.svcs[ref.service]
	for i, b := range list {
		if b.start == ref.start {
			list = slices.Delete(list, i, i+1)
			break
		}
	}
	if len(list) == 0 {
		delete(h.svcs, ref.service)
	} else {
		h.svcs[ref.service] = list
	}
	if lost {
		h.lost = max(h.lost, ref.start+historyBucket)
	}
}

// prune drops the buckets that end at or before cut (from the oldest created on).
func (h *evidenceHistory) prune(cut int64) {
	for h.buckets() > 0 && h.fifo[h.head].start+historyBucket <= cut {
		h.pop(false)
	}
}

// window merges, per service, the buckets with evidence within [lo, hi] into fresh summaries
// (nothing is shared with the history but the immutable edge signals). Counts are those of
// whole buckets: the window's edges are rounded out to 15 s for them; onsets are clamped to lo,
// and exemplars are those within the window.
func (h *evidenceHistory) window(lo, hi int64, maxTemplates int) map[string]*svcAgg {
	out := map[string]*svcAgg{}
	for svc, list := range h.svcs {
		var agg *svcAgg
		i := sort.Search(len(list), func(i int) bool { return list[i].start+historyBucket > lo })
		for ; i < len(list) && list[i].start <= hi; i++ {
			b := list[i].sa
			if b.last < lo || b.onset > hi {
				continue
			}
			if agg == nil {
				agg = newAgg()
			}
			mergeAgg(agg, b, maxTemplates, lo, hi)
		}
		if agg == nil {
			continue
		}
		agg.onset = max(agg.onset, lo)
		agg.last = min(agg.last, hi)
		if agg.symptoms > 0 {
			if agg.symOnset > hi {
				agg.symptoms, agg.symOnset = 0, 0 // its symptoms all came after the window
			} else {
				agg.symOnset = max(agg.symOnset, lo)
			}
		}
		out[svc] = agg
	}
	return out
}

func newAgg() *svcAgg {
	return &svcAgg{
		onset: math.MaxInt64, last: math.MinInt64, types: map[string]int{}, templates: map[string]*tplAgg{},
		edges: map[string]*edgeSignal{},
	}
}

func clipString(s string, n int) string { return strings.Clone(truncate(s, n)) }

// accumulate adds one anomaly to a per-service summary the way addTo adds it to an incident,
// without the incident's bookkeeping and counters. Strings kept are shortened and copied.
func accumulate(sa *svcAgg, p *pendingAnom, maxTemplates, maxEx int) {
	a := &p.a
	sa.onset = min(sa.onset, a.Time)
	sa.last = max(sa.last, a.Time)
	sa.count++
	if p.symptom() {
		if sa.symptoms == 0 || a.Time < sa.symOnset {
			sa.symOnset = a.Time
		}
		sa.symptoms++
	}
	sa.maxScore = max(sa.maxScore, a.Score)
	if sevRank(a.Severity) > sevRank(sa.sev) {
		sa.sev = a.Severity
	}
	if ownSignal(a.Type) && a.Score > sa.ownScore {
		sa.ownScore, sa.ownLine = a.Score, clipString(a.Line, histMaxLine)
	}
	if a.Type != "" {
		if _, ok := sa.types[a.Type]; ok {
			sa.types[a.Type]++
		} else if len(sa.types) < histMaxTypes {
			sa.types[clipString(a.Type, histMaxTemplateLen)]++
		}
	}
	if s := p.sig; s != nil {
		if old := sa.edges[s.caller]; old == nil {
			if len(sa.edges) < maxEdgeCallers {
				sa.edges[s.caller] = s
			}
		} else if s.score > old.score {
			sa.edges[s.caller] = s
		}
		sa.edgeScore = max(sa.edgeScore, s.score)
	} else {
		sa.logMax = max(sa.logMax, a.Score)
		errLine := a.LogSeverity >= errorSeverity
		if errLine {
			sa.errLines++
		}
		if a.TemplateID != "" || a.Template != "" {
			key := a.TemplateID
			if key == "" {
				key = a.Template
			}
			key = truncate(key, histMaxTemplateLen)
			t := sa.templates[key]
			if t == nil && len(sa.templates) < maxTemplates {
				t = &tplAgg{
					id:   clipString(a.TemplateID, histMaxTemplateLen),
					text: clipString(a.Template, histMaxTemplateLen), first: a.Time,
				}
				sa.templates[strings.Clone(key)] = t
			}
			if t != nil {
				t.count++
				t.first = min(t.first, a.Time)
				if errLine {
					t.errors++
				}
			}
		}
	}
	i := sort.Search(len(sa.exemplars), func(i int) bool { return sa.exemplars[i].Time > a.Time })
	if i < maxEx {
		ex := *a
		ex.Service = clipString(a.Service, len(a.Service))
		ex.Line = clipString(a.Line, histMaxLine)
		ex.Type = clipString(a.Type, histMaxTemplateLen)
		ex.Template, ex.TemplateID = "", ""
		sa.exemplars = slices.Insert(sa.exemplars, i, ex)
		if len(sa.exemplars) > maxEx {
			sa.exemplars = sa.exemplars[:maxEx]
		}
	}
}

// mergeAgg adds the summary src into dst; exemplars outside [lo, hi] are left out.
func mergeAgg(dst, src *svcAgg, maxTemplates int, lo, hi int64) {
	dst.onset = min(dst.onset, src.onset)
	dst.last = max(dst.last, src.last)
	dst.count += src.count
	dst.errLines += src.errLines
	if src.symptoms > 0 {
		if dst.symptoms == 0 || src.symOnset < dst.symOnset {
			dst.symOnset = src.symOnset
		}
		dst.symptoms += src.symptoms
	}
	dst.maxScore = max(dst.maxScore, src.maxScore)
	dst.logMax = max(dst.logMax, src.logMax)
	dst.edgeScore = max(dst.edgeScore, src.edgeScore)
	if sevRank(src.sev) > sevRank(dst.sev) {
		dst.sev = src.sev
	}
	if src.ownScore > dst.ownScore {
		dst.ownScore, dst.ownLine = src.ownScore, src.ownLine
	}
	dst.ownLast = max(dst.ownLast, src.ownLast)
	for _, k := range sortedKeys(src.types) {
		if _, ok := dst.types[k]; ok || len(dst.types) < histMaxTypes {
			dst.types[k] += src.types[k]
		}
	}
	for _, k := range sortedTpl(src.templates) {
		t := src.templates[k]
		if d := dst.templates[k]; d != nil {
			d.count += t.count
			d.first = min(d.first, t.first)
			d.errors += t.errors
		} else if len(dst.templates) < maxTemplates {
			c := *t
			dst.templates[k] = &c
		}
	}
	for _, c := range sortedSigKeys(src.edges) {
		s := src.edges[c]
		if d := dst.edges[c]; d == nil {
			if len(dst.edges) < maxEdgeCallers {
				dst.edges[c] = s
			}
		} else if s.score > d.score {
			dst.edges[c] = s
		}
	}
	for _, x := range src.exemplars {
		if x.Time < lo || x.Time > hi {
			continue
		}
		i := sort.Search(len(dst.exemplars), func(i int) bool { return dst.exemplars[i].Time > x.Time })
		if i < maxExemplars {
			dst.exemplars = slices.Insert(dst.exemplars, i, x)
			if len(dst.exemplars) > maxExemplars {
				dst.exemplars = dst.exemplars[:maxExemplars]
			}
		}
	}
}

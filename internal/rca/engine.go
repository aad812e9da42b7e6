// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package rca is the pdata-free incident engine of the rca exporter: it keeps a service
// dependency graph with per-edge baselines, groups anomalies into incidents, ranks root-cause
// candidates without an LLM and keeps a bounded knowledge base of past incidents.
//
// Everything runs on event time: the watermark is the largest event time seen (or passed to
// Advance), so a replayed stream gives the same incidents as a live one. An Engine is not safe
// for concurrent use; the caller serialises access (the exporter holds a mutex).
package rca

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// Anomaly is one anomalous log record (see docs/attributes.md), or an edge anomaly derived by
// the engine.
type Anomaly struct {
	Service    string
	Time       int64 // unix nanoseconds, event time
	Score      float64
	Severity   incident.Severity // derived from Score when empty
	Type       string
	TemplateID string
	Template   string
	Line       string // the record body, used as evidence
	// LogSeverity is the OpenTelemetry severity number of the record (0 when unknown). It tells
	// a symptom (an error-level record) from a merely unusual line; see docs/rca.md.
	LogSeverity int32
}

// errorSeverity is the OpenTelemetry severity number of ERROR.
const errorSeverity = 17

// symptom reports whether an anomaly is evidence that something fails, not merely that
// something is unusual: an edge anomaly (errors or latency seen in traces), an error burst, or a
// new template, rate change or session anomaly of an error-level record (or of a record without a
// severity, where levels cannot be told). Rare templates, and new warnings or notices, are
// supporting evidence only: a service's logs are full of them in quiet times too.
func (p *pendingAnom) symptom() bool {
	if p.sig != nil {
		return true
	}
	switch p.a.Type {
	case rareTemplateType:
		return false
	case "error_burst":
		return true
	}
	return p.a.LogSeverity == 0 || p.a.LogSeverity >= errorSeverity
}

// EdgeWindow is one logs2graph.edge record: the calls of one edge in one event-time window.
type EdgeWindow struct {
	Client, Server         string
	ClientKind, ServerKind string
	ConnType               string
	Calls, Errors          int64
	LogErrors              int64
	P50, P95, P99          float64 // ms
	WindowStart, WindowEnd int64   // unix nanoseconds
	// GapCalls call-making spans of the client measured the time between their span and the
	// callee's (network, queues, the caller's side), with median GapP50 ms (gap.go).
	GapCalls int64
	GapP50   float64
	// GapLegs: the window also gives the mean request leg GapRequestMs (caller's span start to
	// its call's start) and response leg GapResponseMs (the call's end to the caller's span
	// end) of those spans; either may be negative across skewed clocks (gap.go).
	GapLegs                     bool
	GapRequestMs, GapResponseMs float64
}

// Stats are cumulative counters.
type Stats struct {
	AnomaliesIn       uint64
	EdgesIn           uint64
	EdgeAnomalies     uint64 // edge windows judged anomalous (charged to the callee)
	IncidentsOpened   uint64
	IncidentsUpdated  uint64
	IncidentsResolved uint64
	IncidentsMerged   uint64 // incidents found to be one problem and merged into an older one
	EdgesExpired      uint64
	ServiceWindowsIn  uint64
	OwnTimeAnomalies  uint64 // own-time and egress-time anomalies placed
	OwnTimeFleetWide  uint64 // own-time changes not placed: load (many services changed together, or a burst of requests)

	DroppedInvalid          uint64 // anomalies or edges with missing names, bad times or scores
	DroppedLate             uint64 // anomalies older than watermark - correlation window
	DroppedEdgesFull        uint64 // new edges beyond MaxEdges
	DroppedServicesFull     uint64 // pending anomalies of new services beyond MaxServices
	DroppedPendingFull      uint64 // oldest pending anomalies overwritten (MaxPendingPerService)
	DroppedIncidentsFull    uint64 // incidents not opened (MaxOpenIncidents)
	DroppedIncidentServices uint64 // anomalies of services beyond MaxServicesPerIncident
	DroppedTemplates        uint64 // templates beyond MaxTemplatesPerService (still counted)
	KnowledgeBaseEvicted    uint64

	NarrativesAttached uint64 // narratives merged into incidents (narrative.go)
	NarrativesDropped  uint64 // narratives dropped because the ranking's root cause changed
}

type pendingAnom struct {
	a Anomaly
	// seen is when the change was last observed, for a lasting change whose anomalies are all
	// dated at its start (own time, call gaps); 0 means a.Time. It keeps the incident open while
	// the change lasts.
	seen int64
	sig  *edgeSignal
	// noOpen: evidence that joins incidents but cannot open one (a busy internal edge).
	noOpen bool
}

type tplAgg struct {
	id, text string
	count    int
	first    int64
	// errors counts its error-level records (history buckets only, stopped.go).
	errors int
}

const maxExemplars = 3
const maxEdgeCallers = 20

type svcAgg struct {
	onset, last int64
	// symOnset is the time of the service's first symptom (0: none yet); symptoms counts them.
	symOnset int64
	symptoms int
	count    int
	// errLines counts the log anomalies of error-level records (history buckets only): a
	// rare template of an error line is no symptom, but many of them say that calls fail.
	errLines  int
	maxScore  float64
	logMax    float64
	sev       incident.Severity
	types     map[string]int
	templates map[string]*tplAgg
	exemplars []Anomaly // earliest few
	edges     map[string]*edgeSignal
	edgeScore float64
	// ownScore is the strongest anomaly of the service's own signals: its own time or egress
	// time, error bursts in its own logs, its resource metrics.
	ownScore float64
	ownLine  string // the description of that anomaly
	// ownLast is when a change of the service's own signals was last observed in the incident
	// (0: none); a change that begins long after it is a new problem (newProblem).
	ownLast int64
}

type openInc struct {
	id          string
	version     int
	start, last int64
	services    map[string]*svcAgg
	dirty       bool
	sig         string
	out         incident.Incident
	// narr is the narrative attached to the incident (narrative.go), stat the ranking's own
	// fields that it replaces.
	narr *Narrative
	stat *statFields
}

// Engine groups anomalies into incidents and ranks their root causes. Not goroutine-safe.
type Engine struct {
	cfg     Config
	g       *depGraph
	pending map[string][]pendingAnom
	open    map[string]*openInc
	kb      *KnowledgeBase
	wm      int64
	stats   Stats
	merged  []incident.Incident

	svcWins []ServiceWindow      // service windows waiting for Advance to pass their end
	own     map[string]*ownState // own-time baselines per service
	gapWins []gapObs             // edge gap summaries waiting for Advance to pass their end
	entry   map[int64]int64      // calls from the user node per window end, until judged
	load    ownSeries            // recent windows' calls from the user node
	gaps    map[gapKey]*gapState // gap baselines per edge
	scratch []float64

	hist evidenceHistory // recent evidence summaries for Investigate (investigate.go)

	onEdgeAnomaly func(a Anomaly, caller string) // see ObserveEdgeAnomalies
}

// maxEntryWindows bounds the windows whose entry calls wait to be judged.
const maxEntryWindows = 256

// ObserveEdgeAnomalies makes AddEdge call fn with every edge anomaly it derives (charged to the
// callee, a.Service) and the caller of the edge, before placing it. fn runs on the caller's
// goroutine and must be cheap.
func (e *Engine) ObserveEdgeAnomalies(fn func(a Anomaly, caller string)) { e.onEdgeAnomaly = fn }

// New returns an engine, or an error for an invalid config.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{
		cfg:     cfg,
		g:       newDepGraph(),
		pending: map[string][]pendingAnom{},
		open:    map[string]*openInc{},
		kb:      NewKnowledgeBase(cfg.KnowledgeBaseSize),
		own:     map[string]*ownState{},
		gaps:    map[gapKey]*gapState{},
		entry:   map[int64]int64{},
		scratch: make([]float64, 0, ownHistory),
	}, nil
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.KnowledgeBaseEvicted = e.kb.Evicted()
	return s
}

// Watermark returns the engine's event time (unix nanoseconds).
func (e *Engine) Watermark() int64 { return e.wm }

// ResetWatermark forgets the engine's event time (for example one restored from a snapshot that
// is ahead of the wall clock); the next evidence or Advance sets it again.
func (e *Engine) ResetWatermark() { e.wm = 0 }

// KnowledgeBase returns the engine's knowledge base (shared, not a copy).
func (e *Engine) KnowledgeBase() *KnowledgeBase { return e.kb }

// SetResolution records resolution notes for an incident in the knowledge base.
func (e *Engine) SetResolution(id, notes string) bool { return e.kb.SetResolution(id, notes) }

// OpenIncidents returns the number of open incidents.
func (e *Engine) OpenIncidents() int { return len(e.open) }

// SeverityOf maps a score to the processor's severity bands.
func SeverityOf(score float64) incident.Severity {
	switch {
	case score >= 0.9:
		return incident.SeverityCritical
	case score >= 0.7:
		return incident.SeverityHigh
	case score >= 0.5:
		return incident.SeverityMedium
	default:
		return incident.SeverityLow
	}
}

func sevRank(s incident.Severity) int {
	switch s {
	case incident.SeverityCritical:
		return 4
	case incident.SeverityHigh:
		return 3
	case incident.SeverityMedium:
		return 2
	case incident.SeverityLow:
		return 1
	}
	return 0
}

func (e *Engine) bump(t int64) {
	if e.wm <= 0 && t > 0 {
		e.hist.since = t // evidence history is held from the first event time on
	}
	if t > e.wm {
		e.wm = t
	}
}

// AddAnomaly feeds one anomalous record.
func (e *Engine) AddAnomaly(a Anomaly) {
	e.stats.AnomaliesIn++
	if a.Service == "" || a.Time <= 0 || math.IsNaN(a.Score) || math.IsInf(a.Score, 0) {
		e.stats.DroppedInvalid++
		return
	}
	a.Score = clamp01(a.Score)
	if sevRank(a.Severity) == 0 {
		a.Severity = SeverityOf(a.Score)
	}
	e.bump(a.Time)
	if a.Time < e.wm-int64(e.cfg.CorrelationWindow) {
		e.stats.DroppedLate++
		return
	}
	// A service's resource metrics (CPU, memory, restarts) say where a problem is, not that users
	// feel one: they join incidents and weigh in the ranking, but do not open one alone.
	e.place(pendingAnom{a: a, noOpen: strings.HasPrefix(a.Type, contract.TypeMetricPrefix)})
}

func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return false
		}
	}
	return true
}

// AddEdge feeds one edge window: it updates the graph and the edge baseline, and an anomalous
// window becomes an anomaly of the callee.
func (e *Engine) AddEdge(w EdgeWindow) {
	e.stats.EdgesIn++
	if w.Client == "" || w.Server == "" || w.Client == w.Server || w.WindowEnd <= 0 || w.WindowStart > w.WindowEnd ||
		w.Calls < 0 || w.Errors < 0 || w.LogErrors < 0 || w.GapCalls < 0 || !finite(w.P50, w.P95, w.P99, w.GapP50, w.GapRequestMs, w.GapResponseMs) || w.GapP50 < 0 {
		e.stats.DroppedInvalid++
		return
	}
	if w.Errors > w.Calls {
		w.Errors = w.Calls
	}
	if w.ClientKind == "user" && w.Calls > 0 {
		if _, ok := e.entry[w.WindowEnd]; ok || len(e.entry) < maxEntryWindows {
			e.entry[w.WindowEnd] += w.Calls
		}
	}
	if w.ClientKind == "user" {
		// The user node (logs2graph's user_node, "user" by default) is not a service: a service
		// that carries the same name (a "user" service) must stay a separate node.
		w.Client = "[" + w.Client + "]"
	}
	e.bump(w.WindowEnd)
	e.addGap(&w)
	ed := e.g.upsert(&w, e.cfg.MaxEdges)
	if ed == nil {
		e.stats.DroppedEdgesFull++
		return
	}
	if w.Calls > 0 {
		if !ed.stopped && ed.lastCalls > 0 && w.WindowStart >= ed.lastCalls+stoppedWindows*ed.win {
			e.stopCheck(ed) // the silence ended before the watermark passed it
		}
		if w.WindowEnd >= ed.lastCalls {
			ed.lastCalls, ed.win, ed.stopped = w.WindowEnd, w.WindowEnd-w.WindowStart, false
		}
	}
	sig := e.cfg.judge(ed, &w)
	if sig == nil {
		return
	}
	e.stats.EdgeAnomalies++
	t := w.WindowStart
	if sig.since > 0 {
		t = sig.since // a persistent change is dated from its first window
	}
	if t <= 0 {
		t = w.WindowEnd
	}
	if t < e.wm-int64(e.cfg.CorrelationWindow) {
		e.stats.DroppedLate++
		return
	}
	a := Anomaly{Service: w.Server, Time: t, Score: sig.score, Severity: SeverityOf(sig.score), Type: sig.kind,
		Line: sig.describe(w.Server)}
	if e.onEdgeAnomaly != nil {
		e.onEdgeAnomaly(a, w.Client)
	}
	entry := w.ClientKind == "user"
	busy := sig.calls >= e.cfg.MinCalls
	e.place(pendingAnom{a: a, sig: sig, noOpen: busy && !entry && !e.cfg.InternalEdgesOpen})
}

// place joins an anomaly to a correlated open incident, or keeps it pending and opens an
// incident when the service's score crosses the threshold.
func (e *Engine) place(p pendingAnom) {
	e.remember(&p)
	s := p.a.Service
	inc := e.findIncident(&p.a)
	if inc != nil {
		_, member := inc.services[s]
		if member || p.sig != nil || e.cfg.JoinThreshold <= 0 {
			e.addTo(inc, p)
			return
		}
	}
	list, ok := e.pending[s]
	if !ok && len(e.pending) >= e.cfg.MaxServices {
		e.stats.DroppedServicesFull++
		return
	}
	if len(list) >= e.cfg.MaxPendingPerService {
		// overwrite the oldest
		oldest := 0
		for i := range list {
			if list[i].a.Time < list[oldest].a.Time {
				oldest = i
			}
		}
		list = append(list[:oldest], list[oldest+1:]...)
		e.stats.DroppedPendingFull++
	}
	list = append(list, p)
	e.pending[s] = list
	if inc != nil {
		// A connected service outside the incident: it joins with all its pending evidence once
		// that evidence reaches join_threshold within open_window; sporadic noise stays out.
		if e.crossesAt(list, e.cfg.JoinThreshold, false) {
			symFrom := e.symptomEpisode(list)
			e.takePending(s, list, func(q *pendingAnom) bool { return q.a.Time >= symFrom || !q.symptom() },
				func(q pendingAnom) { e.addTo(inc, q) })
		}
		return
	}
	// A low-volume edge anomaly carries its own persistence (consecutive off windows): it opens
	// an incident by itself, since a quiet edge may take minutes to show a second one.
	if e.crosses(list) || (p.sig != nil && p.sig.calls > 0 && p.sig.calls < e.cfg.MinCalls && !p.noOpen) {
		if len(e.open) >= e.cfg.MaxOpenIncidents {
			e.stats.DroppedIncidentsFull++
			return
		}
		e.openIncident(s)
	}
}

// crosses reports whether the symptoms among the pending anomalies within some OpenWindow sum
// to open_threshold, one of them above Low.
func (e *Engine) crosses(list []pendingAnom) bool {
	return e.crossesAt(list, e.cfg.OpenThreshold, true)
}

// crossesAt reports whether the anomalies within some OpenWindow sum to threshold with one of
// them above Low. With symptomsOnly only symptoms count (see symptom): unusual but harmless lines
// (rare templates, new warnings) do not add up to an incident, however many of them there are.
// A neighbour of an open incident joins on sustained evidence of any kind, since what it shows
// may be only warnings (a caller logging slow calls).
func (e *Engine) crossesAt(list []pendingAnom, threshold float64, symptomsOnly bool) bool {
	idx := make([]int, 0, len(list))
	for i := range list {
		if !symptomsOnly || (list[i].symptom() && !list[i].noOpen) {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(i, j int) bool { return list[idx[i]].a.Time < list[idx[j]].a.Time })
	w := int64(e.cfg.OpenWindow)
	sum, lo, strong := 0.0, 0, 0
	for _, j := range idx {
		a := &list[j].a
		sum += a.Score
		if sevRank(a.Severity) > 1 {
			strong++
		}
		for list[idx[lo]].a.Time < a.Time-w {
			b := &list[idx[lo]].a
			sum -= b.Score
			if sevRank(b.Severity) > 1 {
				strong--
			}
			lo++
		}
		if sum >= threshold-1e-12 && strong > 0 {
			return true
		}
	}
	return false
}

func (e *Engine) sortedOpen() []*openInc {
	out := make([]*openInc, 0, len(e.open))
	for _, inc := range e.open {
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].start != out[j].start {
			return out[i].start < out[j].start
		}
		return out[i].id < out[j].id
	})
	return out
}

func (e *Engine) findIncident(a *Anomaly) *openInc {
	if len(e.open) == 0 {
		return nil
	}
	s, t := a.Service, a.Time
	corr := int64(e.cfg.CorrelationWindow)
	open := e.sortedOpen()
	var member *openInc
	// newest first: a service in several open incidents belongs to its latest problem
	for i := len(open) - 1; i >= 0; i-- {
		inc := open[i]
		if t < inc.start-corr || t > inc.last+corr {
			continue
		}
		if sa := inc.services[s]; sa != nil && !e.newProblem(inc, a) {
			if sa.symptoms > 0 {
				return inc // where the service has symptoms
			}
			if member == nil {
				member = inc
			}
		}
	}
	if member != nil {
		return member
	}
	var near map[string]int
	for _, inc := range open {
		if t < inc.start-corr || t > inc.last+corr || e.newProblem(inc, a) {
			continue
		}
		if near == nil {
			near = e.g.within([]string{s}, e.cfg.MaxHops)
		}
		for v := range near {
			if _, ok := inc.services[v]; ok {
				return inc
			}
		}
	}
	return nil
}

// newProblem reports whether anomaly a is a problem of its own rather than part of incident inc:
// a change of the service's own signals (own time, call gaps, resource metrics) that starts more
// than the correlation window after inc began, of a service that either has no symptoms in inc
// or whose own signals had changed in inc and then recovered (none seen for recoveredAfter). An
// incident that outlives its first fault must not absorb the next fault, of another service or
// of the same one.
func (e *Engine) newProblem(inc *openInc, a *Anomaly) bool {
	if !ownSignal(a.Type) || a.Time <= inc.began()+int64(e.cfg.CorrelationWindow) {
		return false
	}
	sa := inc.services[a.Service]
	if sa == nil || sa.symptoms == 0 {
		return true
	}
	return sa.ownLast > 0 && a.Time-sa.ownLast >= int64(recoveredAfter*e.cfg.OpenWindow)
}

// recoveredAfter: a service's own signals are back to normal once no change of them has been
// seen for this many open windows.
const recoveredAfter = 2

// began is when the incident began: its first symptom (unusual lines of its services from before
// that joined it as evidence), or its first evidence if it has no symptom.
func (inc *openInc) began() int64 {
	var b int64
	for _, sa := range inc.services {
		if sa.symptoms > 0 && (b == 0 || sa.symOnset < b) {
			b = sa.symOnset
		}
	}
	if b == 0 {
		return inc.start
	}
	return b
}

func incidentID(service string, start int64) string {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s\x00%d", service, start)
	return fmt.Sprintf("%016x", h.Sum64())
}

func (e *Engine) openIncident(s string) {
	near := e.g.within([]string{s}, e.cfg.MaxHops)
	trigger := e.pending[s]
	var latest int64
	for _, p := range trigger {
		if p.a.Time > latest {
			latest = p.a.Time
		}
	}
	// The trigger's last run of symptoms is the problem; neighbours' symptoms join as far as
	// they reach back to it.
	began := e.symptomEpisode(trigger)
	var take []pendingAnom
	use := func(p pendingAnom) { take = append(take, p) }
	for _, v := range sortedKeys(near) {
		list := e.pending[v]
		if v == s {
			e.takePending(v, list, func(p *pendingAnom) bool { return p.a.Time >= began || !p.symptom() }, use)
			continue
		}
		if e.cfg.JoinThreshold > 0 && !hasEdgeSignal(list) && !e.crossesAt(list, e.cfg.JoinThreshold, false) {
			continue // a neighbour's sporadic or merely unusual lines stay out, as when joining later
		}
		from, symFrom := latest-int64(e.cfg.CorrelationWindow), e.symptomsReachBack(list, began)
		e.takePending(v, list, func(p *pendingAnom) bool { return p.a.Time >= from && (p.a.Time >= symFrom || !p.symptom()) }, use)
	}
	sort.SliceStable(take, func(i, j int) bool {
		if take[i].a.Time != take[j].a.Time {
			return take[i].a.Time < take[j].a.Time
		}
		return take[i].a.Service < take[j].a.Service
	})
	first := take[0].a
	id := incidentID(first.Service, first.Time)
	for n := 1; ; n++ {
		if _, dup := e.open[id]; !dup {
			break
		}
		id = incidentID(fmt.Sprintf("%s#%d", first.Service, n), first.Time)
	}
	inc := &openInc{id: id, start: first.Time, last: first.Time, services: map[string]*svcAgg{}}
	for _, p := range take {
		e.addTo(inc, p)
	}
	e.open[id] = inc
}

// takePending hands the anomalies of service v's pending list that ok accepts to use, in order,
// and keeps the others pending.
func (e *Engine) takePending(v string, list []pendingAnom, ok func(*pendingAnom) bool, use func(pendingAnom)) {
	var keep []pendingAnom
	for i := range list {
		if ok(&list[i]) {
			use(list[i])
		} else {
			keep = append(keep, list[i])
		}
	}
	if len(keep) == 0 {
		delete(e.pending, v)
	} else {
		e.pending[v] = keep
	}
}

// symptomEpisode is the time of the first symptom of the last run of symptoms in list that
// follow each other within recoveredAfter open windows (math.MinInt64 without symptoms). Only
// that run joins an incident: a symptom separated from it by a quiet spell was an earlier,
// separate blip, and would date the incident's beginning, and so the earliest symptom of the
// ranking, to before the problem.
func (e *Engine) symptomEpisode(list []pendingAnom) int64 {
	last := int64(math.MinInt64)
	for i := range list {
		if list[i].symptom() {
			last = max(last, list[i].a.Time)
		}
	}
	if last == math.MinInt64 {
		return last
	}
	return e.symptomsReachBack(list, last)
}

// symptomsReachBack is how far before t the symptoms in list reach in a run whose symptoms
// follow each other within recoveredAfter open windows: the time of the earliest symptom
// joined to t by such a run, or t. A symptom before it is an earlier, separate blip.
func (e *Engine) symptomsReachBack(list []pendingAnom, t int64) int64 {
	ts := make([]int64, 0, len(list))
	for i := range list {
		if list[i].symptom() && list[i].a.Time < t {
			ts = append(ts, list[i].a.Time)
		}
	}
	slices.Sort(ts)
	gap := int64(recoveredAfter * e.cfg.OpenWindow)
	from := t
	for i := len(ts) - 1; i >= 0 && from-ts[i] <= gap; i-- {
		from = ts[i]
	}
	return from
}

func (e *Engine) addTo(inc *openInc, p pendingAnom) {
	a := &p.a
	sa := inc.services[a.Service]
	if sa == nil {
		if len(inc.services) >= e.cfg.MaxServicesPerIncident {
			e.stats.DroppedIncidentServices++
			return
		}
		sa = &svcAgg{onset: a.Time, last: a.Time, types: map[string]int{}, templates: map[string]*tplAgg{},
			edges: map[string]*edgeSignal{}}
		inc.services[a.Service] = sa
	}
	// Only sustained evidence (a second anomaly of the service within open_window of its
	// previous one, or an edge anomaly) keeps the incident alive: sporadic background anomalies
	// of its services must not hold it open for ever.
	seen := max(a.Time, p.seen)
	sustained := p.sig != nil || (sa.count > 0 && seen-sa.last <= int64(e.cfg.OpenWindow))
	sa.onset = min(sa.onset, a.Time)
	sa.last = max(sa.last, seen)
	sa.count++
	if p.symptom() {
		if sa.symptoms == 0 || a.Time < sa.symOnset {
			sa.symOnset = a.Time
		}
		sa.symptoms++
	}
	sa.maxScore = max(sa.maxScore, a.Score)
	if ownSignal(a.Type) {
		if a.Score > sa.ownScore {
			sa.ownScore, sa.ownLine = a.Score, a.Line
		}
		sa.ownLast = max(sa.ownLast, seen)
	}
	if sevRank(a.Severity) > sevRank(sa.sev) {
		sa.sev = a.Severity
	}
	if a.Type != "" {
		if _, ok := sa.types[a.Type]; ok || len(sa.types) < 16 {
			sa.types[a.Type]++
		}
	}
	if p.sig != nil {
		if old := sa.edges[p.sig.caller]; old == nil {
			if len(sa.edges) < maxEdgeCallers {
				sa.edges[p.sig.caller] = p.sig
			}
		} else if p.sig.score > old.score {
			sa.edges[p.sig.caller] = p.sig
		}
		sa.edgeScore = max(sa.edgeScore, p.sig.score)
	} else {
		sa.logMax = max(sa.logMax, a.Score)
		if a.TemplateID != "" || a.Template != "" {
			key := a.TemplateID
			if key == "" {
				key = a.Template
			}
			if t := sa.templates[key]; t != nil {
				t.count++
				t.first = min(t.first, a.Time)
			} else if len(sa.templates) < e.cfg.MaxTemplatesPerService {
				sa.templates[key] = &tplAgg{id: a.TemplateID, text: a.Template, count: 1, first: a.Time}
			} else {
				e.stats.DroppedTemplates++
			}
		}
	}
	// keep the earliest exemplars
	i := sort.Search(len(sa.exemplars), func(i int) bool { return sa.exemplars[i].Time > a.Time })
	if i < maxExemplars {
		sa.exemplars = append(sa.exemplars, Anomaly{})
		copy(sa.exemplars[i+1:], sa.exemplars[i:])
		sa.exemplars[i] = *a
		if len(sa.exemplars) > maxExemplars {
			sa.exemplars = sa.exemplars[:maxExemplars]
		}
	}
	inc.start = min(inc.start, a.Time)
	if sustained || inc.last == 0 {
		inc.last = max(inc.last, seen)
	}
	inc.dirty = true
}

// Advance moves the watermark to now (unix nanoseconds, event time; values at or below the
// current watermark only flush) and returns the incidents opened, changed or resolved since the
// last call, ordered by start time and id.
func (e *Engine) Advance(now int64) []incident.Incident {
	e.bump(now)
	e.judgeWindows(e.wm)
	e.checkStopped()
	if n := e.g.expire(e.wm-int64(e.cfg.EdgeTTL), e.inOneIncident); n > 0 {
		e.stats.EdgesExpired += uint64(n)
		e.pruneOwn()
		e.pruneGaps()
	}
	e.prunePending()
	e.hist.prune(e.wm - int64(e.retention()))
	e.sweep()
	e.mergeConnected()

	out := e.merged
	e.merged = nil
	for _, inc := range e.sortedOpen() {
		resolve := e.wm-inc.last >= int64(e.cfg.QuietPeriod)
		if inc.dirty || resolve {
			e.rank(inc)
			e.reapplyNarrative(inc)
			inc.dirty = false
		}
		if resolve {
			inc.version++
			inc.out.Version = inc.version
			inc.out.Status = incident.StatusResolved
			at := timeOf(inc.last + int64(e.cfg.QuietPeriod))
			inc.out.ResolvedAt = &at
			e.stats.IncidentsResolved++
			delete(e.open, inc.id)
			e.kb.Upsert(&inc.out)
			out = append(out, cloneIncident(&inc.out))
			continue
		}
		sig := Signature(&inc.out)
		if sig == inc.sig {
			continue
		}
		inc.sig = sig
		inc.version++
		inc.out.Version = inc.version
		if inc.version == 1 {
			e.stats.IncidentsOpened++
		} else {
			e.stats.IncidentsUpdated++
		}
		e.kb.Upsert(&inc.out)
		out = append(out, cloneIncident(&inc.out))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Signature changes when what an SRE acts on changes: root cause, severity, affected services,
// the top three candidates. A new incident version is emitted only when it changes.
func Signature(inc *incident.Incident) string {
	var b strings.Builder
	b.WriteString(inc.RootCauseService)
	b.WriteByte('|')
	b.WriteString(string(inc.Severity))
	b.WriteByte('|')
	b.WriteString(strings.Join(inc.AffectedServices, ","))
	b.WriteByte('|')
	for i, c := range inc.Candidates {
		if i == 3 {
			break
		}
		b.WriteString(c.Service)
		b.WriteByte(',')
	}
	return b.String()
}

// inOneIncident reports whether both ends of edge k are services of one open incident: the
// edge stays in the graph while that incident is ranked, however long ago its calls stopped.
func (e *Engine) inOneIncident(k edgeKey) bool {
	for _, inc := range e.open {
		if inc.services[k.client] != nil && inc.services[k.server] != nil {
			return true
		}
	}
	return false
}

func (e *Engine) prunePending() {
	cut := e.wm - int64(e.cfg.CorrelationWindow)
	for s, list := range e.pending {
		keep := list[:0]
		for _, p := range list {
			if p.a.Time >= cut {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			delete(e.pending, s)
		} else {
			e.pending[s] = keep
		}
	}
}

func serviceList(inc *openInc) []string {
	out := make([]string, 0, len(inc.services))
	for s := range inc.services {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// rareTemplateType is the anomaly.type of the processor's rare-template detector.
const rareTemplateType = "rare_template"

func hasEdgeSignal(list []pendingAnom) bool {
	for i := range list {
		if list[i].sig != nil {
			return true
		}
	}
	return false
}

// sweep pulls pending anomalies of services that are (now) connected to an open incident.
func (e *Engine) sweep() {
	if len(e.pending) == 0 {
		return
	}
	corr := int64(e.cfg.CorrelationWindow)
	for _, inc := range e.sortedOpen() {
		near := e.g.within(serviceList(inc), e.cfg.MaxHops)
		for _, v := range sortedKeys(near) {
			list, ok := e.pending[v]
			if !ok {
				continue
			}
			if _, member := inc.services[v]; !member && e.cfg.JoinThreshold > 0 && !hasEdgeSignal(list) && !e.crossesAt(list, e.cfg.JoinThreshold, false) {
				continue // sporadic evidence of a service outside the incident stays out
			}
			symFrom := e.symptomsReachBack(list, inc.began())
			e.takePending(v, list, func(p *pendingAnom) bool {
				return p.a.Time >= inc.start-corr && p.a.Time <= inc.last+corr && !e.newProblem(inc, &p.a) &&
					(p.a.Time >= symFrom || !p.symptom())
			}, func(p pendingAnom) { e.addTo(inc, p) })
		}
	}
}

// mergeConnected merges open incidents that turned out to be connected and overlapping in time
// (typically because the edge joining them arrived after both opened) into the oldest one.
func (e *Engine) mergeConnected() {
	corr := int64(e.cfg.CorrelationWindow)
	for changed := true; changed; {
		changed = false
		list := e.sortedOpen()
	outer:
		for i, a := range list {
			near := e.g.within(serviceList(a), e.cfg.MaxHops)
			for _, b := range list[i+1:] {
				if b.start > a.last+corr || a.start > b.last+corr || b.began() > a.began()+corr {
					continue // not at the same time, or a new problem that began later
				}
				connected := false
				for s := range b.services {
					if _, ok := near[s]; ok {
						connected = true
						break
					}
				}
				if !connected {
					continue
				}
				e.absorb(a, b)
				changed = true
				break outer
			}
		}
	}
}

func (e *Engine) absorb(dst, src *openInc) {
	for _, s := range serviceList(src) {
		sa := src.services[s]
		da := dst.services[s]
		if da == nil {
			if len(dst.services) >= e.cfg.MaxServicesPerIncident {
				e.stats.DroppedIncidentServices++
				continue
			}
			dst.services[s] = sa
			continue
		}
		mergeAgg(da, sa, e.cfg.MaxTemplatesPerService, math.MinInt64, math.MaxInt64)
	}
	dst.start = min(dst.start, src.start)
	dst.last = max(dst.last, src.last)
	dst.dirty = true
	delete(e.open, src.id)
	e.stats.IncidentsMerged++
	if src.version > 0 {
		out := cloneIncident(&src.out)
		out.Version = src.version + 1
		out.Status = incident.StatusResolved
		at := timeOf(e.wm)
		out.ResolvedAt = &at
		out.MergedInto = dst.id
		e.kb.Remove(src.id)
		e.merged = append(e.merged, out)
	}
}

func sortedTpl(m map[string]*tplAgg) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

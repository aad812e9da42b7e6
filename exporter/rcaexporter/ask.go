// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmprompt"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
)

// POST /api/v1/ask answers a question in natural language from a bounded in-memory window of
// what the exporter saw and made: anomalous records, incidents, edge anomalies and LLM verdicts
// (config key `ask`). Without an LLM it is a keyword search (llmprompt.ParseQuestion and Match);
// with one, the model plans up to three searches and answers from at most 20 items, citing them.
// Any LLM failure falls back to the search answer.

const (
	askPath = "/api/v1/ask"
	// maxQuestion bounds a question (characters).
	maxQuestion = 1000
	// maxAskItems is how many items an answer shows (and the model reads).
	maxAskItems = 20
	// maxItemText bounds the text of an indexed item.
	maxItemText = 500
	// Item kinds (llmprompt.Query.Kinds).
	kindAnomaly  = "anomaly"
	kindIncident = "incident"
	kindEdge     = "edge"
	kindTemplate = "template"

	taskAskPlan   = "ask_plan"
	taskAskAnswer = "ask_answer"

	askSourceSearch = "search"
	askSourceLLM    = "llm"
)

// askItem is one indexed item.
type askItem struct {
	llmprompt.Item
	seq      uint64
	incident string   // the incident id of an incident item
	services []string // every service an item is about (incidents: the affected services)
}

// askIndex is the bounded window searched by the ask API. Items arrive in no particular event-time
// order; the oldest received goes first when max_items is reached, and items older than `window`
// before the exporter's event time are dropped from the front. Safe for concurrent use.
type askIndex struct {
	window int64
	mu     sync.Mutex
	ring   []askItem
	head   int
	n      int
	seq    uint64
	latest map[string]uint64 // incident id -> seq of its latest item
	svc    map[string]int    // service -> items naming it
}

func newAskIndex(cfg AskConfig) *askIndex {
	return &askIndex{
		window: int64(cfg.Window), ring: make([]askItem, cfg.MaxItems),
		latest: map[string]uint64{}, svc: map[string]int{},
	}
}

// add indexes items (their IDs are assigned here) and drops what is older than the window
// before now (event time, unix nanoseconds; 0: no pruning).
func (x *askIndex) add(now int64, items ...askItem) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range items {
		it := items[i]
		x.seq++
		it.seq = x.seq
		it.ID = fmt.Sprintf("%c%d", it.Kind[0], it.seq)
		if x.n == len(x.ring) {
			x.pop()
		}
		x.ring[(x.head+x.n)%len(x.ring)] = it
		x.n++
		if it.incident != "" {
			x.latest[it.incident] = it.seq
		}
		for _, s := range it.services {
			x.svc[s]++
		}
	}
	if now > 0 {
		cut := now - x.window
		for x.n > 0 && x.ring[x.head].Time.UnixNano() < cut {
			x.pop()
		}
	}
}

func (x *askIndex) pop() {
	it := &x.ring[x.head]
	if it.incident != "" && x.latest[it.incident] == it.seq {
		delete(x.latest, it.incident)
	}
	for _, s := range it.services {
		if x.svc[s]--; x.svc[s] <= 0 {
			delete(x.svc, s)
		}
	}
	*it = askItem{}
	x.head = (x.head + 1) % len(x.ring)
	x.n--
}

// services returns the services the index knows, sorted.
func (x *askIndex) services() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]string, 0, len(x.svc))
	for s := range x.svc {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// search returns the items matching any of qs (an incident only by its latest version), most
// recent first, at most limit, and how many matched.
func (x *askIndex) search(qs []llmprompt.Query, limit int) ([]llmprompt.Item, int) {
	for i := range qs {
		// Anomalous records are the log lines and templates the exporter holds.
		if slices.Contains(qs[i].Kinds, kindTemplate) && !slices.Contains(qs[i].Kinds, kindAnomaly) {
			qs[i].Kinds = append(slices.Clone(qs[i].Kinds), kindAnomaly)
		}
	}
	x.mu.Lock()
	var got []askItem
	for i := range x.n {
		it := &x.ring[(x.head+i)%len(x.ring)]
		if it.incident != "" && x.latest[it.incident] != it.seq {
			continue
		}
		for _, q := range qs {
			if matchItem(q, it) {
				got = append(got, *it)
				break
			}
		}
	}
	x.mu.Unlock()
	sort.SliceStable(got, func(i, j int) bool {
		if !got[i].Time.Equal(got[j].Time) {
			return got[i].Time.After(got[j].Time)
		}
		return got[i].seq > got[j].seq
	})
	n := len(got)
	out := make([]llmprompt.Item, 0, min(n, limit))
	for i := range got[:min(n, limit)] {
		out = append(out, got[i].Item)
	}
	return out, n
}

// matchItem is llmprompt.Match, where an item about several services (an incident) matches a
// service filter through any of them.
func matchItem(q llmprompt.Query, it *askItem) bool {
	if llmprompt.Match(q, it.Item) {
		return true
	}
	if len(q.Services) == 0 || len(it.services) < 2 {
		return false
	}
	c := it.Item
	for _, s := range it.services {
		c.Service = s
		if llmprompt.Match(q, c) {
			return true
		}
	}
	return false
}

// Items from what the exporter receives and makes. Texts are redacted by the caller's redact.

func anomalyItem(a *rca.Anomaly, redact func(string) string) askItem {
	var b strings.Builder
	b.WriteString(redact(a.Line))
	if a.TemplateID != "" || a.Template != "" {
		fmt.Fprintf(&b, " (template %s: %s)", redact(a.TemplateID), redact(a.Template))
	}
	if a.Type != "" {
		fmt.Fprintf(&b, " [%s]", a.Type)
	}
	return askItem{
		Item: llmprompt.Item{
			Kind: kindAnomaly, Service: a.Service, Severity: string(a.Severity), Time: time.Unix(0, a.Time).UTC(),
			Text: truncate(b.String(), maxItemText),
		},
		services: []string{a.Service},
	}
}

func edgeItem(a *rca.Anomaly, caller string, redact func(string) string) askItem {
	return askItem{
		Item: llmprompt.Item{
			Kind: kindEdge, Service: caller + " -> " + a.Service, Severity: string(a.Severity),
			Time: time.Unix(0, a.Time).UTC(), Text: truncate(redact(a.Line)+" ["+a.Type+"]", maxItemText),
		},
		services: []string{caller, a.Service},
	}
}

func verdictItem(v *verdict, redact func(string) string) askItem {
	sev := ""
	if v.isAnomaly {
		sev = v.severity
	}
	return askItem{
		Item: llmprompt.Item{
			Kind: kindAnomaly, Service: v.service, Severity: sev, Time: time.Unix(0, v.end).UTC(),
			Text: truncate(redact(v.line(maxItemText)), maxItemText),
		},
		services: []string{v.service},
	}
}

func incidentItem(inc *incident.Incident, redact func(string) string) askItem {
	var b strings.Builder
	fmt.Fprintf(&b, "incident %s (version %d, %s): %s. Root cause %s (confidence %.2f): %s. Affected: %s.",
		inc.ID, inc.Version, inc.Status, redact(inc.Title), inc.RootCauseService, inc.Confidence,
		redact(inc.RootCauseIssue), strings.Join(inc.AffectedServices, ", "))
	if len(inc.PropagationPath) > 1 {
		b.WriteString(" Propagation: " + strings.Join(inc.PropagationPath, " -> ") + ".")
	}
	if inc.LLM != nil && !inc.LLM.AgreesWithRanking {
		fmt.Fprintf(&b, " The LLM suggests %s.", inc.LLM.RootCauseService)
	}
	t := inc.UpdatedAt
	if inc.ResolvedAt != nil {
		t = *inc.ResolvedAt
	}
	services := slices.Clone(inc.AffectedServices)
	if !slices.Contains(services, inc.RootCauseService) && inc.RootCauseService != "" {
		services = append(services, inc.RootCauseService)
	}
	return askItem{
		Item: llmprompt.Item{
			Kind: kindIncident, Service: inc.RootCauseService, Severity: string(inc.Severity), Time: t.UTC(),
			Text: truncate(b.String(), maxItemText),
		},
		incident: inc.ID,
		services: services,
	}
}

// indexBatch indexes what one ConsumeLogs call carried: anomalous records, edge anomalies
// derived meanwhile, and verdicts. Called outside the exporter's mutex.
func (e *rcaExporter) indexBatch(in *batchInput, edges []edgeAnomaly, now int64) {
	if e.ask == nil {
		return
	}
	var items []askItem
	lines := e.redact
	if e.redactEvidence {
		lines = identity // redacted before the engine saw them
	}
	for i := range in.evidence {
		ev := &in.evidence[i]
		if ev.edge || ev.svc || ev.metric {
			continue
		}
		items = append(items, anomalyItem(&ev.a, lines))
	}
	for i := range edges {
		items = append(items, edgeItem(&edges[i].a, edges[i].caller, e.redact))
	}
	for i := range in.verdicts {
		items = append(items, verdictItem(&in.verdicts[i], e.redact))
	}
	if len(items) > 0 {
		e.ask.add(now, items...)
	}
}

// indexIncidents indexes incident versions (the latest of each id is searched).
func (e *rcaExporter) indexIncidents(incs []incident.Incident) {
	if e.ask == nil || len(incs) == 0 {
		return
	}
	items := make([]askItem, 0, len(incs))
	for i := range incs {
		items = append(items, incidentItem(&incs[i], e.redact))
	}
	e.ask.add(0, items...)
}

// edgeAnomaly is an edge anomaly the engine derived (rca.Engine.ObserveEdgeAnomalies).
type edgeAnomaly struct {
	a      rca.Anomaly
	caller string
}

// askRequest is the body of POST /api/v1/ask.
type askRequest struct {
	// Question in natural language, required.
	Question string `json:"question"`
}

// askResponse is the answer of POST /api/v1/ask.
type askResponse struct {
	Question string `json:"question"`
	// Answer is the model's answer (source llm) or a generated summary of the items (search).
	Answer string `json:"answer"`
	// Source is "llm" or "search".
	Source string `json:"source"`
	// Sufficient: the model found the items enough to answer (llm); some item matched (search).
	Sufficient bool `json:"sufficient"`
	// Citations are ids of items the answer rests on.
	Citations []string `json:"citations"`
	// Items are the matching items, most recent first (at most 20).
	Items []askItemJSON `json:"items"`
	// Matched is how many items matched before the cap.
	Matched int `json:"matched"`
	// Queries are the searches run.
	Queries []askQueryJSON `json:"queries"`
	Model   string         `json:"model,omitempty"`
	// Note says why the model was not used or what failed (the answer is then the search's).
	Note string `json:"note,omitempty"`
	// EventTime is the "now" of relative times in the question (the exporter's event time).
	EventTime time.Time `json:"event_time"`
}

type askItemJSON struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Service  string    `json:"service"`
	Severity string    `json:"severity,omitempty"`
	Time     time.Time `json:"time"`
	Text     string    `json:"text"`
}

type askQueryJSON struct {
	Services []string  `json:"services"`
	Severity string    `json:"severity,omitempty"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Keywords []string  `json:"keywords"`
	Kinds    []string  `json:"kinds"`
}

func (a *apiServer) handleAsk(w http.ResponseWriter, r *http.Request) {
	var req askRequest
	if err := decode(w, r, &req); err != nil {
		a.failWith(w, "ask", err)
		return
	}
	q := strings.TrimSpace(req.Question)
	switch {
	case q == "":
		a.failWith(w, "ask", badRequest("question is required: a question in natural language"))
		return
	case !utf8.ValidString(q):
		a.failWith(w, "ask", badRequest("question must be valid UTF-8"))
		return
	case utf8.RuneCountInString(q) > maxQuestion:
		a.failWith(w, "ask", badRequest("question must be at most %d characters", maxQuestion))
		return
	}
	a.reply(w, "ask", http.StatusOK, "ok", a.e.answer(r.Context(), q))
}

// eventNow is the "now" of questions: the exporter's event time, else the wall clock.
func (e *rcaExporter) eventNow() time.Time {
	e.mu.Lock()
	wm := e.engine.Watermark()
	e.mu.Unlock()
	if wm > 0 {
		return time.Unix(0, wm).UTC()
	}
	return e.clock.Now().UTC()
}

// answer answers a question: with the model when one is configured and free, else (or when it
// fails) by keyword search.
func (e *rcaExporter) answer(ctx context.Context, question string) *askResponse {
	now := e.eventNow()
	services := e.ask.services()
	resp := &askResponse{Question: question, EventTime: now, Citations: []string{}}
	ai := e.llm
	if ai == nil {
		e.searchAnswer(resp, []llmprompt.Query{llmprompt.ParseQuestion(question, services, now)})
		return resp
	}
	select {
	case ai.askSlots <- struct{}{}:
		defer func() { <-ai.askSlots }()
	default:
		ai.ins.Skipped("busy")
		e.searchAnswer(resp, []llmprompt.Query{llmprompt.ParseQuestion(question, services, now)})
		resp.Note = "the LLM is busy with other questions: answered by keyword search"
		return resp
	}
	ctx, cancel := context.WithTimeout(ctx, ai.askTimeout)
	defer cancel()
	model := ai.client.Model()
	resp.Model = model

	queries, note := e.plan(ctx, ai, question, services, now)
	items, matched := e.ask.search(queries, maxAskItems)
	resp.Queries, resp.Items, resp.Matched = queryJSON(queries), itemJSON(items), matched

	system, user := llmprompt.AnswerPrompt(question, items, now)
	ids := llmprompt.AnswerItemIDs(items)
	res, err := ai.client.Do(ctx, llm.Request{
		Task: taskAskAnswer, System: system, Prompt: user,
		Validate: func(raw []byte) error { return llmprompt.ValidateAnswer(raw, ids) },
	})
	var ans llmprompt.Answer
	if err == nil {
		ans, err = llmprompt.ParseAnswer(res.Raw, ids)
	}
	if err != nil {
		e.logger.Debug("LLM answer failed, answering by keyword search", zap.Error(err))
		e.searchAnswer(resp, queries)
		resp.Note = strings.TrimSpace(note + " the LLM could not answer (" + outcomeOf(err) + "): answered by keyword search")
		return resp
	}
	resp.Source = askSourceLLM
	resp.Answer = ans.Answer
	resp.Citations = append([]string{}, ans.Citations...)
	resp.Sufficient = ans.Sufficient
	resp.Note = note
	return resp
}

// plan asks the model for up to three searches; on failure it falls back to ParseQuestion and
// says so.
func (e *rcaExporter) plan(ctx context.Context, ai *llmStage, question string, services []string, now time.Time) ([]llmprompt.Query, string) {
	system, user := llmprompt.PlanPrompt(question, services, now)
	h := sha256.New()
	for _, s := range append([]string{question}, services...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	res, err := ai.client.Do(ctx, llm.Request{
		Task: taskAskPlan, System: system, Prompt: user, CacheKey: hex.EncodeToString(h.Sum(nil)),
		Validate: llmprompt.ValidatePlan,
	})
	var qs []llmprompt.Query
	if err == nil {
		qs, err = llmprompt.ParsePlan(res.Raw, services, now)
	}
	if err != nil || len(qs) == 0 {
		if err == nil {
			err = errors.New("no search planned")
		}
		return []llmprompt.Query{llmprompt.ParseQuestion(question, services, now)},
			"the LLM could not plan the searches (" + outcomeOf(err) + "): the question was parsed without it;"
	}
	if len(qs) > 3 {
		qs = qs[:3]
	}
	return qs, ""
}

func outcomeOf(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return string(le.Outcome)
	}
	return "invalid answer"
}

// searchAnswer fills resp with the keyword search of queries and a generated summary.
func (e *rcaExporter) searchAnswer(resp *askResponse, queries []llmprompt.Query) {
	items, matched := e.ask.search(queries, maxAskItems)
	resp.Source = askSourceSearch
	resp.Queries, resp.Items, resp.Matched = queryJSON(queries), itemJSON(items), matched
	resp.Sufficient = matched > 0
	resp.Citations = make([]string, 0, len(items))
	for _, it := range items {
		resp.Citations = append(resp.Citations, it.ID)
	}
	resp.Answer = summarize(queries, items, matched)
}

// summarize is the search answer's text: what was searched, how many items of each kind matched
// and the most recent ones.
func summarize(queries []llmprompt.Query, items []llmprompt.Item, matched int) string {
	var b strings.Builder
	q := queries[0]
	scope := fmt.Sprintf("between %s and %s", q.Since.UTC().Format(time.RFC3339), q.Until.UTC().Format(time.RFC3339))
	if len(q.Services) > 0 {
		scope += " for " + strings.Join(q.Services, ", ")
	}
	if q.Severity != "" {
		scope += ", severity " + q.Severity + " or above"
	}
	if len(q.Keywords) > 0 {
		scope += ", mentioning " + strings.Join(q.Keywords, " or ")
	}
	if matched == 0 {
		fmt.Fprintf(&b, "Nothing held matches the question (%s). The window searched holds anomalous records, incidents, edge anomalies and LLM verdicts.", scope)
		return b.String()
	}
	counts := map[string]int{}
	for _, it := range items {
		counts[it.Kind]++
	}
	var parts []string
	for _, k := range []string{kindIncident, kindAnomaly, kindEdge} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], plural(k, counts[k])))
		}
	}
	fmt.Fprintf(&b, "%d items match (%s)", matched, scope)
	if matched > len(items) {
		fmt.Fprintf(&b, "; the %d most recent are shown", len(items))
	}
	fmt.Fprintf(&b, ": %s. Most recent:", strings.Join(parts, ", "))
	for i, it := range items {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, " [%s] %s %s: %s.", it.ID, it.Time.UTC().Format(time.RFC3339), it.Service, truncate(it.Text, 160))
	}
	return b.String()
}

func plural(kind string, n int) string {
	switch {
	case n == 1 && kind == kindAnomaly:
		return "anomaly"
	case kind == kindAnomaly:
		return "anomalies"
	case n == 1:
		return kind
	}
	return kind + "s"
}

func queryJSON(qs []llmprompt.Query) []askQueryJSON {
	out := make([]askQueryJSON, len(qs))
	for i, q := range qs {
		out[i] = askQueryJSON{
			Services: orEmpty(q.Services), Severity: q.Severity, Since: q.Since.UTC(), Until: q.Until.UTC(),
			Keywords: orEmpty(q.Keywords), Kinds: orEmpty(q.Kinds),
		}
	}
	return out
}

func itemJSON(items []llmprompt.Item) []askItemJSON {
	out := make([]askItemJSON, len(items))
	for i, it := range items {
		out[i] = askItemJSON{ID: it.ID, Kind: it.Kind, Service: it.Service, Severity: it.Severity, Time: it.Time.UTC(), Text: it.Text}
	}
	return out
}

func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmconfig"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmprompt"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
)

// Narratives (config key `llm`): once the statistical version of an incident went out, a
// background worker asks the model for a root-cause narrative built from the computed evidence,
// and the engine merges the answer into the incident as a new version (rca.Engine.AttachNarrative),
// which goes to the sinks through the same sender. Nothing here ever blocks ingestion.

const (
	// taskRCA is the llm.Request task (metric attribute, cache namespace) of narratives.
	taskRCA = "rca"
	// maxNarrated bounds the incidents whose narrative state is followed (open incidents are
	// bounded by the engine; this only guards against ids never seen resolved).
	maxNarrated = 1000
	// maxVerdictsPerService is how many recent verdicts of each service a question shows.
	maxVerdictsPerService = 2
	// maxVerdictLine bounds a verdict line in a question.
	maxVerdictLine = 300
)

// Outcomes of narrative answers (exporter_rca_llm_verdicts{result}).
const (
	narrMerged       = "merged"        // the model named the ranking's root cause: merged
	narrDisagreed    = "disagreed"     // another service: shown as an opinion, the ranking stands
	narrFailed       = "failed"        // no valid answer (error, timeout, 429, 5xx, invalid or unknown names)
	narrStale        = "stale"         // the ranking changed meanwhile: asked again if allowed
	narrIncidentGone = "incident_gone" // the incident resolved or merged before the answer
)

// Reasons of questions not asked (exporter_rca_llm_skipped{reason}).
const (
	skipQueueFull     = "queue_full"
	skipMaxNarratives = "max_narratives"
	skipShutdown      = "shutdown"
)

// narrState follows the questions about one incident.
type narrState struct {
	asked    int
	inFlight bool
	want     bool      // a significant change not asked about yet
	lastAsk  time.Time // wall clock
	root     string
	sev      incident.Severity
	services []string // sorted
	seq      uint64
}

// narrator owns the narrative queue and workers. Its methods are safe for concurrent use.
type narrator struct {
	e       *rcaExporter
	cfg     *LLMConfig
	client  *llm.Client
	redact  func(string) string
	ins     llmconfig.Instruments
	queue   chan string // incident ids
	workers int

	mu      sync.Mutex
	states  map[string]*narrState
	seq     uint64
	stopped bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newNarrator(e *rcaExporter, cfg *LLMConfig, client *llm.Client, redact func(string) string, ins llmconfig.Instruments) *narrator {
	return &narrator{
		e: e, cfg: cfg, client: client, redact: redact, ins: ins,
		queue: make(chan string, cfg.QueueSize), workers: cfg.MaxConcurrency,
		states: map[string]*narrState{},
	}
}

// start starts the workers and the loop that asks about updates held back by
// min_update_interval.
func (n *narrator) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	for range n.workers {
		n.wg.Go(func() { n.work(ctx) })
	}
	if n.cfg.MinUpdateInterval > 0 {
		n.wg.Go(func() {
			n.e.every(ctx, max(n.cfg.MinUpdateInterval/2, time.Second), n.retry)
		})
	}
}

// stop cancels the questions in flight, waits for the workers and counts the questions still
// queued as skipped. Safe without start and twice.
func (n *narrator) stop() {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	for {
		select {
		case <-n.queue:
			n.ins.Skipped(skipShutdown)
		default:
			return
		}
	}
}

// observe looks at incidents the engine emitted and queues a question about those that opened
// or changed significantly: root cause changed, severity raised, a service joined.
func (n *narrator) observe(changed []incident.Incident) {
	if len(changed) == 0 {
		return
	}
	now := n.e.clock.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range changed {
		inc := &changed[i]
		if inc.Status != incident.StatusOpen || inc.MergedInto != "" {
			delete(n.states, inc.ID)
			continue
		}
		services := slices.Clone(inc.AffectedServices)
		slices.Sort(services)
		st := n.states[inc.ID]
		significant := false
		if st == nil {
			n.makeRoom()
			st = &narrState{}
			n.states[inc.ID] = st
			significant = true
		} else {
			significant = inc.RootCauseService != st.root || sevRank(inc.Severity) > sevRank(st.sev) || joined(st.services, services)
		}
		n.seq++
		st.seq = n.seq
		st.root, st.sev, st.services = inc.RootCauseService, inc.Severity, services
		if !significant {
			continue
		}
		if st.asked >= n.cfg.MaxNarrativesPerIncident {
			n.ins.Skipped(skipMaxNarratives)
			continue
		}
		st.want = true
		n.tryAsk(inc.ID, st, now)
	}
}

// restore takes over the open incidents restored from storage, so that a restart does not make
// them new (and ask about each again): one that carries a narrative counts as asked once and is
// asked again only on a significant change; one without a narrative yet is wanted, as it was
// before the restart.
func (n *narrator) restore(incs []incident.Incident) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range incs {
		inc := &incs[i]
		if inc.Status != incident.StatusOpen || inc.MergedInto != "" {
			continue
		}
		n.makeRoom()
		services := slices.Clone(inc.AffectedServices)
		slices.Sort(services)
		n.seq++
		st := &narrState{root: inc.RootCauseService, sev: inc.Severity, services: services, seq: n.seq}
		if inc.LLM != nil {
			st.asked = 1
		} else {
			st.want = true
		}
		n.states[inc.ID] = st
	}
}

// joined reports whether now has a service that was not in before (both sorted).
func joined(before, now []string) bool {
	for _, s := range now {
		if _, ok := slices.BinarySearch(before, s); !ok {
			return true
		}
	}
	return false
}

func sevRank(s incident.Severity) int { return llmprompt.SeverityRank(string(s)) }

// makeRoom forgets the least recently updated incident when the bound is reached.
func (n *narrator) makeRoom() {
	for len(n.states) >= maxNarrated {
		oldest, seq := "", uint64(0)
		for id, st := range n.states {
			if oldest == "" || st.seq < seq {
				oldest, seq = id, st.seq
			}
		}
		delete(n.states, oldest)
	}
}

// tryAsk queues the question about id when one is wanted, none is in flight and
// min_update_interval has passed since the last one. Called with n.mu held.
func (n *narrator) tryAsk(id string, st *narrState, now time.Time) {
	if !st.want || st.inFlight || n.stopped {
		return
	}
	if st.asked > 0 && now.Sub(st.lastAsk) < n.cfg.MinUpdateInterval {
		return // retry asks once the interval has passed
	}
	st.want = false
	select {
	case n.queue <- id:
		st.inFlight = true
		st.asked++
		st.lastAsk = now
	default:
		n.ins.Skipped(skipQueueFull)
	}
}

// retry asks about the updates held back by min_update_interval.
func (n *narrator) retry() {
	now := n.e.clock.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, st := range n.states {
		n.tryAsk(id, st, now)
	}
}

// done ends the question about id; a stale answer makes it wanted again.
func (n *narrator) done(id string, again bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.states[id]
	if st == nil {
		return
	}
	st.inFlight = false
	if again {
		if st.asked >= n.cfg.MaxNarrativesPerIncident {
			n.ins.Skipped(skipMaxNarratives)
		} else {
			st.want = true
		}
	}
	n.tryAsk(id, st, n.e.clock.Now())
}

func (n *narrator) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-n.queue:
			result := n.ask(ctx, id)
			n.ins.Result(result)
			n.done(id, result == narrStale)
		}
	}
}

// ask asks about one incident and merges the answer; it returns the outcome.
func (n *narrator) ask(ctx context.Context, id string) string {
	e := n.e
	e.mu.Lock()
	nc, ok := e.engine.NarrativeContext(id)
	var verdicts []verdict
	if ok {
		inc := &nc.Incident
		from := inc.StartedAt.Add(-e.cfg.Incidents.CorrelationWindow).UnixNano()
		to := inc.UpdatedAt.Add(e.cfg.Incidents.CorrelationWindow).UnixNano()
		verdicts = e.verdicts.recent(inc.AffectedServices, from, to, maxVerdictsPerService)
	}
	e.mu.Unlock()
	if !ok {
		return narrIncidentGone
	}
	ev := n.evidence(&nc, verdicts)
	services := make(map[string]bool, len(nc.Services))
	for _, s := range nc.Services {
		services[s] = true
	}
	system, user := llmprompt.RCAPrompt(ev)
	res, err := n.client.Do(ctx, llm.Request{
		Task: taskRCA, System: system, Prompt: user,
		CacheKey: llmprompt.RCACacheKey(ev, n.client.Model()),
		Validate: func(raw []byte) error { return llmprompt.ValidateRCA(raw, services) },
	})
	if err != nil {
		e.logger.Debug("No LLM narrative for an incident", zap.String("incident_id", id), zap.Error(err))
		return narrFailed
	}
	ans, err := llmprompt.ParseRCA(res.Raw, services)
	if err != nil {
		return narrFailed
	}
	model := res.Model
	if model == "" {
		model = n.client.Model()
	}
	narr := rca.Narrative{
		Model: model, RootCauseService: ans.RootCauseService, RootCauseIssue: ans.RootCauseIssue,
		Confidence: ans.Confidence, Explanation: ans.Explanation, RemediationSteps: ans.RemediationSteps,
		Ranked: nc.Incident.RootCauseService,
	}
	e.mu.Lock()
	inc, err := e.engine.AttachNarrative(id, narr)
	e.mu.Unlock()
	switch {
	case errors.Is(err, rca.ErrNarrativeStale):
		return narrStale
	case err != nil:
		return narrIncidentGone
	}
	// The new version goes out like every other update (and is not a significant change).
	_ = e.forwardErr(context.Background(), []incident.Incident{inc})
	e.indexIncidents([]incident.Incident{inc})
	if inc.LLM != nil && !inc.LLM.AgreesWithRanking {
		return narrDisagreed
	}
	return narrMerged
}

// evidence builds the question's evidence from the engine's copy; every text derived from
// telemetry is redacted.
func (n *narrator) evidence(nc *rca.NarrativeContext, verdicts []verdict) llmprompt.Evidence {
	inc := &nc.Incident
	r := n.redact
	ev := llmprompt.Evidence{
		IncidentID: inc.ID, Start: inc.StartedAt, End: inc.UpdatedAt, Severity: string(inc.Severity),
		Services: nc.Services, Affected: inc.AffectedServices,
		PropagationPath: inc.PropagationPath, DependencyPaths: inc.DependencyPaths,
	}
	for _, c := range inc.Candidates {
		reasons := make([]string, len(c.Reasons))
		for i, x := range c.Reasons {
			reasons[i] = r(x)
		}
		ev.Candidates = append(ev.Candidates, llmprompt.Candidate{Service: c.Service, Score: c.Score, Kind: c.Kind, Reasons: reasons})
	}
	logs := map[string]*llmprompt.ServiceLogs{}
	var order []string
	get := func(s string) *llmprompt.ServiceLogs {
		l := logs[s]
		if l == nil {
			l = &llmprompt.ServiceLogs{Service: s}
			logs[s] = l
			order = append(order, s)
		}
		return l
	}
	for _, t := range inc.TopTemplates {
		l := get(t.Service)
		id := t.TemplateID
		if id == "" {
			id = "-"
		}
		l.Templates = append(l.Templates, fmt.Sprintf("%s: %s (%d)", r(id), r(t.Template), t.Count))
	}
	for _, sl := range nc.Logs {
		l := get(sl.Service)
		for _, x := range sl.Lines {
			l.Exemplars = append(l.Exemplars, r(x))
		}
	}
	for i := range verdicts {
		v := &verdicts[i]
		l := get(v.service)
		l.Exemplars = append(l.Exemplars, r(v.line(maxVerdictLine)))
	}
	for _, s := range order {
		ev.Logs = append(ev.Logs, *logs[s])
	}
	for _, x := range nc.EdgeChanges {
		ev.EdgeChanges = append(ev.EdgeChanges, r(x))
	}
	for _, x := range nc.MetricChanges {
		ev.MetricChanges = append(ev.MetricChanges, r(x))
	}
	for _, s := range inc.SimilarIncidents {
		ev.Similar = append(ev.Similar, llmprompt.Past{ID: s.ID, RootCauseService: s.RootCauseService, Resolution: r(s.Resolution), Similarity: s.Similarity})
	}
	return ev
}

// line is how a verdict is shown to a model or a person.
func (v *verdict) line(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[LLM verdict %s-%s] ", time.Unix(0, v.start).UTC().Format("15:04:05"), time.Unix(0, v.end).UTC().Format("15:04:05"))
	if v.isAnomaly {
		fmt.Fprintf(&b, "anomaly %s %s", v.severity, v.anomalyType)
	} else {
		b.WriteString("normal")
	}
	fmt.Fprintf(&b, " (confidence %.2f)", v.confidence)
	if v.rootCause != "" {
		b.WriteString(": root cause " + v.rootCause)
	}
	if v.explanation != "" {
		b.WriteString("; " + v.explanation)
	}
	return truncate(b.String(), n)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// A narrative is a language model's reading of an incident's evidence (the rca exporter's
// optional llm section). The engine keeps it with the open incident so that every later version
// carries it, while the deterministic ranking (root_cause_service, candidates) stays its own.

// SourceLLM is the Source of an incident that carries a narrative; SourceStatistical of one
// that does not.
const (
	SourceStatistical = "statistical"
	SourceLLM         = "llm"
)

// Errors of AttachNarrative.
var (
	// ErrIncidentGone: the incident is not open any more (resolved, merged) or unknown.
	ErrIncidentGone = errors.New("rca: incident not open")
	// ErrNarrativeStale: the ranking's root cause changed since the narrative was asked for.
	ErrNarrativeStale = errors.New("rca: the ranking changed since the narrative was asked for")
)

// Narrative is a model's root-cause analysis of an open incident.
type Narrative struct {
	Model string `json:"model"`
	// RootCauseService is the model's root cause: a service of the graph (the caller validates).
	RootCauseService string  `json:"root_cause_service"`
	RootCauseIssue   string  `json:"root_cause_issue"`
	Confidence       float64 `json:"confidence"`
	Explanation      string  `json:"explanation"`
	// RemediationSteps are suggestions for a human operator; nothing is executed.
	RemediationSteps []string `json:"remediation_steps,omitempty"`
	// Ranked is the ranking's root cause service when the question was built: the narrative
	// applies while the ranking still names it.
	Ranked string `json:"ranked"`
}

// statFields are the parts of an incident that a narrative replaces, as the ranking made them.
type statFields struct {
	Issue       string  `json:"issue"`
	Explanation string  `json:"explanation"`
	Confidence  float64 `json:"confidence"`
}

// NarrativeContext is what a question about an incident needs from the engine, copied.
type NarrativeContext struct {
	// Incident is the last emitted version (with its narrative, if any).
	Incident incident.Incident
	// Services are the names the answer may use: the services of the graph (user nodes
	// excluded) and those of the incident, sorted.
	Services []string
	// Logs holds, per affected service (sorted), the earliest anomalous log lines.
	Logs []ServiceLines
	// EdgeChanges describe the anomalous edges charged to the incident's services; MetricChanges
	// their own-time, egress-time and resource-metric changes.
	EdgeChanges, MetricChanges []string
}

// ServiceLines are the earliest anomalous log lines of one service of an incident.
type ServiceLines struct {
	Service string
	Lines   []string
}

// maxContextServices bounds the names of NarrativeContext.Services.
const maxContextServices = 5000

// NarrativeContext returns a copy of what a question about open incident id needs; false when
// the incident is not open or was never emitted.
func (e *Engine) NarrativeContext(id string) (NarrativeContext, bool) {
	inc := e.open[id]
	if inc == nil || inc.version == 0 {
		return NarrativeContext{}, false
	}
	c := NarrativeContext{Incident: inc.out.Clone()}
	names := map[string]struct{}{}
	for _, s := range inc.out.AffectedServices {
		names[s] = struct{}{}
	}
	for _, cd := range inc.out.Candidates {
		names[cd.Service] = struct{}{}
	}
	for _, s := range sortedNodeNames(e.g) {
		if len(names) >= maxContextServices {
			break
		}
		if e.g.kind(s) != "user" {
			names[s] = struct{}{}
		}
	}
	c.Services = make([]string, 0, len(names))
	for s := range names {
		c.Services = append(c.Services, s)
	}
	sort.Strings(c.Services)
	for _, s := range serviceList(inc) {
		sa := inc.services[s]
		var lines []string
		for i := range sa.exemplars {
			a := &sa.exemplars[i]
			switch {
			case ownSignal(a.Type):
				c.MetricChanges = append(c.MetricChanges, s+": "+a.Line)
			case strings.HasPrefix(a.Type, "edge_") || a.Type == AlertAnomalyType:
				// edges come from the signals below; alerts only exist in investigations
			default:
				lines = append(lines, a.Line)
			}
		}
		if len(lines) > 0 {
			c.Logs = append(c.Logs, ServiceLines{Service: s, Lines: lines})
		}
		for _, k := range sortedSigKeys(sa.edges) {
			c.EdgeChanges = append(c.EdgeChanges, sa.edges[k].describe(s))
		}
		if sa.ownLine != "" && !slices.Contains(c.MetricChanges, s+": "+sa.ownLine) {
			c.MetricChanges = append(c.MetricChanges, s+": "+sa.ownLine)
		}
	}
	return c, true
}

func sortedNodeNames(g *depGraph) []string {
	out := make([]string, 0, len(g.nodes))
	for s := range g.nodes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// AttachNarrative merges a narrative into open incident id and returns the new version (the
// version is bumped; nothing else of the ranking changes). ErrIncidentGone when the incident is
// not open, ErrNarrativeStale when the ranking's root cause is not n.Ranked any more (the caller
// asks again about the new ranking). Later versions keep the narrative while the ranking keeps
// its root cause.
func (e *Engine) AttachNarrative(id string, n Narrative) (incident.Incident, error) {
	inc := e.open[id]
	if inc == nil || inc.version == 0 {
		return incident.Incident{}, ErrIncidentGone
	}
	if n.Ranked != inc.out.RootCauseService {
		return incident.Incident{}, ErrNarrativeStale
	}
	if inc.stat == nil {
		st := statOf(&inc.out)
		inc.stat = &st
	}
	n.RemediationSteps = slices.Clone(n.RemediationSteps)
	inc.narr = &n
	applyNarrative(&inc.out, inc.stat, inc.narr)
	inc.version++
	inc.out.Version = inc.version
	e.stats.NarrativesAttached++
	e.kb.Upsert(&inc.out)
	return inc.out.Clone(), nil
}

// statOf reads the ranking's fields from an incident without a narrative.
func statOf(out *incident.Incident) statFields {
	return statFields{Issue: out.RootCauseIssue, Explanation: out.Explanation, Confidence: out.Confidence}
}

// reapplyNarrative runs after the incident was ranked again: it remembers the ranking's fields
// and applies the narrative while the ranking keeps the root cause it was asked about; otherwise
// the narrative is dropped and the incident is statistical again.
func (e *Engine) reapplyNarrative(inc *openInc) {
	st := statOf(&inc.out)
	inc.stat = &st
	if inc.narr != nil && inc.narr.Ranked != inc.out.RootCauseService {
		inc.narr = nil
		e.stats.NarrativesDropped++
	}
	if inc.narr == nil {
		// rank leaves what only a narrative sets
		inc.out.LLM = nil
		inc.out.RemediationSteps = nil
		return
	}
	applyNarrative(&inc.out, inc.stat, inc.narr)
}

// applyNarrative merges n into out, whose ranking fields are st. When the model names the
// ranking's root cause, its issue, confidence and explanation become the incident's (the
// ranking's explanation follows); otherwise the ranking's issue and confidence stand and the
// explanation starts with the model's different opinion. root_cause_service and the candidates
// are always the ranking's: the model may only name services of the graph, and its choice is
// shown in out.LLM.
func applyNarrative(out *incident.Incident, st *statFields, n *Narrative) {
	agrees := n.RootCauseService == out.RootCauseService
	out.LLM = &incident.LLMOpinion{
		Model: n.Model, RootCauseService: n.RootCauseService, RootCauseIssue: n.RootCauseIssue,
		Confidence: n.Confidence, AgreesWithRanking: agrees, Explanation: n.Explanation,
	}
	out.Source = SourceLLM
	out.RemediationSteps = slices.Clone(n.RemediationSteps)
	if agrees {
		out.RootCauseIssue = n.RootCauseIssue
		out.Confidence = n.Confidence
		out.Explanation = n.Explanation + "\n\nStatistical ranking: " + st.Explanation
		return
	}
	out.RootCauseIssue = st.Issue
	out.Confidence = st.Confidence
	out.Explanation = fmt.Sprintf("The LLM (%s) suggests %s rather than the ranking's %s (confidence %.2f): %s. %s\n\nStatistical ranking: %s",
		n.Model, n.RootCauseService, out.RootCauseService, n.Confidence, n.RootCauseIssue, n.Explanation, st.Explanation)
}

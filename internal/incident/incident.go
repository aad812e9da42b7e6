// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package incident defines the incident record produced by the rca exporter: the root-cause
// analysis schema our users asked for (root_cause_service, propagation_path, evidence, ...) plus
// the lifecycle and ranking details. It is the wire format of the generic webhook sink and the
// input of every other sink.
package incident // import "github.com/otelcol-aiops/otelcol-aiops/internal/incident"

import "time"

// Status is the lifecycle state of an incident.
type Status string

const (
	// StatusOpen is an ongoing incident (new or updated).
	StatusOpen Status = "open"
	// StatusResolved is an incident whose services have been quiet for the resolve period.
	StatusResolved Status = "resolved"
)

// Severity follows the processor's anomaly.severity values.
type Severity string

const (
	SeverityCritical Severity = "Critical"
	SeverityHigh     Severity = "High"
	SeverityMedium   Severity = "Medium"
	SeverityLow      Severity = "Low"
)

// Incident is one incident as forwarded to sinks. Times are event times (from the records).
type Incident struct {
	// ID is stable for the whole life of the incident (used as PagerDuty dedup_key, Jira key lookup).
	ID string `json:"id"`
	// Version increases with every update; sinks use it to skip stale updates.
	Version  int      `json:"version"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`

	// The root-cause analysis schema.
	RootCauseService string     `json:"root_cause_service"`
	RootCauseIssue   string     `json:"root_cause_issue"`
	PropagationPath  []string   `json:"propagation_path"`
	Evidence         []string   `json:"evidence"`
	Confidence       float64    `json:"confidence"`
	Explanation      string     `json:"explanation"`
	DependencyPaths  [][]string `json:"dependency_paths"`

	// Ranking and scope.
	Candidates       []Candidate   `json:"candidates"`
	AffectedServices []string      `json:"affected_services"`
	TopTemplates     []TemplateRef `json:"top_templates,omitempty"`
	RemediationSteps []string      `json:"remediation_steps,omitempty"`
	SimilarIncidents []Similar     `json:"similar_incidents,omitempty"`

	StartedAt  time.Time  `json:"started_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Source says who produced the analysis: "statistical" or "llm".
	Source string `json:"source"`
	// MergedInto is set on the final (resolved) version of an incident that turned out to be part
	// of an older incident: the id of that incident. Sinks should close this one.
	MergedInto string `json:"merged_into,omitempty"`
	// LLM is the opinion of a language model asked about the incident (rca exporter, optional
	// llm section), next to the deterministic ranking, which stays in root_cause_service and
	// candidates. Set together with Source "llm".
	LLM *LLMOpinion `json:"llm,omitempty"`
}

// LLMOpinion is what a language model concluded from the incident's evidence. Its remediation
// steps, when any, are in Incident.RemediationSteps: suggestions for a human, nothing is executed.
type LLMOpinion struct {
	Model            string  `json:"model"`
	RootCauseService string  `json:"root_cause_service"`
	RootCauseIssue   string  `json:"root_cause_issue"`
	Confidence       float64 `json:"confidence"`
	// AgreesWithRanking is whether the model named the ranking's root cause service.
	AgreesWithRanking bool   `json:"agrees_with_ranking"`
	Explanation       string `json:"explanation"`
}

// Clone returns a deep copy of the incident.
func (in *Incident) Clone() Incident {
	out := *in
	out.PropagationPath = cloneSlice(in.PropagationPath)
	out.Evidence = cloneSlice(in.Evidence)
	if in.DependencyPaths != nil {
		out.DependencyPaths = make([][]string, len(in.DependencyPaths))
		for i, p := range in.DependencyPaths {
			out.DependencyPaths[i] = cloneSlice(p)
		}
	}
	if in.Candidates != nil {
		out.Candidates = make([]Candidate, len(in.Candidates))
		for i, c := range in.Candidates {
			c.Reasons = cloneSlice(c.Reasons)
			out.Candidates[i] = c
		}
	}
	out.AffectedServices = cloneSlice(in.AffectedServices)
	out.TopTemplates = cloneSlice(in.TopTemplates)
	out.RemediationSteps = cloneSlice(in.RemediationSteps)
	out.SimilarIncidents = cloneSlice(in.SimilarIncidents)
	if in.ResolvedAt != nil {
		t := *in.ResolvedAt
		out.ResolvedAt = &t
	}
	if in.LLM != nil {
		o := *in.LLM
		out.LLM = &o
	}
	return out
}

// Candidate is one ranked root-cause candidate.
type Candidate struct {
	Service string  `json:"service"`
	Score   float64 `json:"score"`
	// Kind is the node kind: service, database, messaging, virtual, user.
	Kind string `json:"kind"`
	// Reasons lists the signals that contributed, e.g. "earliest anomaly", "edge errors from checkout".
	Reasons []string `json:"reasons,omitempty"`
}

// TemplateRef is a frequent anomalous template of one service.
type TemplateRef struct {
	Service    string `json:"service"`
	TemplateID string `json:"template_id"`
	Template   string `json:"template"`
	Count      int    `json:"count"`
}

// Similar is a past incident resembling this one, with its recorded resolution.
type Similar struct {
	ID               string  `json:"id"`
	Similarity       float64 `json:"similarity"`
	RootCauseService string  `json:"root_cause_service"`
	Resolution       string  `json:"resolution,omitempty"`
}

// cloneSlice copies s, keeping nil as nil and empty as empty.
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

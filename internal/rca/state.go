// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// Engine snapshots hold the knowledge base, the open incidents and what the engine has learned
// (learned.go: the graph with its edge baselines, own-time, gap and entry-load histories, and the
// windows waiting for the watermark), so that after a restart an ongoing incident keeps its id,
// version and evidence, and the next windows are judged as if the collector had not stopped.
// Pending anomalies (not yet part of an incident) and the evidence history that
// Investigate searches are not kept: they are minutes of event time, and refill.
//
// Format: magic "RCAEN", version byte, CRC-32 (IEEE, big endian) of the payload, JSON payload.
// Version 1 snapshots (without the learned state) and knowledge-base-only snapshots ("RCAKB")
// of earlier versions are still accepted.

var engineMagic = []byte("RCAEN")

const (
	engineVersion   = 2
	engineVersionV1 = 1 // without the learned state
)

type engineState struct {
	Watermark int64       `json:"watermark"`
	KB        []byte      `json:"kb"` // knowledge base snapshot (its own format)
	Open      []openState `json:"open"`
	// Learned is the learned state (learned.go, gob); absent in version 1.
	Learned []byte `json:"learned,omitempty"`
}

type openState struct {
	ID       string              `json:"id"`
	Version  int                 `json:"version"`
	Start    int64               `json:"start"`
	Last     int64               `json:"last"`
	Sig      string              `json:"sig"`
	Services map[string]svcState `json:"services"`
	Out      incident.Incident   `json:"out"`
	// Narrative and Stat: the narrative attached (narrative.go) and the ranking's fields it
	// replaced; absent in snapshots of earlier versions.
	Narrative *Narrative  `json:"narrative,omitempty"`
	Stat      *statFields `json:"stat,omitempty"`
}

type svcState struct {
	Onset     int64             `json:"onset"`
	Last      int64             `json:"last"`
	SymOnset  int64             `json:"sym_onset"`
	Symptoms  int               `json:"symptoms"`
	Count     int               `json:"count"`
	MaxScore  float64           `json:"max_score"`
	LogMax    float64           `json:"log_max"`
	Sev       incident.Severity `json:"severity"`
	Types     map[string]int    `json:"types"`
	Templates []tplState        `json:"templates"`
	Exemplars []Anomaly         `json:"exemplars"`
	Edges     []edgeState       `json:"edges"`
	EdgeScore float64           `json:"edge_score"`
	// The service's own signals (absent in snapshots of earlier versions).
	OwnScore float64 `json:"own_score,omitempty"`
	OwnLine  string  `json:"own_line,omitempty"`
	OwnLast  int64   `json:"own_last,omitempty"`
}

type tplState struct {
	Key   string `json:"key"`
	ID    string `json:"id"`
	Text  string `json:"text"`
	Count int    `json:"count"`
	First int64  `json:"first"`
}

type edgeState struct {
	Caller    string  `json:"caller"`
	ErrRate   float64 `json:"err_rate"`
	Base      float64 `json:"base"`
	P95       float64 `json:"p95"`
	BaseP95   float64 `json:"base_p95"`
	LogErrors int64   `json:"log_errors"`
	Score     float64 `json:"score"`
	Kind      string  `json:"kind"`
	Calls     int64   `json:"calls"`
	Errs      int64   `json:"errs"`
}

// MarshalBinary snapshots the knowledge base and the open incidents.
func (e *Engine) MarshalBinary() ([]byte, error) {
	kb, err := e.kb.MarshalBinary()
	if err != nil {
		return nil, err
	}
	learned, err := e.encodeLearned()
	if err != nil {
		return nil, err
	}
	st := engineState{Watermark: e.wm, KB: kb, Open: make([]openState, 0, len(e.open)), Learned: learned}
	for _, inc := range e.sortedOpen() {
		st.Open = append(st.Open, encodeOpen(inc))
	}
	payload, err := json.Marshal(&st)
	if err != nil {
		return nil, err
	}
	return frame(engineMagic, engineVersion, payload), nil
}

// UnmarshalBinary restores a snapshot of MarshalBinary (or a knowledge-base-only snapshot of an
// earlier version). On any error nothing changes. Open incidents beyond max_open_incidents are
// dropped (newest kept, counted in DroppedIncidentsFull); restored incidents replace open
// incidents with the same id.
func (e *Engine) UnmarshalBinary(data []byte) error {
	if bytes.HasPrefix(data, kbMagic) {
		return e.kb.UnmarshalBinary(data)
	}
	version := byte(engineVersion)
	if len(data) > len(engineMagic) && data[len(engineMagic)] == engineVersionV1 {
		version = engineVersionV1
	}
	payload, err := unframe(data, engineMagic, version, "engine")
	if err != nil {
		return err
	}
	var st engineState
	if err := json.Unmarshal(payload, &st); err != nil {
		return fmt.Errorf("rca: decoding engine snapshot: %w", err)
	}
	var learned *learned
	if version == engineVersion {
		if learned, err = e.decodeLearned(st.Learned); err != nil {
			return err
		}
	}
	open := make([]*openInc, 0, len(st.Open))
	for i := range st.Open {
		inc, err := e.decodeOpen(&st.Open[i])
		if err != nil {
			return err
		}
		open = append(open, inc)
	}
	// validate the knowledge base before changing anything
	kb := NewKnowledgeBase(e.cfg.KnowledgeBaseSize)
	if err := kb.UnmarshalBinary(st.KB); err != nil {
		return err
	}
	sort.Slice(open, func(i, j int) bool { return open[i].last > open[j].last })
	if over := len(open) - e.cfg.MaxOpenIncidents; over > 0 {
		e.stats.DroppedIncidentsFull += uint64(over)
		open = open[:e.cfg.MaxOpenIncidents]
	}
	kb.evicted += e.kb.evicted
	e.kb = kb
	if learned != nil {
		e.apply(learned)
	}
	for _, inc := range open {
		e.open[inc.id] = inc
	}
	for len(e.open) > e.cfg.MaxOpenIncidents {
		oldest := e.sortedOpen()[0]
		delete(e.open, oldest.id)
		e.stats.DroppedIncidentsFull++
	}
	e.bump(st.Watermark)
	return nil
}

// OpenIncidentList returns the last emitted state of every open incident (for example restored
// from a snapshot), oldest first. Incidents not emitted yet are left out.
func (e *Engine) OpenIncidentList() []incident.Incident {
	var out []incident.Incident
	for _, inc := range e.sortedOpen() {
		if inc.version > 0 {
			out = append(out, inc.out.Clone())
		}
	}
	return out
}

func encodeOpen(inc *openInc) openState {
	o := openState{ID: inc.id, Version: inc.version, Start: inc.start, Last: inc.last, Sig: inc.sig,
		Services: make(map[string]svcState, len(inc.services)), Out: inc.out.Clone()}
	if inc.narr != nil {
		n := *inc.narr
		n.RemediationSteps = slices.Clone(n.RemediationSteps)
		o.Narrative = &n
		if inc.stat != nil {
			st := *inc.stat
			o.Stat = &st
		}
	}
	for name, sa := range inc.services {
		ss := svcState{Onset: sa.onset, Last: sa.last, SymOnset: sa.symOnset, Symptoms: sa.symptoms, Count: sa.count,
			MaxScore: sa.maxScore, LogMax: sa.logMax, Sev: sa.sev, Types: sa.types, Exemplars: sa.exemplars,
			EdgeScore: sa.edgeScore, OwnScore: sa.ownScore,
			OwnLine: sa.ownLine, OwnLast: sa.ownLast}
		for _, k := range sortedTpl(sa.templates) {
			t := sa.templates[k]
			ss.Templates = append(ss.Templates, tplState{Key: k, ID: t.id, Text: t.text, Count: t.count, First: t.first})
		}
		for _, k := range sortedSigKeys(sa.edges) {
			s := sa.edges[k]
			ss.Edges = append(ss.Edges, edgeState{Caller: s.caller, ErrRate: s.errRate, Base: s.base, P95: s.p95,
				BaseP95: s.baseP95, LogErrors: s.logErrors, Score: s.score, Kind: s.kind, Calls: s.calls, Errs: s.errs})
		}
		o.Services[name] = ss
	}
	return o
}

// decodeOpen rebuilds an open incident, enforcing the same bounds as live ingestion.
func (e *Engine) decodeOpen(o *openState) (*openInc, error) {
	if o.ID == "" || o.Start <= 0 || o.Last < o.Start || o.Version < 0 || len(o.Services) == 0 {
		return nil, errors.New("rca: engine snapshot has an invalid open incident")
	}
	if len(o.Services) > e.cfg.MaxServicesPerIncident {
		return nil, fmt.Errorf("rca: open incident %s has more than %d services", o.ID, e.cfg.MaxServicesPerIncident)
	}
	inc := &openInc{id: o.ID, version: o.Version, start: o.Start, last: o.Last, sig: o.Sig,
		services: make(map[string]*svcAgg, len(o.Services)), out: o.Out.Clone()}
	if o.Narrative != nil {
		n := *o.Narrative
		n.RemediationSteps = slices.Clone(n.RemediationSteps)
		inc.narr = &n
		st := statOf(&inc.out) // a snapshot without the ranking's fields: the best there is
		if o.Stat != nil {
			st = *o.Stat
		}
		inc.stat = &st
	}
	for name, ss := range o.Services {
		if name == "" || ss.Count <= 0 || len(ss.Types) > 16 || len(ss.Templates) > e.cfg.MaxTemplatesPerService ||
			len(ss.Exemplars) > maxExemplars || len(ss.Edges) > maxEdgeCallers || !finite(ss.MaxScore, ss.LogMax, ss.EdgeScore, ss.OwnScore) || ss.OwnScore < 0 || ss.OwnScore > 1 {
			return nil, fmt.Errorf("rca: open incident %s has an invalid service %q", o.ID, name)
		}
		sa := &svcAgg{onset: ss.Onset, last: ss.Last, symOnset: ss.SymOnset, symptoms: ss.Symptoms, count: ss.Count,
			maxScore: ss.MaxScore, logMax: ss.LogMax, sev: ss.Sev, types: map[string]int{}, templates: map[string]*tplAgg{},
			exemplars: ss.Exemplars, edges: map[string]*edgeSignal{}, edgeScore: ss.EdgeScore,
			ownScore: ss.OwnScore, ownLine: ss.OwnLine, ownLast: ss.OwnLast}
		for k, n := range ss.Types {
			sa.types[k] = n
		}
		for _, t := range ss.Templates {
			sa.templates[t.Key] = &tplAgg{id: t.ID, text: t.Text, count: t.Count, first: t.First}
		}
		for _, s := range ss.Edges {
			sa.edges[s.Caller] = &edgeSignal{caller: s.Caller, errRate: s.ErrRate, base: s.Base, p95: s.P95,
				baseP95: s.BaseP95, logErrors: s.LogErrors, score: s.Score, kind: s.Kind, calls: s.Calls, errs: s.Errs}
		}
		inc.services[name] = sa
	}
	return inc, nil
}

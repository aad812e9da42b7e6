// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// PastIncident is the knowledge-base summary of an incident.
type PastIncident struct {
	ID               string            `json:"id"`
	Title            string            `json:"title,omitempty"`
	Status           incident.Status   `json:"status"`
	Severity         incident.Severity `json:"severity"`
	RootCauseService string            `json:"root_cause_service"`
	RootCauseIssue   string            `json:"root_cause_issue,omitempty"`
	Services         []string          `json:"services"`
	Templates        []string          `json:"templates,omitempty"` // "service/template id"
	Resolution       string            `json:"resolution,omitempty"`
	StartedAt        int64             `json:"started_at"`
	ResolvedAt       int64             `json:"resolved_at,omitempty"`
	seq              uint64
}

const maxKBTemplates = 200

// KnowledgeBase keeps the most recently updated incidents (open and resolved), bounded; the
// least recently updated one is evicted when full. Not goroutine-safe.
type KnowledgeBase struct {
	max     int
	seq     uint64
	entries map[string]*PastIncident
	evicted uint64
}

// NewKnowledgeBase returns an empty knowledge base holding at most max incidents (min 1).
func NewKnowledgeBase(maxEntries int) *KnowledgeBase {
	return &KnowledgeBase{max: max(maxEntries, 1), entries: map[string]*PastIncident{}}
}

// Len returns the number of stored incidents.
func (k *KnowledgeBase) Len() int { return len(k.entries) }

// Evicted returns the number of incidents dropped because the knowledge base was full.
func (k *KnowledgeBase) Evicted() uint64 { return k.evicted }

// Get returns a copy of a stored incident.
func (k *KnowledgeBase) Get(id string) (PastIncident, bool) {
	p, ok := k.entries[id]
	if !ok {
		return PastIncident{}, false
	}
	return p.clone(), true
}

func (p *PastIncident) clone() PastIncident {
	c := *p
	c.Services = append([]string(nil), p.Services...)
	c.Templates = append([]string(nil), p.Templates...)
	c.seq = 0
	return c
}

// Upsert stores or refreshes an incident, keeping resolution notes already recorded.
func (k *KnowledgeBase) Upsert(in *incident.Incident) {
	p := k.entries[in.ID]
	if p == nil {
		k.makeRoom()
		p = &PastIncident{ID: in.ID}
		k.entries[in.ID] = p
	}
	k.seq++
	p.seq = k.seq
	p.Title, p.Status, p.Severity = in.Title, in.Status, in.Severity
	p.RootCauseService, p.RootCauseIssue = in.RootCauseService, in.RootCauseIssue
	p.Services = append(p.Services[:0], in.AffectedServices...)
	p.Templates = p.Templates[:0]
	for _, t := range in.TopTemplates {
		if len(p.Templates) < maxKBTemplates {
			p.Templates = append(p.Templates, t.Service+"/"+templateKey(t))
		}
	}
	p.StartedAt = in.StartedAt.UnixNano()
	if in.ResolvedAt != nil {
		p.ResolvedAt = in.ResolvedAt.UnixNano()
	}
}

func templateKey(t incident.TemplateRef) string {
	if t.TemplateID != "" {
		return t.TemplateID
	}
	return t.Template
}

func (k *KnowledgeBase) makeRoom() {
	for len(k.entries) >= k.max {
		var oldest *PastIncident
		for _, p := range k.entries {
			if oldest == nil || p.seq < oldest.seq {
				oldest = p
			}
		}
		delete(k.entries, oldest.ID)
		k.evicted++
	}
}

// Remove deletes an incident (used when it is merged into another).
func (k *KnowledgeBase) Remove(id string) { delete(k.entries, id) }

// SetResolution records resolution notes; false when the id is unknown.
func (k *KnowledgeBase) SetResolution(id, notes string) bool {
	p, ok := k.entries[id]
	if ok {
		p.Resolution = notes
	}
	return ok
}

func jaccard(a, b map[string]struct{}) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	inter := 0
	for x := range a {
		if _, ok := b[x]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

func tokenSet(services, templates []string) map[string]struct{} {
	m := make(map[string]struct{}, len(services)+len(templates))
	for _, s := range services {
		m["s:"+s] = struct{}{}
	}
	for _, t := range templates {
		m["t:"+t] = struct{}{}
	}
	return m
}

// Similar returns up to n past incidents (started before start, other than id) ranked by the
// Jaccard similarity of their services and "service/template" keys, at least minSim.
func (k *KnowledgeBase) Similar(id string, start int64, services, templates []string, n int, minSim float64) []incident.Similar {
	q := tokenSet(services, templates)
	var out []incident.Similar
	for _, p := range k.entries {
		if p.ID == id || p.StartedAt >= start {
			continue
		}
		s := jaccard(q, tokenSet(p.Services, p.Templates))
		if s < minSim || s == 0 {
			continue
		}
		out = append(out, incident.Similar{ID: p.ID, Similarity: round(s, 3), RootCauseService: p.RootCauseService,
			Resolution: p.Resolution})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Similarity != out[j].Similarity {
			return out[i].Similarity > out[j].Similarity
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

var kbMagic = []byte("RCAKB")

const kbVersion = 1

// MarshalBinary encodes the knowledge base: magic, version byte, CRC-32 of the payload, JSON
// payload (entries oldest first).
func (k *KnowledgeBase) MarshalBinary() ([]byte, error) {
	list := make([]*PastIncident, 0, len(k.entries))
	for _, p := range k.entries {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	payload, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	return frame(kbMagic, kbVersion, payload), nil
}

// frame wraps a payload as magic, version byte, CRC-32 (IEEE, big endian) of the payload, payload.
func frame(magic []byte, version byte, payload []byte) []byte {
	var b bytes.Buffer
	b.Write(magic)
	b.WriteByte(version)
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], crc32.ChecksumIEEE(payload))
	b.Write(crc[:])
	b.Write(payload)
	return b.Bytes()
}

// unframe checks the magic, version and checksum written by frame and returns the payload.
func unframe(data, magic []byte, version byte, what string) ([]byte, error) {
	hdr := len(magic) + 1 + 4
	if len(data) < hdr || !bytes.Equal(data[:len(magic)], magic) {
		return nil, fmt.Errorf("rca: not a %s snapshot", what)
	}
	if v := data[len(magic)]; v != version {
		return nil, fmt.Errorf("rca: unsupported %s snapshot version %d", what, v)
	}
	payload := data[hdr:]
	if crc32.ChecksumIEEE(payload) != binary.BigEndian.Uint32(data[len(magic)+1:hdr]) {
		return nil, fmt.Errorf("rca: %s snapshot checksum mismatch", what)
	}
	return payload, nil
}

// UnmarshalBinary replaces the contents with a snapshot. On any error the knowledge base is
// unchanged. A snapshot larger than the bound keeps the newest entries and counts the rest as
// evicted.
func (k *KnowledgeBase) UnmarshalBinary(data []byte) error {
	payload, err := unframe(data, kbMagic, kbVersion, "knowledge base")
	if err != nil {
		return err
	}
	var list []*PastIncident
	if err := json.Unmarshal(payload, &list); err != nil {
		return fmt.Errorf("rca: decoding knowledge base snapshot: %w", err)
	}
	entries := make(map[string]*PastIncident, len(list))
	for _, p := range list {
		if p == nil || p.ID == "" {
			return errors.New("rca: knowledge base snapshot has an entry without id")
		}
		entries[p.ID] = p
	}
	var dropped uint64
	if len(list) > k.max {
		dropped = uint64(len(list) - k.max)
		for _, p := range list[:len(list)-k.max] {
			delete(entries, p.ID)
		}
	}
	k.entries = entries
	k.seq = 0
	for _, p := range list {
		if _, ok := entries[p.ID]; ok && entries[p.ID] == p {
			k.seq++
			p.seq = k.seq
		}
	}
	k.evicted += dropped
	return nil
}

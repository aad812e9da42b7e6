// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
)

// Verdict records (event name llm_anomaly.verdict, docs/attributes.md) are the llm_anomaly
// processor's LLM answers about one service window. They are context, not evidence: they are kept
// in a bounded store of recent verdicts, shown to the model when an incident of their service is
// narrated and searched by POST /api/v1/ask; they never open incidents and never move event time.

const (
	// maxVerdicts bounds the verdicts kept (all services); the oldest received goes first.
	maxVerdicts = 1024
	// maxVerdictText bounds the text fields of a stored verdict.
	maxVerdictText = 500
)

// verdict is one verdict record.
type verdict struct {
	id, service, model, source string
	isAnomaly                  bool
	severity, anomalyType      string
	rootCause, explanation     string
	confidence                 float64
	start, end                 int64 // unix nanoseconds, event time
}

// readVerdict reads a verdict record; false when it names no service or no window end.
func readVerdict(service string, lr plog.LogRecord) (verdict, bool) {
	a := lr.Attributes()
	v := verdict{
		id:          truncate(getStr(a, contract.AttrLLMVerdictID), 128),
		service:     service,
		model:       truncate(getStr(a, contract.AttrLLMModel), 128),
		source:      truncate(getStr(a, contract.AttrSource), 32),
		severity:    truncate(getStr(a, contract.AttrLLMSeverity), 16),
		anomalyType: truncate(getStr(a, contract.AttrLLMType), 64),
		rootCause:   truncate(getStr(a, contract.AttrLLMRootCause), maxVerdictText),
		explanation: truncate(getStr(a, contract.AttrLLMExplanation), maxVerdictText),
		confidence:  getDouble(a, contract.AttrLLMConfidence),
		start:       getInt(a, contract.AttrLLMWindowStart),
		end:         getInt(a, contract.AttrLLMWindowEnd),
	}
	if b, ok := a.Get(contract.AttrLLMIsAnomaly); ok && b.Type() == pcommon.ValueTypeBool {
		v.isAnomaly = b.Bool()
	}
	if v.end <= 0 {
		v.end = int64(lr.Timestamp())
	}
	if v.start <= 0 || v.start > v.end {
		v.start = v.end
	}
	if v.explanation == "" {
		v.explanation = truncate(lr.Body().AsString(), maxVerdictText)
	}
	return v, service != "" && v.end > 0
}

// verdictStore is a FIFO of the most recent verdicts. Guarded by rcaExporter.mu.
type verdictStore struct {
	ring    []verdict
	head, n int
	evicted uint64
}

func newVerdictStore(size int) *verdictStore {
	return &verdictStore{ring: make([]verdict, size)}
}

// add stores v, evicting the oldest when full (counted).
func (s *verdictStore) add(v verdict) {
	if s.n == len(s.ring) {
		s.ring[s.head] = v
		s.head = (s.head + 1) % len(s.ring)
		s.evicted++
		return
	}
	s.ring[(s.head+s.n)%len(s.ring)] = v
	s.n++
}

// recent returns, for each service, its at most perService latest verdicts (by window end)
// whose window overlaps [from, to], newest first, services in the given order.
func (s *verdictStore) recent(services []string, from, to int64, perService int) []verdict {
	var out []verdict
	for _, svc := range services {
		var got []verdict
		for i := range s.n {
			v := &s.ring[(s.head+i)%len(s.ring)]
			if v.service != svc || v.end < from || v.start > to {
				continue
			}
			got = append(got, *v)
		}
		// newest window first
		for i := 1; i < len(got); i++ {
			for j := i; j > 0 && got[j].end > got[j-1].end; j-- {
				got[j], got[j-1] = got[j-1], got[j]
			}
		}
		if len(got) > perService {
			got = got[:perService]
		}
		out = append(out, got...)
	}
	return out
}

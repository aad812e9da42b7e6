package detect

import (
	"math"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
)

// Kind identifies the detector behind a verdict.
type Kind uint8

// Detector kinds. The order is also the tie-break priority when two
// detectors give the same score (lower value wins).
const (
	KindNone Kind = iota
	KindErrorBurst
	KindSession
	KindNewTemplate
	KindRateSpike
	KindRateDrop
	KindRareTemplate
	numKinds
)

// NumKinds is the number of kinds including KindNone; Stats.Anomalies is
// indexed by Kind.
const NumKinds = int(numKinds)

var kindNames = [numKinds]string{
	KindNone:         "",
	KindNewTemplate:  contract.TypeNewTemplate,
	KindRareTemplate: contract.TypeRareTemplate,
	KindRateSpike:    contract.TypeRateSpike,
	KindRateDrop:     contract.TypeRateDrop,
	KindErrorBurst:   contract.TypeErrorBurst,
	KindSession:      contract.TypeSession,
}

// String returns the snake_case name used in verdicts ("" for KindNone).
func (k Kind) String() string {
	if k >= numKinds {
		return "unknown"
	}
	return kindNames[k]
}

// Severity bands of a score (see docs/detectors.md).
const (
	SeverityCritical = contract.SeverityCritical
	SeverityHigh     = contract.SeverityHigh
	SeverityMedium   = contract.SeverityMedium
	SeverityLow      = contract.SeverityLow
)

// SeverityOf maps a score in (0, 1] to a severity band:
// >= 0.9 Critical, >= 0.7 High, >= 0.5 Medium, otherwise Low.
// A score <= 0 (no anomaly) maps to "".
func SeverityOf(score float64) string { return contract.SeverityOf(score) }

// Verdict is the outcome for one record. Only Detected verdicts carry a
// Reason.
type Verdict struct {
	Detected bool
	Score    float64
	Kind     Kind
	Severity string
	Reason   string
}

// candidate is a detector's finding before the reason text is built.
type candidate struct {
	kind  Kind
	score float64
	// numbers for the reason text
	a, b, c float64
	long    bool // error burst found in the long window
}

func (c *candidate) offer(kind Kind, score float64, a, b, cc float64) {
	score = clamp01(score)
	if score > c.score || (score == c.score && c.kind != KindNone && kind < c.kind) {
		*c = candidate{kind: kind, score: score, a: a, b: b, c: cc}
	}
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

func clamp(x, lo, hi float64) float64 {
	if math.IsNaN(x) || x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// severityBoost raises scores of records that are themselves warnings or
// errors: +0.1 for WARN (13-16), +0.2 for ERROR (17-20), +0.25 for FATAL
// (21-24).
func severityBoost(sev int32) float64 {
	switch {
	case sev >= 21:
		return 0.25
	case sev >= 17:
		return 0.2
	case sev >= 13:
		return 0.1
	default:
		return 0
	}
}

// rarityScore maps an observed frequency p below a threshold thr to a
// score: 0.5 at the threshold, +0.1 per decade rarer, at most 0.85.
func rarityScore(p, thr float64) float64 {
	if p <= 0 {
		return 0.85
	}
	return clamp(0.5+0.1*math.Log10(thr/p), 0.5, 0.85)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmprompt

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
)

var winT0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	winSevInfo  = contract.SeverityNumberInfo
	winSevWarn  = contract.SeverityNumberWarn
	winSevError = contract.SeverityNumberError
)

func winInfo(id, msg string) *Record {
	return &Record{TemplateID: id, Template: "tmpl " + id, Message: msg, SeverityNumber: winSevInfo, Time: winT0}
}

func winErr(id, msg string) *Record {
	r := winInfo(id, msg)
	r.SeverityNumber = winSevError
	return r
}

func winFlagged(id, msg, typ string, score float64) *Record {
	r := winInfo(id, msg)
	r.Detected, r.Type, r.Score, r.Reason = true, typ, score, typ+" reason "+msg
	return r
}

func TestLimitsDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Limits
		want Limits
	}{
		{"zero", Limits{}, Limits{20, 2, 300, 3, 64}},
		{"negative", Limits{-1, -1, -1, -1, -1}, Limits{20, 2, 300, 3, 64}},
		{"kept", Limits{5, 1, 100, 2, 10}, Limits{5, 1, 100, 2, 10}},
		{"hard maxima", Limits{1e6, 1e6, 1e6, 1e6, 1e6}, Limits{200, 10, 4000, 20, 4096}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.in.withDefaults())
			assert.Equal(t, tt.want, NewWindowBuilder("s", tt.in, nil).lim)
		})
	}
}

func TestWindowBuilderBasic(t *testing.T) {
	t.Parallel()
	b := NewWindowBuilder("checkout", Limits{}, nil)
	assert.Equal(t, 0, b.Len())
	w := b.Window()
	assert.False(t, w.Flagged())
	assert.True(t, w.Start.IsZero())
	assert.Equal(t, map[string]int{"error": 0, "warn": 0, "info": 0, "debug": 0, "other": 0}, w.Levels)

	loc := time.FixedZone("X", 3600)
	add := func(r *Record, at time.Duration) {
		r.Time = winT0.In(loc).Add(at)
		b.Add(r)
	}
	for i := range 10 {
		r := winInfo("T1", "GET /a "+strconv.Itoa(i)+" in "+strconv.Itoa(10+i)+" ms")
		r.Template = "GET /a <*> in <*> ms"
		r.Params = []string{strconv.Itoa(i), strconv.Itoa(10 + i)}
		add(r, time.Duration(i)*time.Second)
	}
	e := winErr("T2", "db timeout after 5000 ms")
	e.Params = []string{"5000"}
	add(e, 30*time.Second)
	f1 := winFlagged("T3", "new thing 1", contract.TypeNewTemplate, 0.6)
	add(f1, 20*time.Second)
	f2 := winFlagged("T3", "new thing 2", contract.TypeNewTemplate, 0.95)
	f2.Severity = "critical"
	add(f2, -5*time.Second)
	add(&Record{TemplateID: "T4", Message: "dbg", SeverityNumber: contract.SeverityNumberDebug}, time.Second)
	add(&Record{TemplateID: "T4", Message: "warn", SeverityNumber: winSevWarn}, time.Second)
	add(&Record{TemplateID: "T4", Message: "unknown level"}, time.Second)
	b.Add(nil)
	b.Add(&Record{TemplateID: "T4"})                        // no time, no message
	b.Add(&Record{TemplateID: "T4", Time: time.Unix(0, 0)}) // OTLP's unset time

	assert.Equal(t, 18, b.Len())
	w = b.Window()
	assert.Equal(t, "checkout", w.Service)
	assert.Equal(t, 18, w.Records)
	assert.Equal(t, winT0.Add(-5*time.Second), w.Start)
	assert.Equal(t, winT0.Add(30*time.Second), w.End)
	assert.Equal(t, time.UTC, w.Start.Location())
	assert.Equal(t, map[string]int{"error": 1, "warn": 1, "info": 12, "debug": 1, "other": 3}, w.Levels)
	assert.True(t, w.Flagged())
	assert.Equal(t, 0, w.OmittedTemplates)

	ids := make([]string, 0, len(w.Templates))
	for _, ts := range w.Templates {
		ids = append(ids, ts.ID)
	}
	assert.Equal(t, []string{"T3", "T2", "T1", "T4"}, ids, "flagged, error, then by count")

	t1 := w.Templates[2]
	assert.Equal(t, "GET /a <*> in <*> ms", t1.Template)
	assert.Equal(t, 10, t1.Count)
	assert.Equal(t, 0, t1.Errors)
	assert.False(t, t1.Flagged)
	assert.Equal(t, []string{"GET /a 0 in 10 ms", "GET /a 1 in 11 ms"}, t1.Exemplars, "first seen")
	require.Len(t, t1.Params, 2)
	assert.Equal(t, ParamSummary{Position: 0, Distinct: 10, Samples: []string{"0", "1", "2"}, Numeric: true, Min: 0, Max: 9}, t1.Params[0])
	assert.Equal(t, ParamSummary{Position: 1, Distinct: 10, Samples: []string{"10", "11", "12"}, Numeric: true, Min: 10, Max: 19}, t1.Params[1])

	assert.Equal(t, 1, w.Templates[1].Errors)
	assert.True(t, w.Templates[0].Flagged)

	require.Len(t, w.Findings, 1)
	assert.Equal(t, Finding{
		Type: contract.TypeNewTemplate, TemplateID: "T3", Severity: contract.SeverityCritical,
		Reason: "new_template reason new thing 2", Score: 0.95, Count: 2,
	}, w.Findings[0])
}

func TestWindowTemplateOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records []*Record
		want    []string
	}{
		{
			"by count then id",
			[]*Record{winInfo("b", "x"), winInfo("a", "x"), winInfo("c", "x"), winInfo("c", "x")},
			[]string{"c", "a", "b"},
		},
		{
			"errors before count",
			[]*Record{winInfo("a", "x"), winInfo("a", "x"), winInfo("a", "x"), winErr("b", "x"), winInfo("c", "x")},
			[]string{"b", "a", "c"},
		},
		{
			"flagged before errors",
			[]*Record{winErr("a", "x"), winErr("a", "x"), winFlagged("z", "x", "rare_template", 0.5), winInfo("c", "x")},
			[]string{"z", "a", "c"},
		},
		{
			"flagged by count then id",
			[]*Record{winFlagged("y", "x", "t", 0.5), winFlagged("x", "x", "t", 0.5), winFlagged("w", "x", "t", 0.5), winFlagged("w", "x", "t", 0.5)},
			[]string{"w", "x", "y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := NewWindowBuilder("s", Limits{}, nil)
			for _, r := range tt.records {
				b.Add(r)
			}
			var got []string
			for _, ts := range b.Window().Templates {
				got = append(got, ts.ID)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWindowExemplarPreference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records []*Record
		want    []string
	}{
		{"first seen", []*Record{winInfo("a", "1"), winInfo("a", "2"), winInfo("a", "3")}, []string{"1", "2"}},
		{"error replaces info", []*Record{winInfo("a", "1"), winInfo("a", "2"), winErr("a", "e1")}, []string{"e1", "1"}},
		{"flagged first", []*Record{winErr("a", "e1"), winErr("a", "e2"), winFlagged("a", "f1", "t", 1), winErr("a", "e3")}, []string{"f1", "e1"}},
		{"first flagged kept", []*Record{winFlagged("a", "f1", "t", 1), winFlagged("a", "f2", "t", 1), winFlagged("a", "f3", "t", 1)}, []string{"f1", "f2"}},
		{"empty messages skipped", []*Record{winInfo("a", ""), winInfo("a", "1")}, []string{"1"}},
		{"single line", []*Record{winInfo("a", "line1\nline2\tx\r\n")}, []string{"line1 line2 x  "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := NewWindowBuilder("s", Limits{}, nil)
			for _, r := range tt.records {
				b.Add(r)
			}
			w := b.Window()
			require.Len(t, w.Templates, 1)
			assert.Equal(t, tt.want, w.Templates[0].Exemplars)
		})
	}
}

func TestWindowFindingsOrder(t *testing.T) {
	t.Parallel()
	b := NewWindowBuilder("s", Limits{}, nil)
	b.Add(winFlagged("a", "x", "rare_template", 0.3))
	b.Add(winFlagged("b", "x", "error_burst", 0.8))
	b.Add(winFlagged("c", "x", "rate_spike", 0.8))
	b.Add(winFlagged("c", "x", "rate_spike", 0.1))
	b.Add(winFlagged("d", "x", "", 0.95))
	nan := winFlagged("e", "x", "weird", math.NaN())
	b.Add(nan)
	var got []string
	for _, f := range b.Window().Findings {
		got = append(got, f.Type+"/"+f.TemplateID+"/"+f.Severity+"/"+strconv.Itoa(f.Count))
	}
	assert.Equal(t, []string{
		"unknown/d/Critical/1",
		"rate_spike/c/High/2",
		"error_burst/b/High/1",
		"rare_template/a/Low/1",
		"weird/e//1",
	}, got)
}

// TestWindowBuilderBounds feeds 100k records of 10k templates with unbounded distinct
// parameters and huge texts: every structure stays within its limit.
func TestWindowBuilderBounds(t *testing.T) {
	t.Parallel()
	lim := Limits{}.withDefaults()
	b := NewWindowBuilder("svc", Limits{}, nil)
	long := strings.Repeat("x", 10_000)
	params := make([]string, 12)
	for i := range 100_000 {
		id := "T" + strconv.Itoa(i%10_000)
		for j := range params {
			params[j] = strconv.Itoa(i*12+j) + "-" + long[:i%100]
		}
		r := &Record{
			TemplateID: id, Template: long, Message: "msg " + strconv.Itoa(i) + long,
			Params: params, SeverityNumber: int32(i % 24), Time: winT0.Add(time.Duration(i) * time.Millisecond),
			Detected: i%97 == 0, Type: "type" + strconv.Itoa(i%13), Score: float64(i%100) / 100, Reason: long,
		}
		b.Add(r)
		if i%10_000 == 0 {
			b.Add(&Record{TemplateID: strings.Repeat("id", 1000) + strconv.Itoa(i), Detected: true, Type: long})
		}
	}
	assert.Equal(t, 100_010, b.Len())

	// Internal structures.
	assert.LessOrEqual(t, len(b.templates), trackFactor*lim.MaxTemplates)
	assert.LessOrEqual(t, len(b.findings), trackFactor*lim.MaxTemplates+lim.MaxTemplates+1)
	assert.Nil(t, b.omitted.exact, "the exact omitted set gave way to the sketch")
	assert.Len(t, b.omitted.sketch, omittedSketchBits/64)
	for id, tt := range b.templates {
		assert.LessOrEqual(t, len(id), maxIDLen)
		assert.LessOrEqual(t, utf8.RuneCountInString(tt.text), maxTemplateTextLen)
		assert.LessOrEqual(t, len(tt.params), maxParamPositions)
		assert.LessOrEqual(t, len(tt.exemplars), lim.MaxExemplarsPerTemplate)
		for _, e := range tt.exemplars {
			assert.LessOrEqual(t, utf8.RuneCountInString(e.text), lim.MaxExemplarLen)
		}
		for _, p := range tt.params {
			assert.LessOrEqual(t, len(p.distinct), lim.MaxDistinct)
			assert.LessOrEqual(t, len(p.samples), lim.MaxParamSamples)
			for _, s := range p.samples {
				assert.LessOrEqual(t, utf8.RuneCountInString(s), maxParamSampleLen)
			}
		}
	}
	for k, f := range b.findings {
		assert.LessOrEqual(t, utf8.RuneCountInString(k.typ), maxTypeLen)
		assert.LessOrEqual(t, utf8.RuneCountInString(f.reason), maxReasonLen)
	}

	// The snapshot.
	w := b.Window()
	assert.Equal(t, 100_010, w.Records)
	assert.Len(t, w.Templates, lim.MaxTemplates)
	assert.InDelta(t, 10_010-lim.MaxTemplates, w.OmittedTemplates, 0.05*10_000, "omitted templates estimated")
	sum := 0
	for _, n := range w.Levels {
		sum += n
	}
	assert.Equal(t, 100_010, sum)
	for _, ts := range w.Templates {
		assert.True(t, ts.Flagged, "flagged templates are kept over plain ones")
		assert.LessOrEqual(t, len(ts.Exemplars), lim.MaxExemplarsPerTemplate)
		for _, p := range ts.Params {
			assert.LessOrEqual(t, p.Distinct, lim.MaxDistinct)
			assert.LessOrEqual(t, len(p.Samples), lim.MaxParamSamples)
		}
	}
	assert.Equal(t, winT0, w.Start)
	assert.Equal(t, winT0.Add(99_999*time.Millisecond), w.End)

	// Prompts of that window stay within their caps.
	_, user := VerdictPrompt(w)
	assert.LessOrEqual(t, len(user), maxVerdictUserBytes)
	_, user = ScreenPrompt(w)
	assert.LessOrEqual(t, len(user), maxScreenUserBytes)
}

func TestWindowEviction(t *testing.T) {
	t.Parallel()
	b := NewWindowBuilder("s", Limits{MaxTemplates: 2}, nil) // tracks 8
	for i := range 8 {
		for range i + 1 {
			b.Add(winInfo("p"+strconv.Itoa(i), "x"))
		}
	}
	b.Add(winInfo("late", "x")) // table full, plain: omitted
	_, tracked := b.templates["late"]
	assert.False(t, tracked)

	b.Add(winErr("err", "boom")) // evicts the smallest plain template p0
	_, tracked = b.templates["p0"]
	assert.False(t, tracked)
	b.Add(winFlagged("new", "hello", "new_template", 0.7)) // evicts p1
	assert.Len(t, b.templates, 8)

	w := b.Window()
	require.Len(t, w.Templates, 2)
	assert.Equal(t, "new", w.Templates[0].ID)
	assert.Equal(t, "err", w.Templates[1].ID)
	// p2..p7 cut by MaxTemplates (6) + late, p0, p1 omitted (3).
	assert.Equal(t, 9, w.OmittedTemplates)

	// A flagged template cannot evict when all tracked are flagged.
	b = NewWindowBuilder("s", Limits{MaxTemplates: 1}, nil)
	for i := range 5 {
		b.Add(winFlagged("f"+strconv.Itoa(i), "x", "t", 0.5))
	}
	assert.Len(t, b.templates, 4)
	w = b.Window()
	assert.Equal(t, 4, w.OmittedTemplates)
	assert.Len(t, w.Findings, 5, "findings of omitted templates are kept")
}

func TestWindowBuilderDeterminism(t *testing.T) {
	t.Parallel()
	feed := func() *WindowBuilder {
		b := NewWindowBuilder("s", Limits{MaxTemplates: 5}, nil)
		for i := range 5000 {
			r := &Record{
				TemplateID: "T" + strconv.Itoa(i*7%61), Template: "t <*>", Message: "m " + strconv.Itoa(i),
				Params: []string{strconv.Itoa(i % 300), "v" + strconv.Itoa(i%5)}, SeverityNumber: int32(i % 22),
				Time: winT0.Add(time.Duration(i%977) * time.Second), Detected: i%31 == 0,
				Type: []string{"rate_spike", "error_burst", "new_template"}[i%3], Score: float64(i%10) / 10,
				Reason: "r" + strconv.Itoa(i%4),
			}
			b.Add(r)
		}
		return b
	}
	b1, b2 := feed(), feed()
	w1 := b1.Window()
	assert.Equal(t, w1, b2.Window())
	assert.Equal(t, w1, b1.Window(), "Window does not change the builder")
	s1, u1 := VerdictPrompt(w1)
	s2, u2 := VerdictPrompt(b2.Window())
	assert.Equal(t, s1, s2)
	assert.Equal(t, u1, u2)
	assert.Equal(t, CacheKey(w1, "m"), CacheKey(b2.Window(), "m"))

	// The snapshot shares nothing with the builder.
	w1.Templates[0].Exemplars[0] = "changed"
	w1.Templates[0].Params[0].Samples[0] = "changed"
	w1.Levels["error"] = -1
	assert.Equal(t, b2.Window(), b1.Window())
	snap := b1.Window()
	b1.Add(winFlagged("T0", "more", "rate_spike", 1))
	assert.Equal(t, b2.Window(), snap)
}

func TestWindowParamSaturation(t *testing.T) {
	t.Parallel()
	b := NewWindowBuilder("s", Limits{MaxDistinct: 10, MaxParamSamples: 2}, nil)
	for i := range 100 {
		r := winInfo("T1", "x")
		r.Params = []string{strconv.Itoa(i), "v" + strconv.Itoa(i%3), "1e999"}
		b.Add(r)
	}
	w := b.Window()
	require.Len(t, w.Templates, 1)
	assert.Equal(t, []ParamSummary{
		{Position: 0, Distinct: 10, Samples: []string{"0", "1"}, Numeric: true, Min: 0, Max: 99, Saturated: true},
		{Position: 1, Distinct: 3, Samples: []string{"v0", "v1"}},
		{Position: 2, Distinct: 1, Samples: []string{"1e999"}},
	}, w.Templates[0].Params)
	_, user := VerdictPrompt(w)
	assert.Contains(t, user, "$0: >=10 distinct, numeric 0..99 e.g. 0, 1; $1: 3 distinct e.g. v0, v1; $2: 1 distinct e.g. 1e999")
}

func TestWindowRedact(t *testing.T) {
	t.Parallel()
	redact := func(s string) string { return strings.ReplaceAll(s, "hunter2", "<REDACTED>") }
	b := NewWindowBuilder("s", Limits{}, redact)
	r := winFlagged("T1", "login user=bob password=hunter2 failed", "new_template", 0.9)
	r.Template = "login user=<*> password=hunter2 failed"
	r.Params = []string{"bob", "hunter2"}
	r.Reason = "never seen: password=hunter2"
	b.Add(r)
	w := b.Window()
	require.Len(t, w.Templates, 1)
	ts := w.Templates[0]
	assert.Equal(t, "login user=<*> password=<REDACTED> failed", ts.Template)
	assert.Equal(t, []string{"login user=bob password=<REDACTED> failed"}, ts.Exemplars)
	assert.Equal(t, []string{"<REDACTED>"}, ts.Params[1].Samples)
	assert.Equal(t, "never seen: password=<REDACTED>", w.Findings[0].Reason)
	sys, user := VerdictPrompt(w)
	assert.NotContains(t, sys+user, "hunter2")
	_, user = ScreenPrompt(w)
	assert.NotContains(t, user, "hunter2")
}

func TestWindowReset(t *testing.T) {
	t.Parallel()
	b := NewWindowBuilder("a", Limits{}, nil)
	b.Add(winFlagged("T1", "x", "t", 1))
	b.Reset("b")
	assert.Equal(t, 0, b.Len())
	w := b.Window()
	assert.Equal(t, "b", w.Service)
	assert.Empty(t, w.Templates)
	assert.Empty(t, w.Findings)
	assert.False(t, w.Flagged())
	assert.Equal(t, NewWindowBuilder("b", Limits{}, nil).Window(), w)
}

func TestWindowTemplateIDs(t *testing.T) {
	t.Parallel()
	b := NewWindowBuilder("s", Limits{}, nil)
	long := strings.Repeat("a", 500)
	b.Add(winInfo(long, "x"))
	b.Add(winInfo("", "y"))
	b.Add(winInfo("bad\nid", "z"))
	var ids []string
	for _, ts := range b.Window().Templates {
		ids = append(ids, ts.ID)
		assert.LessOrEqual(t, len(ts.ID), maxIDLen)
		assert.NotContains(t, ts.ID, "\n")
	}
	assert.Contains(t, ids, "none")
	assert.Len(t, ids, 3)
	assert.Equal(t, windowTemplateID(long), windowTemplateID(long))
}

func TestWindowHash(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a", "template-42", strings.Repeat("日本", 50)} {
		h := fnv.New64a()
		_, _ = h.Write([]byte(s))
		assert.Equal(t, h.Sum64(), windowHash(s), s)
	}
}

func TestWindowDistinctSketch(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 1000, 1024, 1025, 5000, 20_000, 60_000} {
		var d windowDistinct
		for i := range n {
			d.add("template-" + strconv.Itoa(i))
			d.add("template-" + strconv.Itoa(i)) // duplicates do not count
		}
		if n <= omittedExactCap {
			assert.Equal(t, n, d.count(), "n=%d", n)
		} else {
			assert.InEpsilon(t, n, d.count(), 0.05, "n=%d", n)
		}
	}
}

func TestWindowFlagged(t *testing.T) {
	t.Parallel()
	assert.False(t, Window{}.Flagged())
	assert.True(t, Window{Findings: []Finding{{Type: "x"}}}.Flagged())
	assert.True(t, Window{Templates: []TemplateStat{{ID: "a", Flagged: true}}}.Flagged())
	assert.False(t, Window{Templates: []TemplateStat{{ID: "a", Errors: 3}}}.Flagged())
}

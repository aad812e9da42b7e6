// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmanomalyprocessor // import "github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/logmsg"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor/internal/metadata"
)

// Attribute names written on every record (the annotation contract, see docs/attributes.md).
const (
	attrTemplate       = contract.AttrTemplate
	attrTemplateID     = contract.AttrTemplateID
	attrTemplateParams = contract.AttrTemplateParams
	attrDetected       = contract.AttrDetected
	attrScore          = contract.AttrScore
	attrSeverity       = contract.AttrSeverity
	attrType           = contract.AttrType
	attrReason         = contract.AttrReason
	attrSource         = contract.AttrSource

	sourceStatistical = contract.SourceStatistical
	attrServiceName   = contract.AttrServiceName
)

// Reasons for the records_malformed metric that the annotator counts itself.
const (
	badEmptyBody           = iota // body empty or missing
	badBinaryBody                 // bytes or NUL-carrying strings that are not text
	badInvalidUTF8                // string body with invalid UTF-8, repaired before mining
	badNonStringBody              // int, double, bool, slice or map body without a message field
	badMissingService             // resource without service.name
	badImpossibleTimestamp        // timestamp before 1971 or more than a day ahead (re-stamped)
	badClockAhead                 // timestamp too far ahead of a live wall clock (re-stamped)
	badLate                       // arrived after event time had passed it by allowed_lateness
	badClockSourcesEvicted        // services forgotten by the event-time clock (max_services bound)
	badCount
)

var badNames = [badCount]string{
	"empty_body", "binary_body", "invalid_utf8", "non_string_body", "missing_service",
	"impossible_timestamp", "clock_ahead", "late", "clock_sources_evicted",
}

// annotator adapts one pdata record at a time to the analyzer and writes the results back.
// It is used under logsProcessor.emitMu and reuses its scratch state across records.
type annotator struct {
	fields         []string
	sessionAttr    string
	includeParams  bool
	annotateNormal bool

	service   string
	rec       analyzer.Record
	res       analyzer.Result
	params    []string
	bad       [badCount]int64
	anomalies map[string]int64

	// llm is the optional LLM stage (nil without one).
	llm *llmStage
}

func newAnnotator(cfg *Config) *annotator {
	return &annotator{
		fields:         cfg.MessageFields,
		sessionAttr:    cfg.Session.Attribute,
		includeParams:  cfg.IncludeParams,
		annotateNormal: cfg.AnnotateNormal,
		anomalies:      make(map[string]int64),
	}
}

func (a *annotator) begin(service string) {
	a.service = service
}

func (a *annotator) annotate(an *analyzer.Analyzer, lr plog.LogRecord) {
	if a.service == "" {
		a.bad[badMissingService]++
	}
	ts := eventTime(lr)
	msg, ok := a.message(lr.Body())
	attrs := lr.Attributes()
	if !ok {
		if a.annotateNormal {
			attrs.PutBool(attrDetected, false)
		}
		return
	}
	a.rec = analyzer.Record{
		Service:        a.service,
		Message:        msg,
		Time:           ts,
		SeverityNumber: severity(lr),
	}
	if a.sessionAttr != "" {
		if v, found := lr.Attributes().Get(a.sessionAttr); found {
			a.rec.SessionKey = v.AsString()
		}
	}
	an.Analyze(&a.rec, &a.res)

	if a.res.TemplateID != "" {
		attrs.PutStr(attrTemplate, a.res.Template)
		attrs.PutStr(attrTemplateID, a.res.TemplateID)
		if a.includeParams {
			a.params = an.Params(&a.rec, &a.res, a.params[:0])
			s := attrs.PutEmptySlice(attrTemplateParams)
			s.EnsureCapacity(len(a.params))
			for _, v := range a.params {
				s.AppendEmpty().SetStr(v)
			}
		}
	}
	v := &a.res.Verdict
	if v.Detected {
		a.anomalies[v.Type]++
		attrs.PutBool(attrDetected, true)
		attrs.PutDouble(attrScore, v.Score)
		attrs.PutStr(attrSeverity, v.Severity)
		attrs.PutStr(attrType, v.Type)
		attrs.PutStr(attrReason, v.Reason)
		attrs.PutStr(attrSource, sourceStatistical)
	} else if a.annotateNormal {
		attrs.PutBool(attrDetected, false)
	}
	if a.llm != nil {
		a.llm.observe(a, attrs)
	}
}

// report adds the per-batch counts to the telemetry and resets them.
func (a *annotator) report(ctx context.Context, tb *metadata.TelemetryBuilder) {
	for i, n := range a.bad {
		if n > 0 {
			tb.ProcessorLlmAnomalyRecordsMalformed.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", badNames[i]))))
		}
		a.bad[i] = 0
	}
	for typ, n := range a.anomalies {
		tb.ProcessorLlmAnomalyAnomalies.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("anomaly.type", typ))))
		delete(a.anomalies, typ)
	}
}

// message returns the text to mine. ok is false when there is nothing to mine (empty or binary).
func (a *annotator) message(body pcommon.Value) (string, bool) {
	switch body.Type() {
	case pcommon.ValueTypeStr:
		return a.text(body.Str())
	case pcommon.ValueTypeBytes:
		b := body.Bytes().AsRaw()
		if len(b) == 0 {
			a.bad[badEmptyBody]++
			return "", false
		}
		if !utf8.Valid(b) || slices.Contains(b, 0) {
			a.bad[badBinaryBody]++
			return "", false
		}
		return a.text(string(b))
	case pcommon.ValueTypeMap:
		m := body.Map()
		for _, f := range a.fields {
			if v, ok := m.Get(f); ok && v.Type() == pcommon.ValueTypeStr {
				return a.text(v.Str())
			}
		}
		if m.Len() == 0 {
			a.bad[badEmptyBody]++
			return "", false
		}
		a.bad[badNonStringBody]++
		return body.AsString(), true
	case pcommon.ValueTypeEmpty:
		a.bad[badEmptyBody]++
		return "", false
	default:
		a.bad[badNonStringBody]++
		return body.AsString(), true
	}
}

func (a *annotator) text(s string) (string, bool) {
	if strings.TrimSpace(s) == "" {
		a.bad[badEmptyBody]++
		return "", false
	}
	if strings.IndexByte(s, 0) >= 0 {
		a.bad[badBinaryBody]++
		return "", false
	}
	if !utf8.ValidString(s) {
		a.bad[badInvalidUTF8]++
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	msg, _ := logmsg.Extract(s, a.fields)
	// A stack trace is one record: mine its first line and its exception class, not its frames.
	return logmsg.FirstLine(msg), true
}

// severity returns the record's severity number, derived from its text when the number is unset.
func severity(lr plog.LogRecord) int32 {
	return contract.Severity(int32(lr.SeverityNumber()), lr.SeverityText())
}

// serviceKey is the analyzer's and the event-time clock's key of a service.
func serviceKey(name string) string {
	if name == "" {
		return analyzer.UnknownService
	}
	return name
}

func serviceName(res pcommon.Resource) string {
	if v, ok := res.Attributes().Get(attrServiceName); ok {
		return v.AsString()
	}
	return ""
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// builder turns popped events into one chunk's pdata, one resource per service instance.
type builder struct {
	s     *Simulator
	ch    Chunk
	logs  map[resKey]plog.LogRecordSlice
	spans map[resKey]ptrace.SpanSlice
}

// resKey identifies a resource: one service instance at one version.
type resKey struct {
	node    int
	version string
	inst    int
}

func newBuilder(s *Simulator, ch Chunk) *builder {
	return &builder{s: s, ch: ch, logs: map[resKey]plog.LogRecordSlice{}, spans: map[resKey]ptrace.SpanSlice{}}
}

func (b *builder) resource(res pcommon.Resource, ev *event) {
	ns := b.s.nodes[ev.node]
	a := res.Attributes()
	a.PutStr("service.name", ns.node.Name)
	a.PutStr("service.namespace", "shop")
	a.PutStr("service.version", ev.version)
	a.PutStr("service.instance.id", fmt.Sprintf("%s-%d", ns.node.Name, ev.inst))
	a.PutStr("deployment.environment.name", "sim")
	a.PutStr("host.name", fmt.Sprintf("node-%d", ns.idx%7))
}

func (b *builder) add(ev *event) {
	key := resKey{ev.node, ev.version, ev.inst}
	if ev.isSpan {
		ss, ok := b.spans[key]
		if !ok {
			rs := b.ch.Traces.ResourceSpans().AppendEmpty()
			b.resource(rs.Resource(), ev)
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName(ScopeName)
			ss = sc.Spans()
			b.spans[key] = ss
		}
		sp := ss.AppendEmpty()
		sp.SetTraceID(ev.tid)
		sp.SetSpanID(ev.sid)
		if ev.parent != ([8]byte{}) {
			sp.SetParentSpanID(ev.parent)
		}
		sp.SetName(ev.name)
		if b.s.real == nil { // realistic mode: no kind, no status
			sp.SetKind(ev.kind)
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(ev.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(ev.at))
		putAttrs(sp.Attributes(), ev.attrs)
		if ev.errMsg != "" && b.s.real == nil {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage(ev.errMsg)
		}
		return
	}
	ls, ok := b.logs[key]
	if !ok {
		rl := b.ch.Logs.ResourceLogs().AppendEmpty()
		b.resource(rl.Resource(), ev)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(ScopeName)
		ls = sl.LogRecords()
		b.logs[key] = ls
	}
	lr := ls.AppendEmpty()
	ts := pcommon.NewTimestampFromTime(ev.at)
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(ts)
	lr.SetSeverityNumber(ev.sev)
	lr.SetSeverityText(sevText(ev.sev))
	lr.Body().SetStr(ev.body)
	if ev.tid != ([16]byte{}) {
		lr.SetTraceID(ev.tid)
		lr.SetSpanID(ev.sid)
		lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	}
}

func putAttrs(m pcommon.Map, attrs []kv) {
	m.EnsureCapacity(len(attrs))
	for _, a := range attrs {
		if a.isInt {
			m.PutInt(a.k, a.i)
		} else {
			m.PutStr(a.k, a.s)
		}
	}
}

func sevText(s plog.SeverityNumber) string {
	switch {
	case s >= plog.SeverityNumberFatal:
		return "FATAL"
	case s >= plog.SeverityNumberError:
		return "ERROR"
	case s >= plog.SeverityNumberWarn:
		return "WARN"
	case s >= plog.SeverityNumberInfo:
		return "INFO"
	}
	return "DEBUG"
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package nezha loads the layout of the Nezha fault-injection data (one day of a microservice
// system: per-minute log and trace CSVs, per-pod metric CSVs, fault labels) and turns its rows
// into pdata as a collector would receive them: logs as a filelog receiver with a level parser
// would produce them, spans as an OTLP exporter would send them (here without span kind and
// status, as recorded), and per-pod metrics under semantic-convention names. It knows nothing of
// the system's services: names come from the pods.
package nezha // import "github.com/otelcol-aiops/otelcol-aiops/internal/nezha"

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
)

// Fault is one labelled fault.
type Fault struct {
	ID      string
	Time    time.Time // injection time
	Pod     string
	Service string // root-cause service
	Type    string // network_delay, cpu_contention, ...
}

// Stats counts what was read and what was skipped, by reason.
type Stats struct {
	Logs, Spans, MetricPoints int
	Duplicates                int
	Skipped                   map[string]int
}

func (s *Stats) skip(reason string) {
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason]++
}

type logRow struct {
	t        int64 // TimeUnixNano as recorded (may be invalid)
	observed int64 // the Timestamp column
	pod      string
	node     string
	cont     string
	traceID  pcommon.TraceID
	spanID   pcommon.SpanID
	line     string
	key      string // for de-duplication
}

type spanRow struct {
	traceID    pcommon.TraceID
	spanID     pcommon.SpanID
	parent     pcommon.SpanID
	pod, name  string
	start, end int64
}

type metricRow struct {
	t      int64
	pod    string
	values []float64 // as metricColumns
}

// Data is a loaded day (or part of it), sorted by event time.
type Data struct {
	Faults  []Fault
	logs    []logRow
	spans   []spanRow
	metrics []metricRow
	Start   time.Time // earliest event
	End     time.Time // latest event
	Stats   Stats
}

// ServiceOf returns the service of a Kubernetes pod name: the pod name without its two trailing
// hash segments (deployment pods), or one (stateful sets), or the name itself.
func ServiceOf(pod string) string {
	parts := strings.Split(pod, "-")
	if n := len(parts); n >= 3 && isHash(parts[n-1]) && isHash(parts[n-2]) {
		return strings.Join(parts[:n-2], "-")
	}
	if n := len(parts); n >= 2 && isHash(parts[n-1]) {
		return strings.Join(parts[:n-1], "-")
	}
	return pod
}

func isHash(s string) bool {
	if len(s) < 4 || len(s) > 12 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ReadFaults reads labels.csv (case_id, date, inject_time_utc, inject_unix_s, root_cause_pod,
// root_cause_service, fault_type).
func ReadFaults(dir string) ([]Fault, error) {
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("labels.csv: %w", err)
	}
	if len(rows) < 1 {
		return nil, errors.New("labels.csv: empty")
	}
	col := columns(rows[0])
	need := []string{"case_id", "inject_unix_s", "root_cause_pod", "root_cause_service", "fault_type"}
	for _, c := range need {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("labels.csv: no column %q", c)
		}
	}
	var out []Fault
	for i, r := range rows[1:] {
		if len(r) != len(rows[0]) {
			return nil, fmt.Errorf("labels.csv line %d: %d fields, want %d", i+2, len(r), len(rows[0]))
		}
		sec, err := strconv.ParseInt(r[col["inject_unix_s"]], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("labels.csv line %d: inject_unix_s: %w", i+2, err)
		}
		out = append(out, Fault{ID: r[col["case_id"]], Time: time.Unix(sec, 0).UTC(), Pod: r[col["root_cause_pod"]],
			Service: r[col["root_cause_service"]], Type: r[col["fault_type"]]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func columns(header []string) map[string]int {
	m := make(map[string]int, len(header))
	for i, h := range header {
		m[strings.TrimSpace(h)] = i
	}
	return m
}

// Load reads the faults and the given parts ("baseline", "fault") of the data set in dir.
func Load(dir string, parts ...string) (*Data, error) {
	faults, err := ReadFaults(dir)
	if err != nil {
		return nil, err
	}
	d := &Data{Faults: faults}
	seenLogs := map[string]bool{}
	seenSpans := map[[2]string]bool{}
	seenMetrics := map[string]bool{}
	for _, part := range parts {
		base := filepath.Join(dir, part)
		logFiles, err := filepath.Glob(filepath.Join(base, "log", "*_log.csv.gz"))
		if err != nil {
			return nil, err
		}
		for _, p := range logFiles {
			if err := readCSV(p, func(col map[string]int, r []string) error { return d.addLog(col, r, seenLogs) }); err != nil {
				return nil, err
			}
		}
		traceFiles, err := filepath.Glob(filepath.Join(base, "trace", "*_trace.csv.gz"))
		if err != nil {
			return nil, err
		}
		for _, p := range traceFiles {
			if err := readCSV(p, func(col map[string]int, r []string) error { return d.addSpan(col, r, seenSpans) }); err != nil {
				return nil, err
			}
		}
		metricFiles, err := filepath.Glob(filepath.Join(base, "metric", "*_metric.csv.gz"))
		if err != nil {
			return nil, err
		}
		for _, p := range metricFiles {
			if err := readCSV(p, func(col map[string]int, r []string) error { return d.addMetric(col, r, seenMetrics) }); err != nil {
				return nil, err
			}
		}
	}
	if len(d.logs)+len(d.spans) == 0 {
		return nil, fmt.Errorf("%s: no log or trace rows in %v", dir, parts)
	}
	slices.SortStableFunc(d.logs, func(a, b logRow) int { return cmpInt(a.observed, b.observed) })
	slices.SortStableFunc(d.spans, func(a, b spanRow) int { return cmpInt(a.end, b.end) })
	slices.SortStableFunc(d.metrics, func(a, b metricRow) int { return cmpInt(a.t, b.t) })
	lo, hi := int64(1<<62), int64(0)
	for _, l := range d.logs {
		lo, hi = min(lo, l.observed), max(hi, l.observed)
	}
	for _, s := range d.spans {
		lo, hi = min(lo, s.start), max(hi, s.end)
	}
	d.Start, d.End = time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC()
	d.Stats.Logs, d.Stats.Spans, d.Stats.MetricPoints = len(d.logs), len(d.spans), len(d.metrics)*len(metricColumns)
	return d, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readCSV calls fn for every data row of a gzip-compressed CSV file with a header.
func readCSV(path string, fn func(col map[string]int, r []string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	cr := csv.NewReader(zr)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: header: %w", path, err)
	}
	col := columns(slices.Clone(header))
	for {
		r, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := fn(col, r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

func field(col map[string]int, r []string, name string) string {
	if i, ok := col[name]; ok && i < len(r) {
		return r[i]
	}
	return ""
}

func (d *Data) addLog(col map[string]int, r []string, seen map[string]bool) error {
	raw := field(col, r, "Log")
	key := field(col, r, "Timestamp") + "\x00" + field(col, r, "PodName") + "\x00" + raw
	if seen[key] {
		d.Stats.Duplicates++
		return nil
	}
	seen[key] = true
	obs, err := time.Parse(time.RFC3339Nano, field(col, r, "Timestamp"))
	if err != nil { // some rows carry no zone: UTC, like the others
		obs, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", field(col, r, "Timestamp"), time.UTC)
	}
	if err != nil {
		d.Stats.skip("log_bad_timestamp")
		return nil
	}
	t, err := strconv.ParseInt(field(col, r, "TimeUnixNano"), 10, 64)
	if err != nil {
		t = 0
	}
	line := raw
	var docker struct {
		Log string `json:"log"`
	}
	if json.Unmarshal([]byte(raw), &docker) == nil && docker.Log != "" {
		line = docker.Log
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		d.Stats.skip("log_empty")
		return nil
	}
	row := logRow{t: t, observed: obs.UnixNano(), pod: field(col, r, "PodName"), node: field(col, r, "Node"),
		cont: field(col, r, "Container"), line: line}
	row.traceID, _ = traceID(field(col, r, "TraceID"))
	row.spanID, _ = spanID(field(col, r, "SpanID"))
	d.logs = append(d.logs, row)
	return nil
}

func (d *Data) addSpan(col map[string]int, r []string, seen map[[2]string]bool) error {
	tid, ok1 := traceID(field(col, r, "TraceID"))
	sid, ok2 := spanID(field(col, r, "SpanID"))
	if !ok1 || !ok2 {
		d.Stats.skip("span_bad_id")
		return nil
	}
	k := [2]string{field(col, r, "TraceID"), field(col, r, "SpanID")}
	if seen[k] {
		d.Stats.Duplicates++
		return nil
	}
	seen[k] = true
	start, err1 := strconv.ParseInt(field(col, r, "StartTimeUnixNano"), 10, 64)
	end, err2 := strconv.ParseInt(field(col, r, "EndTimeUnixNano"), 10, 64)
	if err1 != nil || err2 != nil || start <= 0 || end < start {
		d.Stats.skip("span_bad_time")
		return nil
	}
	var parent pcommon.SpanID
	if p := field(col, r, "ParentID"); p != "" && p != "root" {
		parent, _ = spanID(p)
	}
	d.spans = append(d.spans, spanRow{traceID: tid, spanID: sid, parent: parent, pod: field(col, r, "PodName"),
		name: field(col, r, "OperationName"), start: start, end: end})
	return nil
}

// metricColumns maps the per-pod CSV columns to semantic-convention metric names and units.
var metricColumns = []struct {
	column, name, unit string
	scale              float64
	gauge              bool
}{
	{"CpuUsage(m)", "k8s.pod.cpu.usage", "{cpu}", 1.0 / 1000, true},
	{"MemoryUsage(Mi)", "k8s.pod.memory.usage", "By", 1 << 20, true},
	{"NetworkReceiveBytes", "k8s.pod.network.io.receive", "By", 1, true},
	{"NetworkTransmitBytes", "k8s.pod.network.io.transmit", "By", 1, true},
	{"PodServerLatencyP95(s)", "http.server.request.duration.p95", "s", 1, true},
	{"PodClientLatencyP95(s)", "http.client.request.duration.p95", "s", 1, true},
	{"PodWorkload(Ops)", "http.server.request.rate", "{request}/s", 1, true},
	{"PodSuccessRate(%)", "http.server.request.success_ratio", "1", 0.01, true},
}

func (d *Data) addMetric(col map[string]int, r []string, seen map[string]bool) error {
	sec, err := strconv.ParseInt(field(col, r, "TimeStamp"), 10, 64)
	if err != nil || sec <= 0 {
		d.Stats.skip("metric_bad_time")
		return nil
	}
	pod := field(col, r, "PodName")
	k := fmt.Sprint(sec, pod)
	if seen[k] {
		d.Stats.Duplicates++
		return nil
	}
	seen[k] = true
	row := metricRow{t: sec * int64(time.Second), pod: pod, values: make([]float64, len(metricColumns))}
	for i, m := range metricColumns {
		v, err := strconv.ParseFloat(field(col, r, m.column), 64)
		if err != nil {
			v = 0
		}
		row.values[i] = v * m.scale
	}
	d.metrics = append(d.metrics, row)
	return nil
}

func traceID(s string) (pcommon.TraceID, bool) {
	var id pcommon.TraceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > len(id) {
		return id, false
	}
	copy(id[len(id)-len(b):], b)
	return id, !id.IsEmpty()
}

func spanID(s string) (pcommon.SpanID, bool) {
	var id pcommon.SpanID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > len(id) {
		return id, false
	}
	copy(id[len(id)-len(b):], b)
	return id, !id.IsEmpty()
}

// level finds the severity word of an application line ("20:00:36.278 INFO  c.t.c...."), as a
// filelog receiver's severity parser would.
var level = regexp.MustCompile(`\b(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b`)

func severity(line string) (plog.SeverityNumber, string) {
	head := line
	if len(head) > 64 {
		head = head[:64]
	}
	text := level.FindString(head)
	if text == "WARNING" {
		text = "WARN"
	}
	return plog.SeverityNumber(contract.SeverityFromText(text)), text
}

// Chunk is the telemetry of one step of event time, as the collector would receive it.
type Chunk struct {
	Start, End time.Time
	Logs       plog.Logs
	Traces     ptrace.Traces
	Metrics    pmetric.Metrics
}

// Replay calls fn with the data in steps of event time, from the first event to the last: log
// records by their observed time (when the line was written), spans by their end (when a tracer
// exports them), metric points by their time.
func (d *Data) Replay(step time.Duration, fn func(Chunk) error) error {
	if step <= 0 {
		return errors.New("step must be positive")
	}
	li, si, mi := 0, 0, 0
	for t := d.Start.Truncate(step); !t.After(d.End); t = t.Add(step) {
		end := t.Add(step)
		ch := Chunk{Start: t, End: end, Logs: plog.NewLogs(), Traces: ptrace.NewTraces(), Metrics: pmetric.NewMetrics()}
		lim := end.UnixNano()
		res := map[string]plog.LogRecordSlice{}
		for ; li < len(d.logs) && d.logs[li].observed < lim; li++ {
			d.appendLog(ch.Logs, res, &d.logs[li])
		}
		spans := map[string]ptrace.SpanSlice{}
		for ; si < len(d.spans) && d.spans[si].end < lim; si++ {
			appendSpan(ch.Traces, spans, &d.spans[si])
		}
		for ; mi < len(d.metrics) && d.metrics[mi].t < lim; mi++ {
			appendMetric(ch.Metrics, &d.metrics[mi])
		}
		if err := fn(ch); err != nil {
			return err
		}
	}
	return nil
}

func (d *Data) appendLog(ld plog.Logs, res map[string]plog.LogRecordSlice, r *logRow) {
	lrs, ok := res[r.pod]
	if !ok {
		rl := ld.ResourceLogs().AppendEmpty()
		a := rl.Resource().Attributes()
		a.PutStr("service.name", ServiceOf(r.pod))
		a.PutStr("k8s.pod.name", r.pod)
		if r.cont != "" {
			a.PutStr("k8s.container.name", r.cont)
		}
		if r.node != "" {
			a.PutStr("k8s.node.name", r.node)
		}
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("filelog")
		lrs = sl.LogRecords()
		res[r.pod] = lrs
	}
	lr := lrs.AppendEmpty()
	lr.SetTimestamp(pcommon.Timestamp(uint64(r.t))) //nolint:gosec // G115: invalid times are recorded as they are (negative values wrap, as in the source data)
	lr.SetObservedTimestamp(pcommon.Timestamp(uint64(r.observed)))
	lr.Body().SetStr(r.line)
	num, text := severity(r.line)
	lr.SetSeverityNumber(num)
	lr.SetSeverityText(text)
	lr.SetTraceID(r.traceID)
	lr.SetSpanID(r.spanID)
}

func appendSpan(td ptrace.Traces, res map[string]ptrace.SpanSlice, r *spanRow) {
	ss, ok := res[r.pod]
	if !ok {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", ServiceOf(r.pod))
		rs.Resource().Attributes().PutStr("k8s.pod.name", r.pod)
		ss = rs.ScopeSpans().AppendEmpty().Spans()
		res[r.pod] = ss
	}
	sp := ss.AppendEmpty()
	sp.SetTraceID(r.traceID)
	sp.SetSpanID(r.spanID)
	sp.SetParentSpanID(r.parent)
	sp.SetName(r.name)
	sp.SetStartTimestamp(pcommon.Timestamp(uint64(r.start))) //nolint:gosec // G115: validated positive
	sp.SetEndTimestamp(pcommon.Timestamp(uint64(r.end)))     //nolint:gosec // G115: validated positive
}

func appendMetric(md pmetric.Metrics, r *metricRow) {
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", ServiceOf(r.pod))
	rm.Resource().Attributes().PutStr("k8s.pod.name", r.pod)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ts := pcommon.Timestamp(uint64(r.t)) //nolint:gosec // G115: validated positive
	for i, c := range metricColumns {
		m := ms.AppendEmpty()
		m.SetName(c.name)
		m.SetUnit(c.unit)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(ts)
		dp.SetDoubleValue(r.values[i])
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package loadgen generates the synthetic log load of the throughput benchmarks: realistic
// lines with variable parts (ids, IPs, durations) from about twenty templates of eight services,
// as OTLP requests whose content depends only on a seed. cmd/otlpload sends it to a collector;
// the processor's BenchmarkProcessorOTLPRequests feeds it in process.
package loadgen // import "github.com/otelcol-aiops/otelcol-aiops/internal/loadgen"

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// template is one kind of log line of one service. The text holds placeholders in braces that are
// replaced by a random value of that kind for every record (see appendVar).
type template struct {
	service  int
	weight   int
	severity plog.SeverityNumber
	text     string
}

// Services are the service.name values of the generated resources.
var Services = []string{
	"checkout", "payment", "inventory", "auth", "gateway", "search", "shipping", "notification",
}

// templates are the log lines, about twenty across the eight services. Weights are relative
// frequencies: most lines are routine, a few warnings, and rare errors (weight 1 of about 800).
var templates = []template{
	{0, 90, plog.SeverityNumberInfo, "order {uuid} created for user {user} with {int:1:12} items total {money} EUR"},
	{0, 40, plog.SeverityNumberInfo, "cart {hex8} checked out in {dur}"},
	{0, 3, plog.SeverityNumberWarn, "call to payment for order {uuid} took {int:501:3000}ms, above threshold 500ms"},
	{1, 70, plog.SeverityNumberInfo, "payment {hex16} authorized amount={money} currency=EUR card=****{int:1000:9999}"},
	{1, 2, plog.SeverityNumberError, "payment {hex16} declined: insufficient funds (code {int:51:59})"},
	{1, 1, plog.SeverityNumberError, "database connection pool exhausted: {int:50:64} active, {int:1:40} waiting"},
	{2, 60, plog.SeverityNumberInfo, "reserved {int:1:20} units of sku {sku} in warehouse {wh}"},
	{2, 30, plog.SeverityNumberDebug, "stock level for sku {sku} is {int:0:5000}"},
	{3, 100, plog.SeverityNumberInfo, "user {user} logged in from {ip} session {hex16}"},
	{3, 6, plog.SeverityNumberWarn, "failed login for user {user} from {ip}: invalid password (attempt {int:1:5})"},
	{3, 20, plog.SeverityNumberInfo, "token {hex16} refreshed for user {user}, expires in {int:300:3600}s"},
	{4, 160, plog.SeverityNumberInfo, "{method} {path} {status} {dur} from {ip}:{int:1024:65535}"},
	{4, 4, plog.SeverityNumberWarn, "upstream {ip}:{int:8000:8099} responded 503 after {dur}, retrying ({int:1:3}/3)"},
	{5, 80, plog.SeverityNumberInfo, "query \"{word}\" returned {int:0:500} hits in {dur}"},
	{5, 2, plog.SeverityNumberWarn, "index shard {int:0:15} rebalanced in {dur}"},
	{6, 50, plog.SeverityNumberInfo, "shipment {hex8} for order {uuid} handed to carrier {carrier}"},
	{6, 25, plog.SeverityNumberInfo, "label printed for shipment {hex8} weight {int:100:30000}g"},
	{7, 70, plog.SeverityNumberInfo, "sent {channel} notification {hex8} to user {user} in {dur}"},
	{7, 3, plog.SeverityNumberError, "smtp relay {ip}:25 rejected message {hex8}: 451 temporary failure"},
	{7, 1, plog.SeverityNumberError, "notification queue depth {int:10000:20000} exceeds limit 10000"},
}

var (
	users    = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor", "walter"}
	words    = []string{"red shoes", "laptop", "coffee grinder", "usb cable", "desk lamp", "running jacket", "headphones", "phone case", "water bottle", "backpack"}
	methods  = []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
	paths    = []string{"/api/v1/cart", "/api/v1/orders", "/api/v1/products", "/api/v1/search", "/api/v1/users/me", "/healthz", "/api/v1/checkout"}
	statuses = []string{"200", "200", "200", "200", "200", "201", "204", "304", "400", "404"}
	carriers = []string{"dhl", "ups", "fedex", "gls", "dpd"}
	channels = []string{"email", "sms", "push"}
	whs      = []string{"ams1", "fra2", "lon1", "par3", "waw1"}
)

// segment is a literal piece of a template or a placeholder.
type segment struct {
	lit    string
	kind   string // empty for literals
	lo, hi int    // bounds of {int:lo:hi}
}

// compiled is a template split into segments, with its cumulative weight for sampling.
type compiled struct {
	template
	segs []segment
	cum  int
}

// Generator produces the records of the load. It is safe for concurrent use: every request gets
// its own random source derived from the seed and the request index, so the output depends only
// on the seed, not on the concurrency or the scheduling.
type Generator struct {
	seed  uint64
	start time.Time
	step  time.Duration
	tpls  []compiled
	total int
}

// New returns the generator of the load with this seed, whose record i has timestamp
// start + i*step.
func New(seed uint64, start time.Time, step time.Duration) (*Generator, error) {
	g := &Generator{seed: seed, start: start, step: step}
	for _, t := range templates {
		segs, err := parseTemplate(t.text)
		if err != nil {
			return nil, err
		}
		g.total += t.weight
		g.tpls = append(g.tpls, compiled{template: t, segs: segs, cum: g.total})
	}
	return g, nil
}

// parseTemplate splits "a {kind} b" into segments; it rejects unknown placeholders.
func parseTemplate(s string) ([]segment, error) {
	var segs []segment
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			segs = append(segs, segment{lit: s})
			break
		}
		if i > 0 {
			segs = append(segs, segment{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("template %q: unterminated placeholder", s)
		}
		seg, err := parsePlaceholder(s[i+1 : i+j])
		if err != nil {
			return nil, err
		}
		segs = append(segs, seg)
		s = s[i+j+1:]
	}
	return segs, nil
}

func parsePlaceholder(p string) (segment, error) {
	switch p {
	case "uuid", "hex8", "hex16", "ip", "dur", "money", "user", "sku", "wh", "method", "path",
		"status", "word", "carrier", "channel":
		return segment{kind: p}, nil
	}
	parts := strings.Split(p, ":")
	if len(parts) == 3 && parts[0] == "int" {
		lo, err1 := strconv.Atoi(parts[1])
		hi, err2 := strconv.Atoi(parts[2])
		if err1 == nil && err2 == nil && lo <= hi {
			return segment{kind: "int", lo: lo, hi: hi}, nil
		}
	}
	return segment{}, fmt.Errorf("unknown placeholder {%s}", p)
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, r *rand.Rand, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, hexDigits[r.IntN(16)])
	}
	return b
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// appendVar appends a random value of the placeholder's kind.
func appendVar(b []byte, r *rand.Rand, s segment) []byte {
	switch s.kind {
	case "int":
		return strconv.AppendInt(b, int64(s.lo+r.IntN(s.hi-s.lo+1)), 10)
	case "uuid":
		b = appendHex(b, r, 8)
		for _, n := range []int{4, 4, 4, 12} {
			b = append(b, '-')
			b = appendHex(b, r, n)
		}
		return b
	case "hex8":
		return appendHex(b, r, 8)
	case "hex16":
		return appendHex(b, r, 16)
	case "ip":
		b = append(b, "10."...)
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		b = append(b, '.')
		return strconv.AppendInt(b, int64(1+r.IntN(254)), 10)
	case "dur":
		// Mostly fast, with a long tail: 1..50ms usually, up to 5s rarely.
		ms := 1 + r.IntN(50)
		if r.IntN(20) == 0 {
			ms = 50 + r.IntN(5000)
		}
		return append(strconv.AppendInt(b, int64(ms), 10), "ms"...)
	case "money":
		b = strconv.AppendInt(b, int64(1+r.IntN(999)), 10)
		b = append(b, '.')
		c := r.IntN(100)
		if c < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(c), 10)
	case "user":
		return append(b, pick(r, users)...)
	case "sku":
		b = append(b, "SKU-"...)
		return strconv.AppendInt(b, int64(10000+r.IntN(90000)), 10)
	case "wh":
		return append(b, pick(r, whs)...)
	case "method":
		return append(b, pick(r, methods)...)
	case "path":
		return append(b, pick(r, paths)...)
	case "status":
		return append(b, pick(r, statuses)...)
	case "word":
		return append(b, pick(r, words)...)
	case "carrier":
		return append(b, pick(r, carriers)...)
	case "channel":
		return append(b, pick(r, channels)...)
	}
	return b
}

// Request builds the logs of request number idx, holding the records first..first+n-1 of the
// whole stream. Records are grouped in one resource per service (service.name), in stream order
// inside each resource; record i of the stream has timestamp start + i*step.
func (g *Generator) Request(idx, first, n int) plog.Logs {
	r := rand.New(rand.NewPCG(g.seed, uint64(idx))) //nolint:gosec // G404: seeded, reproducible synthetic load, not security
	ld := plog.NewLogs()
	scopes := make([]plog.LogRecordSlice, len(Services))
	var buf []byte
	for i := 0; i < n; i++ {
		t := g.pickTemplate(r)
		recs := scopes[t.service]
		if recs == (plog.LogRecordSlice{}) {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", Services[t.service])
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("otlpload")
			recs = sl.LogRecords()
			scopes[t.service] = recs
		}
		buf = buf[:0]
		for _, s := range t.segs {
			if s.kind == "" {
				buf = append(buf, s.lit...)
			} else {
				buf = appendVar(buf, r, s)
			}
		}
		ts := pcommon.NewTimestampFromTime(g.start.Add(time.Duration(first+i) * g.step))
		lr := recs.AppendEmpty()
		lr.SetTimestamp(ts)
		lr.SetObservedTimestamp(ts)
		lr.SetSeverityNumber(t.severity)
		lr.SetSeverityText(severityText(t.severity))
		lr.Body().SetStr(string(buf))
	}
	return ld
}

func (g *Generator) pickTemplate(r *rand.Rand) *compiled {
	x := r.IntN(g.total)
	for i := range g.tpls {
		if x < g.tpls[i].cum {
			return &g.tpls[i]
		}
	}
	return &g.tpls[len(g.tpls)-1]
}

func severityText(s plog.SeverityNumber) string {
	switch s {
	case plog.SeverityNumberDebug:
		return "DEBUG"
	case plog.SeverityNumberWarn:
		return "WARN"
	case plog.SeverityNumberError:
		return "ERROR"
	default:
		return "INFO"
	}
}

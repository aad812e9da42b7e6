// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// realOutput is a run's output with, per span id, what spanRow does not keep.
type realOutput struct {
	output
	names  map[[8]byte]string
	status map[[8]byte]ptrace.StatusCode
}

// collectReal is collect keeping the spans' names and status codes too.
func collectReal(t *testing.T, sc Scenario, step time.Duration) realOutput {
	t.Helper()
	out := realOutput{names: map[[8]byte]string{}, status: map[[8]byte]ptrace.StatusCode{}}
	st, err := Run(sc, step, func(ch Chunk) error {
		out.chunks++
		for _, rl := range ch.Logs.ResourceLogs().All() {
			svc, _ := rl.Resource().Attributes().Get("service.name")
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out.logs = append(out.logs, logRow{svc.Str(), lr.Timestamp().AsTime(), lr.SeverityNumber(), lr.Body().Str(), lr.TraceID(), lr.SpanID()})
				}
			}
		}
		for _, rs := range ch.Traces.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out.spans = append(out.spans, spanRow{
						svc: svc.Str(), tid: sp.TraceID(), sid: sp.SpanID(), parent: sp.ParentSpanID(), kind: sp.Kind(),
						start: sp.StartTimestamp().AsTime(), end: sp.EndTimestamp().AsTime(), attrs: sp.Attributes().AsRaw(),
						err: sp.Status().Code() == ptrace.StatusCodeError,
					})
					out.names[sp.SpanID()] = sp.Name()
					out.status[sp.SpanID()] = sp.Status().Code()
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	out.stats = st
	return out
}

func median[T int | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// template masks the tokens of a log body that contain a digit (ids, numbers, durations).
func template(body string) string {
	f := strings.Fields(body)
	for i, tok := range f {
		if strings.ContainsAny(tok, "0123456789") {
			f[i] = "<*>"
		}
	}
	return strings.Join(f, " ")
}

// ownTemplate is the template of a line of svc with svc's own names masked.
func ownTemplate(svc, body string) string {
	pkg, cls := javaNames(svc)
	r := strings.NewReplacer(pkg, "<pkg>", cls, "<cls>", strings.ToLower(cls), "<svc>", svc, "<svc>")
	return template(r.Replace(body))
}

// spanRoles indexes the spans of a realistic run, which have no kind: a span whose parent is in
// the same service is the client side of a call (or a query, or a send); any other span is a
// service's own (server) span. self is the own span's duration minus its client spans'.
type spanRoles struct {
	byID     map[[8]byte]spanRow
	client   map[[8]byte]bool
	children map[[8]byte][]spanRow // child spans, any service
	self     map[[8]byte]time.Duration
}

func roles(out realOutput) spanRoles {
	r := spanRoles{byID: map[[8]byte]spanRow{}, client: map[[8]byte]bool{}, children: map[[8]byte][]spanRow{}, self: map[[8]byte]time.Duration{}}
	for _, sp := range out.spans {
		r.byID[sp.sid] = sp
	}
	for _, sp := range out.spans {
		p, ok := r.byID[sp.parent]
		if !ok {
			continue
		}
		r.children[p.sid] = append(r.children[p.sid], sp)
		if p.svc == sp.svc {
			r.client[sp.sid] = true
		}
	}
	for _, sp := range out.spans {
		if r.client[sp.sid] {
			continue
		}
		d := sp.end.Sub(sp.start)
		for _, c := range r.children[sp.sid] {
			if c.svc == sp.svc {
				d -= c.end.Sub(c.start)
			}
		}
		r.self[sp.sid] = d
	}
	return r
}

// durations collects the durations of the spans that pick selects, started outside the bursts,
// before and during the fault.
func durations(sc Scenario, out realOutput, f Fault, pick func(sp spanRow) (time.Duration, bool)) (before, during []time.Duration) {
	for _, sp := range out.spans {
		d, ok := pick(sp)
		if !ok || sc.LoadFactor(sp.start) > 1 || sc.LoadFactor(sp.end) > 1 {
			continue
		}
		switch {
		case f.Active(sp.start):
			during = append(during, d)
		case sp.end.Before(f.Start):
			before = append(before, d)
		}
	}
	return before, during
}

func TestRealismResolution(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 1, Realistic: true})
	r := sc.Realism
	assert.True(t, sc.Realistic)
	assert.GreaterOrEqual(t, r.BurstPeriod, 3*time.Minute)
	assert.LessOrEqual(t, r.BurstPeriod, 6*time.Minute)
	assert.GreaterOrEqual(t, r.BurstLength, 20*time.Second)
	assert.LessOrEqual(t, r.BurstLength, 40*time.Second)
	assert.Less(t, r.BurstPhase, r.BurstPeriod)
	assert.GreaterOrEqual(t, r.BurstFactor, 3.0)
	assert.LessOrEqual(t, r.BurstFactor, 5.0)
	assert.GreaterOrEqual(t, r.SpikeFactor, 10.0)
	assert.LessOrEqual(t, r.SpikeFactor, 30.0)
	assert.Len(t, r.Spiky, r.SpikeEdges)
	assert.Zero(t, r.StatusCodeFraction, "status codes are off by default")
	assert.Equal(t, r, resolveRealism(r, sc.Topology, sc.Seed), "resolving is idempotent")

	// A knob set leaves the others as they were.
	sc2 := mustScenario(t, Options{Seed: 1, Realistic: true, Realism: Realism{BurstFactor: 2}})
	assert.InDelta(t, 2.0, sc2.Realism.BurstFactor, 0)
	sc2.Realism.BurstFactor = r.BurstFactor
	assert.Equal(t, r, sc2.Realism)
	sc3 := mustScenario(t, Options{Seed: 2, Realistic: true})
	assert.NotEqual(t, r, sc3.Realism, "another seed, another pattern")

	// Classic mode: no realism, load factor 1.
	classic := mustScenario(t, Options{Seed: 1})
	assert.False(t, classic.Realistic)
	assert.Equal(t, Realism{}, classic.Realism)
	for i := range 100 {
		assert.InDelta(t, 1.0, classic.LoadFactor(classic.Start.Add(time.Duration(i)*7*time.Second)), 0)
	}

	// Bad knobs are refused.
	for _, rl := range []Realism{
		{BurstFactor: 20}, {BurstPeriod: 30 * time.Second}, {BurstLength: 10 * time.Minute},
		{SpikeFactor: 1000}, {StatusCodeFraction: 1.5}, {Spiky: []EdgeRef{{From: "user", To: "payment"}}},
		{Spiky: []EdgeRef{{From: "checkout", To: "shipping-requests"}}},
	} {
		_, err := NewScenario(Options{Seed: 1, Realistic: true, Realism: rl})
		require.Error(t, err, "%+v", rl)
	}
	// Spiky calls given explicitly; none at all.
	sc4 := mustScenario(t, Options{Seed: 1, Realistic: true, Realism: Realism{Spiky: []EdgeRef{{From: "payment", To: "orders-db"}}}})
	assert.Equal(t, 1, sc4.Realism.SpikeEdges)
	sc5 := mustScenario(t, Options{Seed: 1, Realistic: true, Realism: Realism{SpikeEdges: -1}})
	assert.Empty(t, sc5.Realism.Spiky)
}

func TestRealisticBursts(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 1, Duration: 15 * time.Minute, Rate: 5, Realistic: true})
	r := sc.Realism
	require.NotEmpty(t, r.Spiky)
	out := collectReal(t, sc, 5*time.Second)

	// Request rate: user requests (trace roots) per 5 s.
	const bin = 5 * time.Second
	counts := make([]int, sc.Duration/bin)
	var inBurst []int
	for _, sp := range out.spans {
		if sp.parent == ([8]byte{}) {
			require.Equal(t, sc.Topology.Entry, sp.svc)
			if i := int(sp.start.Sub(sc.Start) / bin); i < len(counts) {
				counts[i]++
			}
		}
	}
	bursts := 0
	for i, c := range counts {
		from := sc.Start.Add(time.Duration(i) * bin)
		if sc.LoadFactor(from) > 1 && sc.LoadFactor(from.Add(bin-time.Nanosecond)) > 1 {
			inBurst = append(inBurst, c)
			if i == 0 || sc.LoadFactor(from.Add(-bin)) == 1 {
				bursts++
			}
		}
	}
	require.NotEmpty(t, inBurst)
	med := float64(median(counts))
	assert.GreaterOrEqual(t, float64(median(inBurst)), 2*med, "burst %v, median %v", median(inBurst), med)
	assert.InDelta(t, r.BurstFactor, float64(median(inBurst))/med, 1.5)
	assert.GreaterOrEqual(t, bursts, int(sc.Duration/r.BurstPeriod)-1, "the bursts recur every period")
	assert.Less(t, float64(len(inBurst))/float64(len(counts)), 0.3, "bursts are short")

	// The spiky calls queue during the bursts: their calls take 10-30 times longer (minus the
	// jitter); a healthy call whose callee has no spiky call below it does not change.
	rl := roles(out)
	spiky := map[EdgeRef]bool{}
	for _, e := range r.Spiky {
		spiky[e] = true
	}
	callDurations := func(e Edge) (burst, calm []time.Duration) {
		callee, _ := sc.Topology.Node(e.To)
		table := strings.TrimSuffix(e.To, "-db")
		for _, sp := range out.spans {
			if sp.svc != e.From || !rl.client[sp.sid] {
				continue
			}
			ok := false
			if callee.Kind == KindDatabase {
				ok = len(rl.children[sp.sid]) == 0 && strings.HasSuffix(out.names[sp.sid], " "+table)
			} else {
				for _, c := range rl.children[sp.sid] {
					ok = ok || c.svc == e.To
				}
			}
			if !ok {
				continue
			}
			if sc.LoadFactor(sp.start) > 1 {
				burst = append(burst, sp.end.Sub(sp.start))
			} else {
				calm = append(calm, sp.end.Sub(sp.start))
			}
		}
		return burst, calm
	}
	checked := 0
	for _, e := range sc.Topology.Edges {
		if e.Protocol == ProtoMessaging || e.Every > 0 {
			continue
		}
		burst, calm := callDurations(e)
		require.NotEmpty(t, burst, "%s -> %s", e.From, e.To)
		ratio := float64(median(burst)) / float64(median(calm))
		switch {
		case spiky[EdgeRef{From: e.From, To: e.To}]:
			assert.GreaterOrEqual(t, ratio, 8.0, "spiky call %s -> %s: %v vs %v", e.From, e.To, median(burst), median(calm))
			checked++
		case !reachesSpiky(sc.Topology, e.To, spiky):
			assert.Less(t, ratio, 1.5, "healthy call %s -> %s", e.From, e.To)
		}
	}
	assert.Equal(t, len(r.Spiky), checked)
}

// reachesSpiky reports whether a spiky call is made by name or below it.
func reachesSpiky(t *Topology, name string, spiky map[EdgeRef]bool) bool {
	for _, e := range t.Callees(name) {
		if e.Every > 0 {
			continue
		}
		if spiky[EdgeRef{From: e.From, To: e.To}] || reachesSpiky(t, e.To, spiky) {
			return true
		}
	}
	return false
}

func TestRealisticBackgroundErrors(t *testing.T) {
	classes := map[string]bool{}
	for _, topo := range []*Topology{DefaultShop(), RandomTopology(6, 9)} {
		sc := mustScenario(t, Options{Topology: topo, Seed: 6, Duration: 10 * time.Minute, Rate: 1, Realistic: true})
		require.Empty(t, sc.Faults)
		out := collectReal(t, sc, 5*time.Second)
		errs := map[string]int{}
		warns := map[string]int{}
		tmpls := map[string]map[string]bool{}
		traces := 0
		for _, l := range out.logs {
			switch {
			case l.sev >= plog.SeverityNumberError:
				assert.Equal(t, plog.SeverityNumberError, l.sev, "no FATAL in a fault-free run: %s", l.body)
				if strings.Contains(l.body, "client disconnected") {
					continue // the classic per-request noise
				}
				errs[l.svc]++
				if tmpls[l.svc] == nil {
					tmpls[l.svc] = map[string]bool{}
				}
				tmpls[l.svc][template(l.body)] = true
				if strings.Contains(l.body, "\n\tat ") {
					traces++
					lines := strings.Split(l.body, "\n")
					require.GreaterOrEqual(t, len(lines), 5, l.body)
					exc, _, ok := strings.Cut(lines[1], ": ")
					require.True(t, ok, l.body)
					assert.Regexp(t, `^(java|javax|com|org)\.[a-zA-Z.]+(Exception|Error)$`, exc)
					classes[l.svc+" "+exc] = true
					pkg, _ := javaNames(l.svc)
					assert.Contains(t, lines[2], "\tat "+pkg+".", "the first frame is the service's own code")
					assert.Regexp(t, `^\t\.\.\. \d+ more$`, lines[len(lines)-1])
				}
			case l.sev >= plog.SeverityNumberWarn:
				warns[l.svc]++
			}
		}
		assert.Positive(t, traces, "multi-line stack traces")
		for _, svc := range topo.Services() {
			perMin := float64(errs[svc]) / sc.Duration.Minutes()
			assert.GreaterOrEqual(t, perMin, 0.3, "%s: %d background errors", svc, errs[svc])
			assert.LessOrEqual(t, perMin, 12.0, "%s: %d background errors", svc, errs[svc])
			assert.GreaterOrEqual(t, len(tmpls[svc]), 3, "%s: several distinct messages", svc)
			assert.Positive(t, warns[svc], svc)
		}
		for _, sp := range out.spans {
			assert.Equal(t, ptrace.StatusCodeUnset, out.status[sp.sid])
		}
	}
	// The exception classes vary with the service.
	perClass := map[string][]string{}
	for k := range classes {
		svc, exc, _ := strings.Cut(k, " ")
		perClass[exc] = append(perClass[exc], svc)
	}
	assert.GreaterOrEqual(t, len(perClass), 4, "%v", perClass)
}

func TestRealisticSpans(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 3, Duration: 3 * time.Minute, Rate: 6, Realistic: true,
		Fault: FaultBadDeploy, Target: "payment", FaultAt: time.Minute})
	out := collectReal(t, sc, time.Second)
	require.NotEmpty(t, out.spans)
	rl := roles(out)
	links := map[EdgeRef]bool{}
	for _, sp := range out.spans {
		assert.Equal(t, ptrace.SpanKindUnspecified, sp.kind)
		assert.Equal(t, ptrace.StatusCodeUnset, out.status[sp.sid])
		assert.Empty(t, sp.attrs, "no attributes: no peer, no protocol, no status code")
		if p, ok := rl.byID[sp.parent]; ok && p.svc != sp.svc {
			links[EdgeRef{From: p.svc, To: sp.svc}] = true
		}
	}
	// The call graph between services is in the parent/child links only: every call between
	// services, and every queue's producer -> consumer pair.
	want := map[EdgeRef]bool{}
	for _, e := range sc.Topology.Edges {
		to, _ := sc.Topology.Node(e.To)
		from, _ := sc.Topology.Node(e.From)
		switch {
		case from.Kind == KindService && to.Kind == KindService:
			want[EdgeRef{From: e.From, To: e.To}] = true
		case to.Kind == KindQueue:
			for _, c := range sc.Topology.Callees(e.To) {
				want[EdgeRef{From: e.From, To: c.To}] = true
			}
		}
	}
	assert.Equal(t, want, links)
	// The failures are in the logs only.
	failed := 0
	for _, l := range out.logs {
		if strings.Contains(l.body, "handler panic") || strings.Contains(l.body, "call to payment failed") {
			failed++
		}
	}
	assert.Positive(t, failed)

	// The status-code knob: a share of the HTTP and RPC spans carry http.response.status_code.
	sc.Realism.StatusCodeFraction = 0.3
	out = collectReal(t, sc, time.Second)
	with, httpRPC, failedCodes := 0, 0, 0
	for _, sp := range out.spans {
		name := out.names[sp.sid]
		if strings.HasPrefix(name, "send ") || strings.HasPrefix(name, "process ") ||
			strings.HasPrefix(name, "SELECT ") || strings.HasPrefix(name, "UPDATE ") {
			assert.Empty(t, sp.attrs, name)
			continue
		}
		httpRPC++
		if code, ok := sp.attrs["http.response.status_code"]; ok {
			with++
			assert.Len(t, sp.attrs, 1)
			if code != int64(200) {
				failedCodes++
				assert.False(t, sp.start.Before(sc.Faults[0].Start))
			}
		}
		assert.Equal(t, ptrace.StatusCodeUnset, out.status[sp.sid])
	}
	assert.InDelta(t, 0.3, float64(with)/float64(httpRPC), 0.03)
	assert.Positive(t, failedCodes)
}

func TestEgressDelay(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 2, Duration: 10 * time.Minute, Rate: 4, Realistic: true,
		Fault: FaultEgressDelay, Target: "checkout", FaultAt: 5 * time.Minute})
	f := sc.Faults[0]
	assert.Equal(t, "checkout", f.RootCause())
	assert.Equal(t, []string{"checkout", "frontend"}, sc.Symptomatic(f))
	out := collectReal(t, sc, time.Second)
	rl := roles(out)
	// The target's client side grows by the delay (100-300 ms a call).
	before, during := durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
		return sp.end.Sub(sp.start), sp.svc == "checkout" && rl.client[sp.sid]
	})
	assert.Greater(t, median(during)-median(before), 80*time.Millisecond, "%v -> %v", median(before), median(during))
	// Its own processing does not, nor do its callees' own spans.
	for _, svc := range []string{"checkout", "user", "inventory", "payment", "shipping"} {
		before, during := durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
			return rl.self[sp.sid], sp.svc == svc && !rl.client[sp.sid]
		})
		ratio := float64(median(during)) / float64(median(before))
		assert.InDelta(t, 1, ratio, 0.15, "%s self time %v -> %v", svc, median(before), median(during))
	}
	for _, svc := range []string{"user", "inventory", "payment"} {
		before, during := durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
			p, ok := rl.byID[sp.parent]
			return sp.end.Sub(sp.start), sp.svc == svc && ok && p.svc == "checkout"
		})
		ratio := float64(median(during)) / float64(median(before))
		assert.InDelta(t, 1, ratio, 0.15, "callee %s %v -> %v", svc, median(before), median(during))
	}
	// The target as a whole is slower: its callers wait.
	before, during = durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
		return sp.end.Sub(sp.start), sp.svc == "checkout" && !rl.client[sp.sid]
	})
	assert.Greater(t, median(during), 3*median(before))
}

func TestCPUContention(t *testing.T) {
	sc := mustScenario(t, Options{Seed: 2, Duration: 10 * time.Minute, Rate: 4, Realistic: true,
		Fault: FaultCPUContention, Target: "inventory", FaultAt: 5 * time.Minute})
	f := sc.Faults[0]
	assert.Equal(t, "inventory", f.RootCause())
	assert.Equal(t, []string{"inventory", "checkout", "frontend"}, sc.Symptomatic(f))
	out := collectReal(t, sc, time.Second)
	rl := roles(out)
	self := func(svc string) float64 {
		before, during := durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
			return rl.self[sp.sid], sp.svc == svc && !rl.client[sp.sid]
		})
		return float64(median(during)) / float64(median(before))
	}
	// The target's own time grows 2-5 times; the others' does not.
	assert.GreaterOrEqual(t, self("inventory"), 1.8)
	assert.LessOrEqual(t, self("inventory"), 5.5)
	for _, svc := range []string{"frontend", "checkout", "payment", "user", "shipping"} {
		assert.InDelta(t, 1, self(svc), 0.15, svc)
	}
	// Its caller waits for it.
	before, during := durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
		for _, c := range rl.children[sp.sid] {
			if c.svc == "inventory" {
				return sp.end.Sub(sp.start), sp.svc == "checkout"
			}
		}
		return 0, false
	})
	assert.Greater(t, float64(median(during)), 1.5*float64(median(before)))
	// Its database queries (its client side) do not change.
	before, during = durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
		return sp.end.Sub(sp.start), sp.svc == "inventory" && rl.client[sp.sid]
	})
	assert.InDelta(t, 1, float64(median(during))/float64(median(before)), 0.15)
}

func TestCallerLogChange(t *testing.T) {
	o := Options{Seed: 4, Duration: 10 * time.Minute, Rate: 4, Realistic: true,
		Fault: FaultCallerLogChange, Target: "payment", FaultAt: 5 * time.Minute}
	sc := mustScenario(t, o)
	f := sc.Faults[0]
	assert.Equal(t, "payment", f.RootCause())
	assert.Equal(t, []string{"checkout", "frontend"}, sc.Symptomatic(f), "the target logs nothing new")
	out := collectReal(t, sc, time.Second)
	o.Fault = FaultNone
	free := collectReal(t, mustScenario(t, o), time.Second)

	// The templates of normal operation, of any service (with the service's own names masked:
	// rare benign lines are common to all services).
	known := map[string]bool{}
	for _, l := range free.logs {
		known[ownTemplate(l.svc, l.body)] = true
	}
	for _, l := range out.logs {
		if l.ts.Before(f.Start) {
			known[ownTemplate(l.svc, l.body)] = true
		}
	}
	newIn := map[string]int{}
	retries, giveUps := 0, 0
	for _, l := range out.logs {
		if l.ts.Before(f.Start) {
			assert.NotContains(t, l.body, "waiting for the response")
			continue
		}
		if !known[ownTemplate(l.svc, l.body)] {
			newIn[l.svc]++
		}
		if l.svc == "checkout" && strings.HasPrefix(l.body, "call to payment failed: timeout after 1000ms waiting for the response") {
			if l.sev == plog.SeverityNumberWarn {
				retries++
			} else {
				giveUps++
			}
		}
	}
	assert.Zero(t, newIn["payment"], "the target's logs do not change")
	assert.Positive(t, newIn["checkout"], "its caller's do")
	assert.Positive(t, retries)
	assert.Positive(t, giveUps)
	assert.InDelta(t, 0.5, float64(giveUps)/float64(retries), 0.15, "half of the retries are lost too")
	for svc := range newIn {
		assert.Contains(t, sc.Symptomatic(f), svc)
	}
	// The target's own spans are as usual; its callers wait for the lost answers.
	rl := roles(out)
	before, during := durations(sc, out, f, func(sp spanRow) (time.Duration, bool) {
		return sp.end.Sub(sp.start), sp.svc == "payment" && !rl.client[sp.sid]
	})
	assert.InDelta(t, 1, float64(median(during))/float64(median(before)), 0.15)
	lost := 0
	for _, sp := range out.spans {
		if sp.svc == "checkout" && rl.client[sp.sid] && sp.end.Sub(sp.start) == time.Second {
			assert.True(t, f.Active(sp.start))
			lost++
		}
	}
	assert.Equal(t, retries+giveUps, lost)
}

func TestNewFaultKindsInClassicMode(t *testing.T) {
	for _, k := range []FaultKind{FaultEgressDelay, FaultCPUContention, FaultCallerLogChange} {
		sc := mustScenario(t, Options{Seed: 3, Duration: 90 * time.Second, Rate: 8, Fault: k, FaultAt: 30 * time.Second})
		f := sc.Faults[0]
		n, ok := sc.Topology.Node(f.Service)
		require.True(t, ok)
		assert.Equal(t, KindService, n.Kind, k)
		out := collect(t, sc, time.Second)
		kinds := map[ptrace.SpanKind]bool{}
		for _, sp := range out.spans {
			kinds[sp.kind] = true
		}
		assert.True(t, kinds[ptrace.SpanKindServer] && kinds[ptrace.SpanKindClient], "classic spans keep their kinds")
		if k == FaultCallerLogChange {
			errSpans := 0
			for _, sp := range out.spans {
				if sp.err {
					errSpans++
					assert.False(t, sp.end.Before(f.Start))
					assert.Contains(t, sc.Symptomatic(f), sp.svc)
				}
			}
			assert.Positive(t, errSpans)
		}
	}
}

func TestRealisticFaultKinds(t *testing.T) {
	rk := RealisticFaultKinds()
	for _, k := range []FaultKind{FaultEgressDelay, FaultCPUContention, FaultCallerLogChange} {
		assert.Contains(t, rk, k)
		assert.NotContains(t, FaultKinds(), k, "the classic rotation is unchanged")
		got, err := ParseFaultKind(string(k))
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	assert.Len(t, FaultKinds(), 6)
	// Placement constraints.
	for _, o := range []Options{
		{Fault: FaultEgressDelay, Target: "user"},          // calls nothing
		{Fault: FaultCallerLogChange, Target: "frontend"},  // nobody calls it
		{Fault: FaultCallerLogChange, Target: "shipping"},  // only through a queue
		{Fault: FaultCPUContention, Target: "orders-db"},   // a database
		{Fault: FaultEgressDelay, Target: "inventory-db"},  // a database
		{Fault: FaultCallerLogChange, Target: "orders-db"}, // a database
	} {
		o.Realistic = true
		_, err := NewScenario(o)
		require.Error(t, err, "%+v", o)
	}
	for seed := range uint64(20) {
		for _, k := range rk {
			sc, err := NewScenario(Options{Topology: RandomTopology(seed, 8), Seed: seed, Fault: k, Realistic: true})
			require.NoError(t, err, "%s seed %d", k, seed)
			assert.Equal(t, sc.Faults[0].Service, sc.Faults[0].RootCause())
		}
	}

	// The evaluation set: realistic scenarios, the realistic rotation, faults from 8 min on,
	// every sixth run fault-free.
	scs, err := GenerateScenarios(EvalOptions{Count: 24, Seed: 2, Duration: time.Hour, Realistic: true})
	require.NoError(t, err)
	kinds := map[FaultKind]int{}
	early := 0
	for i, sc := range scs {
		require.True(t, sc.Realistic, sc.Name)
		require.NoError(t, sc.Validate())
		if i%6 == 5 {
			assert.Empty(t, sc.Faults, sc.Name)
			kinds[FaultNone]++
			continue
		}
		require.Len(t, sc.Faults, 1, sc.Name)
		f := sc.Faults[0]
		kinds[f.Kind]++
		assert.Contains(t, rk, f.Kind)
		at := f.Start.Sub(sc.Start)
		assert.GreaterOrEqual(t, at, 8*time.Minute, sc.Name)
		assert.LessOrEqual(t, at, 30*time.Minute, sc.Name)
		if at < 15*time.Minute {
			early++
		}
		n, _ := sc.Topology.Node(f.RootCause())
		assert.Equal(t, KindService, n.Kind)
	}
	assert.Equal(t, 4, kinds[FaultNone])
	assert.Len(t, kinds, len(rk)+1, "%v", kinds)
	assert.Positive(t, early, "faults before a 15-minute warm-up")
	again, err := GenerateScenarios(EvalOptions{Count: 24, Seed: 2, Duration: time.Hour, Realistic: true})
	require.NoError(t, err)
	assert.Equal(t, scs, again)
	// Kinds still choose the rotation; the knobs reach every scenario.
	scs, err = GenerateScenarios(EvalOptions{Count: 3, Seed: 2, Realistic: true, Kinds: []FaultKind{FaultSlowQuery},
		Realism: Realism{StatusCodeFraction: 0.5}})
	require.NoError(t, err)
	for _, sc := range scs {
		assert.InDelta(t, 0.5, sc.Realism.StatusCodeFraction, 0)
		if len(sc.Faults) > 0 {
			assert.Equal(t, FaultSlowQuery, sc.Faults[0].Kind)
		}
	}
}

func TestRealisticDeterminism(t *testing.T) {
	o := Options{Seed: 7, Duration: 3 * time.Minute, Rate: 6, Realistic: true, Fault: FaultCallerLogChange, FaultAt: time.Minute,
		Realism: Realism{StatusCodeFraction: 0.2, BurstPeriod: time.Minute, BurstLength: 20 * time.Second}}
	a := digestRun(t, mustScenario(t, o), time.Second)
	b := digestRun(t, mustScenario(t, o), time.Second)
	assert.Equal(t, a, b)
	o.Seed = 8
	assert.NotEqual(t, a, digestRun(t, mustScenario(t, o), time.Second))
	o.Seed, o.Realistic = 7, false
	assert.NotEqual(t, a, digestRun(t, mustScenario(t, o), time.Second))
	// A scenario built by hand with Realistic and no knobs gets the defaults.
	hand := mustScenario(t, Options{Seed: 7, Duration: time.Minute, Rate: 5})
	hand.Realistic = true
	s, err := New(hand)
	require.NoError(t, err)
	assert.Equal(t, resolveRealism(Realism{}, hand.Topology, 7), s.Scenario().Realism)
}

// BenchmarkRealisticHour generates one hour of the default shop in realistic mode (default rate,
// a cpu_contention fault at 10 min): go test -run '^$' -bench RealisticHour -benchtime 3x ./internal/sim/
func BenchmarkRealisticHour(b *testing.B) {
	sc, err := NewScenario(Options{Seed: 1, Duration: time.Hour, Realistic: true, Fault: FaultCPUContention, FaultAt: 10 * time.Minute})
	require.NoError(b, err)
	var st Stats
	for b.Loop() {
		st, err = Run(sc, time.Second, func(Chunk) error { return nil })
		require.NoError(b, err)
	}
	b.ReportMetric(float64(st.Spans+st.Logs), "records/op")
	b.ReportMetric(float64(st.Spans+st.Logs)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

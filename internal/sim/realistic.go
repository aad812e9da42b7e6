// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Realism holds the knobs of the realistic mode (Options.Realistic). In Options a zero field
// takes its default (drawn from the seed where the default is a range); in a Scenario every
// field is resolved. Resolving draws every random default in a fixed order, so setting one knob
// does not change the others.
type Realism struct {
	// BurstPeriod is the period of the load pattern: one burst per period (at least 1 min).
	// Default: 3-6 min.
	BurstPeriod time.Duration
	// BurstPhase is the offset of the bursts from the start, modulo BurstPeriod: bursts run in
	// [Start+BurstPhase+k*BurstPeriod, +BurstLength) for every integer k. Default: from the
	// seed, within the period (BurstPeriod itself: a burst begins at the start).
	BurstPhase time.Duration
	// BurstLength is how long each burst lasts (1 s up to half the period). Default: 20-40 s.
	BurstLength time.Duration
	// BurstFactor multiplies the request rate during a burst (1..10). Default: 3-5.
	BurstFactor float64
	// SpikeEdges is how many healthy calls queue during the bursts (see Spiky). Default: 2-3;
	// negative: none.
	SpikeEdges int
	// SpikeFactor multiplies the latency of the Spiky calls made during a burst (1..100): the
	// callee waits (SpikeFactor-1) times the call's expected duration before handling it, up to
	// a quarter of the caller's timeout. Default: 10-30.
	SpikeFactor float64
	// Spiky are the calls that queue during the bursts: calls made while handling requests, to a
	// service (http, rpc) or a database. Default: SpikeEdges calls chosen from the seed among
	// those made at least 0.3 times per user request, preferring calls short enough that the
	// spike stays within a quarter of the caller's timeout.
	Spiky []EdgeRef
	// ErrorsPerMinute is the mean rate of the background ERROR lines of a service at the base
	// load; each service gets 0.5-1.5 times it (from the seed), times BurstFactor during the
	// bursts. Default: 2.5; negative: none.
	ErrorsPerMinute float64
	// WarnsPerMinute is the same for the background WARN lines. Default: 1; negative: none.
	WarnsPerMinute float64
	// StatusCodeFraction is the share of HTTP and RPC spans (both sides of a call) that carry an
	// http.response.status_code attribute (0..1). Default 0: no span says whether it failed.
	StatusCodeFraction float64
}

// EdgeRef names a call edge of a topology.
type EdgeRef struct {
	From, To string
}

func (e EdgeRef) String() string { return e.From + " -> " + e.To }

// Realistic-mode constants.
const (
	// realisticEarliestFault is the earliest fault start of GenerateScenarios in realistic
	// mode (in runs longer than 26 min; 30 % of the run in shorter ones).
	realisticEarliestFault = 8 * time.Minute
	// lossProbability is the share of the responses of a caller_log_change target that are lost.
	lossProbability = 0.5
	// defaultErrorsPerMinute and defaultWarnsPerMinute are the default background rates.
	defaultErrorsPerMinute = 2.5
	defaultWarnsPerMinute  = 1
	// spikeShare is the largest share of the caller's timeout that a queueing spike takes.
	spikeShare = 4
	// slowLogEvery is the least interval between two slow-request WARNs of a service.
	slowLogEvery = 5 * time.Second
)

// resolveRealism fills the zero knobs of r with their defaults from the seed. It is idempotent.
func resolveRealism(r Realism, t *Topology, seed uint64) Realism {
	rng := rand.New(rand.NewPCG(seed, 0x7ea1)) //nolint:gosec // G404: seeded, reproducible simulation
	// Every draw happens, used or not, so that each knob's default is independent of the others.
	period := time.Duration(180+rng.IntN(181)) * time.Second
	phase := rng.Float64()
	length := time.Duration(20+rng.IntN(21)) * time.Second
	factor := 3 + 2*rng.Float64()
	edges := 2 + rng.IntN(2)
	spike := 10 + 20*rng.Float64()
	if r.BurstPeriod == 0 {
		r.BurstPeriod = period
	}
	if r.BurstPhase == 0 {
		r.BurstPhase = time.Duration(phase * float64(r.BurstPeriod))
	}
	if r.BurstLength == 0 {
		r.BurstLength = min(length, r.BurstPeriod/2)
	}
	if r.BurstFactor == 0 {
		r.BurstFactor = factor
	}
	if r.SpikeFactor == 0 {
		r.SpikeFactor = spike
	}
	if r.ErrorsPerMinute == 0 {
		r.ErrorsPerMinute = defaultErrorsPerMinute
	}
	if r.WarnsPerMinute == 0 {
		r.WarnsPerMinute = defaultWarnsPerMinute
	}
	switch {
	case len(r.Spiky) > 0:
		r.SpikeEdges = len(r.Spiky)
	case r.SpikeEdges == 0:
		r.SpikeEdges = edges
		fallthrough
	case r.SpikeEdges > 0:
		r.Spiky = pickSpiky(t, r.SpikeEdges, r.SpikeFactor, rng)
	}
	return r
}

// pickSpiky chooses n calls that queue during the bursts.
func pickSpiky(t *Topology, n int, factor float64, rng *rand.Rand) []EdgeRef {
	visits := t.Visits()
	dur := expectedDurations(t)
	var cands, short []EdgeRef
	for _, e := range t.Edges {
		if e.Every > 0 || e.Protocol == ProtoMessaging || visits[e.From]*e.Probability*float64(max(e.Count, 1)) < minVisits {
			continue
		}
		ref := EdgeRef{From: e.From, To: e.To}
		if contains2(cands, ref) {
			continue
		}
		cands = append(cands, ref)
		if time.Duration(factor*float64(dur[e.To])) <= edgeTimeout(t, e)/spikeShare {
			short = append(short, ref)
		}
	}
	if len(short) >= n {
		cands = short
	}
	var out []EdgeRef
	for _, i := range rng.Perm(len(cands)) {
		if len(out) == n {
			break
		}
		out = append(out, cands[i])
	}
	return out
}

func contains2(s []EdgeRef, v EdgeRef) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// edgeTimeout is the caller's timeout of a call.
func edgeTimeout(t *Topology, e Edge) time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	if n, ok := t.Node(e.To); ok && n.Kind == KindDatabase {
		return defaultDBTO
	}
	return defaultSvcTO
}

// expectedDurations returns the mean duration of one call to each node when healthy: its own
// latency plus the calls it makes.
func expectedDurations(t *Topology) map[string]time.Duration {
	out := make(map[string]time.Duration, len(t.Nodes))
	ord, err := t.order()
	if err != nil {
		return out
	}
	for i := len(ord) - 1; i >= 0; i-- {
		n, _ := t.Node(ord[i])
		d := n.Latency
		if d == 0 {
			d = 5 * time.Millisecond
		}
		if n.Kind == KindQueue {
			d = 0
		}
		if n.Kind == KindService {
			for _, e := range t.Edges {
				if e.From != n.Name || e.Every > 0 {
					continue
				}
				c := out[e.To] + 1700*time.Microsecond // two network delays
				if e.Protocol == ProtoMessaging {
					c = 2 * time.Millisecond
				}
				d += time.Duration(e.Probability * float64(max(e.Count, 1)) * float64(c))
			}
		}
		out[n.Name] = d
	}
	return out
}

// validate checks resolved knobs against the topology.
func (r *Realism) validate(t *Topology) error {
	switch {
	case r.BurstPeriod < time.Minute || r.BurstPeriod > MaxDuration:
		return errors.New("realism: burst period must be in [1m, 24h]")
	case r.BurstLength < time.Second || r.BurstLength > r.BurstPeriod/2:
		return errors.New("realism: burst length must be in [1s, burst period / 2]")
	case !(r.BurstFactor >= 1 && r.BurstFactor <= 10):
		return errors.New("realism: burst factor must be in [1, 10]")
	case !(r.SpikeFactor >= 1 && r.SpikeFactor <= 100):
		return errors.New("realism: spike factor must be in [1, 100]")
	case r.ErrorsPerMinute > 600 || r.WarnsPerMinute > 600:
		return errors.New("realism: background rates must be at most 600 per minute")
	case !(r.StatusCodeFraction >= 0 && r.StatusCodeFraction <= 1):
		return errors.New("realism: status code fraction must be in [0, 1]")
	}
	for _, ref := range r.Spiky {
		ok := false
		for _, e := range t.Edges {
			if e.From == ref.From && e.To == ref.To && e.Every == 0 && e.Protocol != ProtoMessaging {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("realism: spiky call %s is not a call of the topology to a service or a database", ref)
		}
	}
	return nil
}

// LoadFactor returns the factor of the base request rate at t: Realism.BurstFactor during a
// burst of the realistic mode, 1 otherwise (always 1 in classic mode).
func (s *Scenario) LoadFactor(t time.Time) float64 {
	f, _ := s.load(t)
	return f
}

// load returns the load factor at t and the time it next changes (the far future in classic
// mode).
func (s *Scenario) load(t time.Time) (float64, time.Time) {
	r := &s.Realism
	if !s.Realistic || r.BurstPeriod <= 0 {
		return 1, t.Add(MaxDuration)
	}
	m := (t.Sub(s.Start) - r.BurstPhase) % r.BurstPeriod
	if m < 0 {
		m += r.BurstPeriod
	}
	if m < r.BurstLength {
		return r.BurstFactor, t.Add(r.BurstLength - m)
	}
	return 1, t.Add(r.BurstPeriod - m)
}

// ---- the simulator's realistic state ----

// realState is what a simulator of a realistic scenario keeps.
type realState struct {
	dur      map[string]time.Duration // expected duration of a call to each node
	spiky    map[EdgeRef]bool
	errNext  []time.Time // per node: next background ERROR line
	warnNext []time.Time // per node: next background WARN line
	errRate  []float64   // per node: ERROR lines per second at the base load
	warnRate []float64
	errMsgs  [][]bgMsg
	warnMsgs [][]bgMsg
	slowNext []time.Time // per node: earliest next slow-request WARN
}

// bgMsg renders one background line.
type bgMsg func(r *rand.Rand) string

// newRealState prepares the realistic mode's state. It draws from s.xr only.
func newRealState(s *Simulator) *realState {
	sc := &s.sc
	rs := &realState{dur: expectedDurations(sc.Topology), spiky: map[EdgeRef]bool{}, slowNext: make([]time.Time, len(s.nodes))}
	for _, e := range sc.Realism.Spiky {
		rs.spiky[e] = true
	}
	for _, ns := range s.nodes {
		er := sc.Realism.ErrorsPerMinute / 60 * (0.5 + s.xr.Float64())
		wr := sc.Realism.WarnsPerMinute / 60 * (0.5 + s.xr.Float64())
		var errs, warns []bgMsg
		if ns.node.Kind == KindService {
			errs, warns = serviceMessages(ns.node.Name, s.xr)
		}
		rs.errRate = append(rs.errRate, max(er, 0))
		rs.warnRate = append(rs.warnRate, max(wr, 0))
		rs.errMsgs = append(rs.errMsgs, errs)
		rs.warnMsgs = append(rs.warnMsgs, warns)
		rs.errNext = append(rs.errNext, s.nextBackground(sc.Start, er))
		rs.warnNext = append(rs.warnNext, s.nextBackground(sc.Start, wr))
	}
	return rs
}

// nextBackground returns the time of the next background line after t for a rate per second
// at the base load, scaled by the load at t (the far future for a rate of zero).
func (s *Simulator) nextBackground(t time.Time, rate float64) time.Time {
	if rate <= 0 {
		return s.end.Add(MaxDuration)
	}
	f, _ := s.sc.load(t)
	return t.Add(time.Duration(s.xr.ExpFloat64() / (rate * f) * float64(time.Second)))
}

// nextArrival returns the arrival time of the user request after one at t: a Poisson process
// of the base rate, times the load factor in realistic mode (exact across the factor's steps:
// the process is memoryless).
func (s *Simulator) nextArrival(t time.Time) time.Time {
	if s.real == nil {
		return t.Add(s.interArrival())
	}
	for {
		f, until := s.sc.load(t)
		next := t.Add(time.Duration(s.rng.ExpFloat64() / (s.sc.RequestRate * f) * float64(time.Second)))
		if next.Before(until) {
			return next
		}
		t = until
	}
}

// realTimers emits the realistic mode's background ERROR and WARN lines up to t.
func (s *Simulator) realTimers(t time.Time) {
	var zt [16]byte
	var zs [8]byte
	rs := s.real
	for i, ns := range s.nodes {
		if ns.node.Kind != KindService {
			continue
		}
		for rs.errNext[i].Before(t) {
			at := rs.errNext[i]
			rs.errNext[i] = s.nextBackground(at, rs.errRate[i])
			msg := rs.errMsgs[i][s.xr.IntN(len(rs.errMsgs[i]))](s.xr)
			if !s.downAt(ns.node.Name, at) {
				s.log(ns, at, sevError, zt, zs, "%s", msg)
			}
		}
		for rs.warnNext[i].Before(t) {
			at := rs.warnNext[i]
			rs.warnNext[i] = s.nextBackground(at, rs.warnRate[i])
			msg := rs.warnMsgs[i][s.xr.IntN(len(rs.warnMsgs[i]))](s.xr)
			if !s.downAt(ns.node.Name, at) {
				s.log(ns, at, sevWarn, zt, zs, "%s", msg)
			}
		}
	}
}

// slowLogAllowed rate-limits the slow-request WARN of a service in realistic mode to one per
// slowLogEvery of event time (a burst would otherwise log one per request); always true in
// classic mode.
func (s *Simulator) slowLogAllowed(ns *nodeState, at time.Time) bool {
	if s.real == nil {
		return true
	}
	if at.Before(s.real.slowNext[ns.idx]) {
		return false
	}
	s.real.slowNext[ns.idx] = at.Add(slowLogEvery)
	return true
}

// spikeWait is the queueing time of a call on e made at t: zero unless e is a spiky call of the
// realistic mode and t is in a burst.
func (s *Simulator) spikeWait(e Edge, t time.Time) time.Duration {
	if s.real == nil {
		return 0
	}
	f, _ := s.sc.load(t)
	if f <= 1 || !s.real.spiky[EdgeRef{From: e.From, To: e.To}] {
		return 0
	}
	x := s.sc.Realism.SpikeFactor * (0.7 + 0.6*s.xr.Float64())
	w := time.Duration((x - 1) * float64(s.real.dur[e.To]))
	return max(0, min(w, edgeTimeout(s.sc.Topology, e)/spikeShare))
}

// statusAttrs returns the attributes of a realistic-mode span: an http.response.status_code
// for a share (Realism.StatusCodeFraction) of the HTTP and RPC spans, nothing otherwise.
func (s *Simulator) statusAttrs(proto Protocol, r result) []kv {
	frac := s.sc.Realism.StatusCodeFraction
	if frac <= 0 || (proto != ProtoHTTP && proto != ProtoRPC) || s.xr.Float64() >= frac {
		return nil
	}
	code := 200
	if r.failed {
		code = r.code
	}
	return []kv{numi("http.response.status_code", code)}
}

// ---- the new faults ----

// faultParams draws the per-fault parameters of the fault kinds that have some (from s.xr).
func (s *Simulator) faultParams() {
	for _, f := range s.sc.Faults {
		p := 0.0
		switch f.Kind {
		case FaultEgressDelay:
			p = float64(100+s.xr.IntN(201)) * float64(time.Millisecond) // base delay per call
		case FaultCPUContention:
			p = 2 + 3*s.xr.Float64() // slow-down factor
		}
		s.ftParam = append(s.ftParam, p)
	}
}

// egressDelay is the network delay added to a call that name makes at t (egress_delay).
func (s *Simulator) egressDelay(name string, t time.Time) time.Duration {
	for i, f := range s.sc.Faults {
		if f.Kind == FaultEgressDelay && f.Service == name && f.Active(t) {
			return time.Duration(s.ftParam[i] * (0.8 + 0.4*s.xr.Float64()))
		}
	}
	return 0
}

// cpuFactor is the slow-down of name's own processing at t (cpu_contention), 1 when none.
func (s *Simulator) cpuFactor(name string, t time.Time) float64 {
	for i, f := range s.sc.Faults {
		if f.Kind == FaultCPUContention && f.Service == name && f.Active(t) {
			return s.ftParam[i] * (0.85 + 0.3*s.xr.Float64())
		}
	}
	return 1
}

// ---- background messages ----

// javaNames returns the package and class prefix of a service's code: com.example.fxrates and
// FxRates for fx-rates.
func javaNames(svc string) (pkg, cls string) {
	var p, c strings.Builder
	upper := true
	for _, r := range svc {
		switch {
		case r >= 'a' && r <= 'z':
			p.WriteRune(r)
			if upper {
				r -= 'a' - 'A'
			}
			c.WriteRune(r)
			upper = false
		case r >= '0' && r <= '9' || r >= 'A' && r <= 'Z':
			p.WriteRune(r)
			c.WriteRune(r)
			upper = false
		default:
			upper = true
		}
	}
	if p.Len() == 0 {
		return "com.example.app", "App"
	}
	return "com.example." + strings.ToLower(p.String()), c.String()
}

// exception is a Java exception class and its message.
type exception struct {
	class string
	msg   func(pkg, cls string, r *rand.Rand) string
}

var exceptions = []exception{
	{"java.lang.NullPointerException", func(pkg, cls string, _ *rand.Rand) string {
		return fmt.Sprintf(`Cannot invoke "%s.model.%s.getId()" because "entity" is null`, pkg, cls)
	}},
	{"java.lang.IllegalStateException", func(_, cls string, r *rand.Rand) string {
		return fmt.Sprintf("%s %d is in state %s, expected ACTIVE", cls, 10000+r.IntN(90000), []string{"PENDING", "CLOSED", "LOCKED"}[r.IntN(3)])
	}},
	{"java.lang.IllegalArgumentException", func(_, _ string, r *rand.Rand) string {
		return fmt.Sprintf("Invalid page size: %d (must be between 1 and 100)", 100+r.IntN(900))
	}},
	{"java.lang.NumberFormatException", func(_, _ string, r *rand.Rand) string {
		return fmt.Sprintf(`For input string: "%dx%d"`, r.IntN(100), r.IntN(10))
	}},
	{"java.util.ConcurrentModificationException", func(string, string, *rand.Rand) string { return "null" }},
	{"java.net.SocketTimeoutException", func(string, string, *rand.Rand) string { return "Read timed out" }},
	{"java.io.IOException", func(string, string, *rand.Rand) string { return "Broken pipe" }},
	{"com.fasterxml.jackson.core.JsonParseException", func(string, string, *rand.Rand) string {
		return `Unexpected character ('<' (code 60)): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')`
	}},
	{"java.util.NoSuchElementException", func(string, string, *rand.Rand) string { return "No value present" }},
	{"java.lang.ArrayIndexOutOfBoundsException", func(_, _ string, r *rand.Rand) string {
		n := 1 + r.IntN(8)
		return fmt.Sprintf("Index %d out of bounds for length %d", n, n)
	}},
	{"java.lang.ClassCastException", func(string, string, *rand.Rand) string {
		return "class java.lang.String cannot be cast to class java.lang.Long (java.lang.String and java.lang.Long are in module java.base of loader 'bootstrap')"
	}},
	{"org.springframework.dao.DataIntegrityViolationException", func(_, cls string, _ *rand.Rand) string {
		return fmt.Sprintf("could not execute statement; SQL [n/a]; constraint [uk_%s_code]", strings.ToLower(cls))
	}},
	{"java.util.concurrent.TimeoutException", func(_, cls string, r *rand.Rand) string {
		return fmt.Sprintf("Waited %d milliseconds for %sResponse", 1000*(1+r.IntN(5)), cls)
	}},
}

var (
	traceHeaders = []string{
		"Servlet.service() for servlet [dispatcherServlet] threw exception",
		"Unexpected error occurred in scheduled task",
		"Unhandled exception in request pipeline",
		"Error processing request",
	}
	appMethods   = []string{"process", "handle", "validate", "findById", "update", "convert", "apply", "execute", "load", "save"}
	appLayers    = []string{"service.%sServiceImpl", "controller.%sController", "repository.%sRepository", "mapper.%sMapper", "client.%sClient", "util.%sUtils"}
	springFrames = []string{
		"\tat org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:205)",
		"\tat org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1072)",
		"\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)",
		"\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:750)",
		"\tat java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1149)",
		"\tat java.lang.Thread.run(Thread.java:748)",
	}
)

// stackTrace returns a multi-line error of a service: a header, the exception and its frames
// (fixed line numbers: one code site), like a Java logger's output in one record.
func stackTrace(pkg, cls string, ex exception, r *rand.Rand) bgMsg {
	header := traceHeaders[r.IntN(len(traceHeaders))]
	var frames strings.Builder
	for i, n := 0, 2+r.IntN(3); i < n; i++ {
		c := fmt.Sprintf(appLayers[r.IntN(len(appLayers))], cls)
		short := c[strings.LastIndexByte(c, '.')+1:]
		fmt.Fprintf(&frames, "\n\tat %s.%s.%s(%s.java:%d)", pkg, c, appMethods[r.IntN(len(appMethods))], short, 20+r.IntN(400))
	}
	for _, f := range springFrames[r.IntN(3):] {
		frames.WriteString("\n" + f)
	}
	more := 20 + r.IntN(60)
	fr := frames.String()
	return func(r *rand.Rand) string {
		return fmt.Sprintf("%s\n%s: %s%s\n\t... %d more", header, ex.class, ex.msg(pkg, cls, r), fr, more)
	}
}

// serviceMessages returns a service's background ERROR messages (two Java stack traces with
// exception classes chosen for the service, and three one-line errors) and WARN messages.
func serviceMessages(svc string, r *rand.Rand) (errs, warns []bgMsg) {
	pkg, cls := javaNames(svc)
	ex := r.Perm(len(exceptions))
	errs = append(errs, stackTrace(pkg, cls, exceptions[ex[0]], r), stackTrace(pkg, cls, exceptions[ex[1]], r))
	field := []string{"customerId", "itemCode", "region", "currency", "quantity", "email"}[r.IntN(6)]
	plain := []bgMsg{
		func(r *rand.Rand) string {
			return fmt.Sprintf("Failed to refresh cache entry %s:%d, keeping the stale value", strings.ToLower(cls), r.IntN(5000))
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf("Error sending heartbeat to service registry at 10.0.9.%d:8761: Connection reset by peer", 2+r.IntN(3))
		},
		func(*rand.Rand) string {
			return fmt.Sprintf("Validation failed for argument [0] in public %s.controller.%sController.create: field '%s' must not be null", pkg, cls, field)
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf("Could not acquire lock %s-job-lock within 500ms, skipping run %d", strings.ToLower(cls), r.IntN(100000))
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf("Token verification failed: JWT expired at %d, %d seconds ago", 1767225600+r.IntN(86400), 1+r.IntN(600))
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf("Failed to send %d telemetry points: exporter queue is full", 100*(1+r.IntN(20)))
		},
	}
	for _, i := range r.Perm(len(plain))[:3] {
		errs = append(errs, plain[i])
	}
	warnPool := []bgMsg{
		func(r *rand.Rand) string {
			return fmt.Sprintf("Retrying request to config server (attempt %d of 3)", 1+r.IntN(2))
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf("HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta=%ds%dms).", 30+r.IntN(60), r.IntN(1000))
		},
		func(*rand.Rand) string {
			return fmt.Sprintf("Parameter '%s' is deprecated and will be removed in the next release", field)
		},
		func(r *rand.Rand) string { return fmt.Sprintf("Request queue at %d%% of capacity", 70+r.IntN(25)) },
		func(r *rand.Rand) string {
			return fmt.Sprintf("Circuit breaker '%s-client' is HALF_OPEN, permitting %d calls", strings.ToLower(cls), 5+r.IntN(6))
		},
	}
	for _, i := range r.Perm(len(warnPool))[:2] {
		warns = append(warns, warnPool[i])
	}
	return errs, warns
}

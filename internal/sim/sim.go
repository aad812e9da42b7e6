// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"container/heap"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ScopeName is the instrumentation scope of the generated logs and spans.
const ScopeName = "github.com/otelcol-aiops/otelcol-aiops/internal/sim"

// Limits of a simulator.
const (
	// MaxPending bounds the events generated but not yet emitted (spans end and lines are
	// logged in the future of a request's arrival); events beyond it are dropped and counted.
	MaxPending = 1 << 20
	// MaxStep is the longest chunk of event time one Next call produces.
	MaxStep = time.Hour
)

// Chunk is the telemetry whose event time (log timestamp, span end) is in [Start, End).
type Chunk struct {
	Start, End time.Time
	Logs       plog.Logs
	Traces     ptrace.Traces
}

// Stats counts what a simulator produced.
type Stats struct {
	Requests int64 // user requests at the entry
	Spans    int64
	Logs     int64
	Dropped  int64 // events dropped because MaxPending was reached
}

// Simulator produces a scenario's telemetry in event-time order, chunk by chunk. It is
// deterministic: the same scenario (including its seed) gives the same chunks for the same steps.
// Not safe for concurrent use.
type Simulator struct {
	sc        Scenario
	rng       *rand.Rand
	xr        *rand.Rand // draws of the realistic mode and of the faults made for it, apart from rng
	real      *realState // nil in classic mode
	ftParam   []float64  // per fault: its parameter (egress delay, CPU slow-down), see faultParams
	nodes     []*nodeState
	byName    map[string]*nodeState
	now       time.Time
	end       time.Time
	arrival   time.Time
	bgNext    []time.Time // per node: next background line
	ftNext    []time.Time // per fault: next fault-specific periodic line
	ftStart   []bool      // per fault: start lines emitted
	ftEnd     []bool      // per fault: end lines emitted
	ftCrashes []int       // per fault: OOM kills emitted
	jobs      []job       // scheduled calls (Edge.Every), in topology order
	pending   evHeap
	seq       uint64
	stats     Stats
}

type nodeState struct {
	idx     int
	node    Node
	callees []Edge // calls made while handling a request (scheduled calls are jobs)
	addr    string
	version string
	// names derived from the node's name, computed once
	rpcSvc, rpcMeth, httpMeth, route string
	rpcSpan, httpSpan, urlFull       string
}

// job is a scheduled call and the time of its next run.
type job struct {
	from *nodeState
	edge Edge
	next time.Time
}

// New returns a simulator positioned at the scenario's start.
func New(sc Scenario) (*Simulator, error) {
	if sc.Realistic && sc.Topology != nil {
		sc.Realism = resolveRealism(sc.Realism, sc.Topology, sc.Seed)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	s := &Simulator{
		sc:     sc,
		rng:    rand.New(rand.NewPCG(sc.Seed, 0x5133)), //nolint:gosec // G404: seeded, reproducible simulation
		xr:     rand.New(rand.NewPCG(sc.Seed, 0x4ea1)), //nolint:gosec // G404: seeded, reproducible simulation
		byName: make(map[string]*nodeState, len(sc.Topology.Nodes)),
		now:    sc.Start,
		end:    sc.End(),
	}
	for i, n := range sc.Topology.Nodes {
		if n.Latency == 0 {
			n.Latency = 5 * time.Millisecond
		}
		var callees []Edge
		for _, e := range sc.Topology.Callees(n.Name) {
			if e.Every == 0 {
				callees = append(callees, e)
			}
		}
		ns := &nodeState{
			idx: i, node: n, callees: callees,
			addr:    fmt.Sprintf("10.0.%d.%d", i/200, 10+i%200),
			version: fmt.Sprintf("1.%d.%d", 2+i%5, i%7),
			rpcSvc:  rpcService(n.Name), rpcMeth: rpcMethod(n.Name), httpMeth: httpMethod(n.Name), route: httpRoute(n.Name),
		}
		ns.rpcSpan = ns.rpcSvc + "/" + ns.rpcMeth
		ns.httpSpan = ns.httpMeth + " " + ns.route
		ns.urlFull = fmt.Sprintf("http://%s:%d%s", n.Name, port(ProtoHTTP), ns.route)
		s.nodes = append(s.nodes, ns)
		s.byName[n.Name] = ns
		s.bgNext = append(s.bgNext, sc.Start.Add(time.Duration(s.rng.Int64N(int64(10*time.Second)))))
	}
	for _, e := range sc.Topology.Edges {
		if e.Every > 0 {
			first := sc.Start.Add(time.Duration(s.rng.Float64() * float64(e.Every)))
			s.jobs = append(s.jobs, job{from: s.byName[e.From], edge: e, next: first})
		}
	}
	for _, f := range sc.Faults {
		s.ftNext = append(s.ftNext, f.Start.Add(time.Second))
		s.ftStart = append(s.ftStart, false)
		s.ftEnd = append(s.ftEnd, false)
		s.ftCrashes = append(s.ftCrashes, 0)
	}
	s.faultParams()
	if sc.Realistic {
		s.real = newRealState(s)
	}
	s.arrival = s.nextArrival(sc.Start)
	return s, nil
}

// Scenario returns the simulated scenario.
func (s *Simulator) Scenario() Scenario { return s.sc }

// Now returns the event time up to which telemetry has been produced.
func (s *Simulator) Now() time.Time { return s.now }

// Stats returns the counts so far.
func (s *Simulator) Stats() Stats { return s.stats }

// Done reports whether every event of the scenario has been produced.
func (s *Simulator) Done() bool { return !s.now.Before(s.end) && len(s.pending) == 0 }

// Next produces the telemetry of the next step of event time. It returns false once the
// scenario is over (arrivals stop at its end; calls in flight then complete) and the chunk is
// the last one.
func (s *Simulator) Next(step time.Duration) (Chunk, bool) {
	step = min(max(step, time.Millisecond), MaxStep)
	from, to := s.now, s.now.Add(step)
	genTo := to
	if genTo.After(s.end) {
		genTo = s.end
	}
	for s.arrival.Before(genTo) {
		s.request(s.arrival)
		s.arrival = s.nextArrival(s.arrival)
	}
	for i := range s.jobs {
		j := &s.jobs[i]
		for j.next.Before(genTo) {
			s.runJob(j, j.next)
			j.next = j.next.Add(time.Duration((0.8 + 0.4*s.rng.Float64()) * float64(j.edge.Every)))
		}
	}
	s.timers(genTo)
	ch := Chunk{Start: from, End: to, Logs: plog.NewLogs(), Traces: ptrace.NewTraces()}
	b := newBuilder(s, ch)
	for len(s.pending) > 0 && s.pending[0].at.Before(to) {
		ev := heap.Pop(&s.pending).(*event)
		b.add(ev)
	}
	s.now = to
	return ch, !s.Done()
}

// Run produces the whole scenario in chunks of step and passes each to fn, stopping at fn's
// first error.
func Run(sc Scenario, step time.Duration, fn func(Chunk) error) (Stats, error) {
	s, err := New(sc)
	if err != nil {
		return Stats{}, err
	}
	for {
		ch, more := s.Next(step)
		if err := fn(ch); err != nil {
			return s.stats, err
		}
		if !more {
			return s.stats, nil
		}
	}
}

func (s *Simulator) interArrival() time.Duration {
	return time.Duration(s.rng.ExpFloat64() / s.sc.RequestRate * float64(time.Second))
}

// ---- events ----

type kv struct {
	k     string
	s     string
	i     int64
	isInt bool
}

func str(k, v string) kv        { return kv{k: k, s: v} }
func num(k string, v int64) kv  { return kv{k: k, i: v, isInt: true} }
func numi(k string, v int) kv   { return num(k, int64(v)) }
func msDur(d time.Duration) int { return int(d / time.Millisecond) }

type event struct {
	at      time.Time
	atN     int64 // at in Unix nanoseconds: the heap's key
	seq     uint64
	node    int
	version string
	inst    int
	// a log line
	isSpan bool
	sev    plog.SeverityNumber
	body   string
	// trace context of a log, or the ids of a span
	tid    [16]byte
	sid    [8]byte
	parent [8]byte
	// a span
	name   string
	kind   ptrace.SpanKind
	start  time.Time
	errMsg string // status ERROR with this message when not empty
	attrs  []kv
}

type evHeap []*event

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if h[i].atN != h[j].atN {
		return h[i].atN < h[j].atN
	}
	return h[i].seq < h[j].seq
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *evHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ev
}

func (s *Simulator) push(ev *event) {
	if len(s.pending) >= MaxPending {
		s.stats.Dropped++
		return
	}
	s.seq++
	ev.seq = s.seq
	ev.atN = ev.at.UnixNano()
	ns := s.nodes[ev.node]
	ev.version = s.versionAt(ns, ev.at)
	ev.inst = s.restartsAt(ns.node.Name, ev.at)
	if ev.isSpan {
		s.stats.Spans++
	} else {
		s.stats.Logs++
	}
	heap.Push(&s.pending, ev)
}

func (s *Simulator) log(ns *nodeState, at time.Time, sev plog.SeverityNumber, tid [16]byte, sid [8]byte, format string, args ...any) {
	if ns.node.Kind != KindService {
		return // databases and queues have no logs
	}
	s.push(&event{at: at, node: ns.idx, sev: sev, body: fmt.Sprintf(format, args...), tid: tid, sid: sid})
}

func (s *Simulator) traceID() (id [16]byte) {
	for i := range 2 {
		v := s.rng.Uint64()
		for j := range 8 {
			id[i*8+j] = byte(v >> (8 * j))
		}
	}
	return id
}

func (s *Simulator) spanID() (id [8]byte) {
	v := s.rng.Uint64() | 1
	for j := range 8 {
		id[j] = byte(v >> (8 * j))
	}
	return id
}

// lat samples a log-normal duration with the given mean.
func (s *Simulator) lat(mean time.Duration) time.Duration {
	const sigma = 0.45
	f := math.Exp(sigma*s.rng.NormFloat64() - sigma*sigma/2)
	return time.Duration(float64(mean) * min(f, 20))
}

func (s *Simulator) netDelay() time.Duration {
	return time.Duration(200+s.rng.IntN(1300)) * time.Microsecond
}

func reqID(tid [16]byte) string { return hex.EncodeToString(tid[:8]) }

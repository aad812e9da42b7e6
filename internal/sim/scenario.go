// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// FaultKind is the kind of an injected fault.
type FaultKind string

const (
	// FaultNone is a fault-free run.
	FaultNone FaultKind = "none"
	// FaultDBPoolExhaustion: the callers of a database cannot get a connection: their queries
	// fail after waiting for the pool, with error logs in the callers. Root cause: the database.
	FaultDBPoolExhaustion FaultKind = "db_pool_exhaustion"
	// FaultSlowQuery: slow queries / CPU saturation of a database: latency of the calls into it
	// rises, some exceed the callers' timeouts. Root cause: the database.
	FaultSlowQuery FaultKind = "slow_query"
	// FaultDependencyTimeout: a service hangs; its callers time out, and the failure cascades
	// upstream. Root cause: the hanging service.
	FaultDependencyTimeout FaultKind = "dependency_timeout"
	// FaultBadDeploy: a new version of a service fails part of its requests with a new error
	// template. Root cause: the deployed service.
	FaultBadDeploy FaultKind = "bad_deploy"
	// FaultMemoryPressure: a service's memory grows (GC warnings, latency), it is OOM-killed and
	// restarts, repeatedly; its callers get errors while it is down. Root cause: that service.
	FaultMemoryPressure FaultKind = "memory_pressure"
	// FaultNetworkPartition: the calls from Peer to Service are refused. Root cause: Service
	// (the unreachable callee); the symptoms are in Peer and upstream of it.
	FaultNetworkPartition FaultKind = "network_partition"
	// FaultLowTrafficSlow: a service called about once a minute by a scheduled job (the
	// low-traffic service, see WithLowTrafficService), normally answering in 2-3 ms, takes about
	// 10 s per request. Root cause: that service. Its caller's job only gets slower (its timeout
	// is 30 s), nothing fails: the change shows only as the latency of a handful of calls.
	FaultLowTrafficSlow FaultKind = "low_traffic_slow"
	// FaultLowTrafficErrors: the low-traffic service fails every request (HTTP 500) within
	// milliseconds. Root cause: that service.
	FaultLowTrafficErrors FaultKind = "low_traffic_errors"
	// FaultEgressDelay: the network delays every call the service makes (its outgoing traffic):
	// its CLIENT-side spans take 100-300 ms longer, its own processing and its callees do not
	// change; it gets slower as a whole and its callers wait. Root cause: that service.
	FaultEgressDelay FaultKind = "egress_delay"
	// FaultCPUContention: the service's CPU is contended: its own processing time (the self time
	// of every one of its spans) grows by a factor of 2-5; its callers wait. Root cause: that
	// service.
	FaultCPUContention FaultKind = "cpu_contention"
	// FaultCallerLogChange: half of the service's responses are lost on the way back: the
	// service handles and logs every request as usual, while its callers time out waiting (a
	// WARN and a retry, an ERROR when the retry is lost too). Only the callers' logs change.
	// Root cause: that service.
	FaultCallerLogChange FaultKind = "caller_log_change"
)

// FaultKinds returns the fault kinds that any topology can host (every kind except FaultNone
// and the low-traffic kinds): the rotation of GenerateScenarios and of aiops-sim -scenario random.
func FaultKinds() []FaultKind {
	return []FaultKind{
		FaultDBPoolExhaustion, FaultSlowQuery, FaultDependencyTimeout,
		FaultBadDeploy, FaultMemoryPressure, FaultNetworkPartition,
	}
}

// LowTrafficFaultKinds returns the fault kinds of the low-traffic service. Scenarios of these
// kinds add the service to their topology (Options.LowTraffic).
func LowTrafficFaultKinds() []FaultKind {
	return []FaultKind{FaultLowTrafficSlow, FaultLowTrafficErrors}
}

// RealisticFaultKinds returns the fault kinds of the realistic mode's rotation
// (GenerateScenarios with EvalOptions.Realistic): the kinds whose root cause is a service, the
// three kinds made for that mode included. The database kinds also work in that mode but are not
// in the rotation: without peer attributes a database appears in no span.
func RealisticFaultKinds() []FaultKind {
	return []FaultKind{
		FaultEgressDelay, FaultCPUContention, FaultCallerLogChange,
		FaultDependencyTimeout, FaultBadDeploy, FaultMemoryPressure, FaultNetworkPartition,
	}
}

// LowTraffic reports whether k is a fault of the low-traffic service.
func (k FaultKind) LowTraffic() bool { return k == FaultLowTrafficSlow || k == FaultLowTrafficErrors }

// ParseFaultKind accepts a fault kind name.
func ParseFaultKind(s string) (FaultKind, error) {
	if s == string(FaultNone) || s == "" {
		return FaultNone, nil
	}
	for _, k := range allFaultKinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown fault kind %q", s)
}

// allFaultKinds returns every fault kind except FaultNone.
func allFaultKinds() []FaultKind {
	out := append(FaultKinds(), LowTrafficFaultKinds()...)
	return append(out, FaultEgressDelay, FaultCPUContention, FaultCallerLogChange)
}

// Fault is one injected fault: the ground truth of a scenario.
type Fault struct {
	Kind FaultKind
	// Service is the root cause node: a database for the database faults, a service otherwise.
	Service string
	// Peer is the calling side of a network partition (empty for other kinds).
	Peer       string
	Start, End time.Time
}

// RootCause returns the name of the root cause node.
func (f Fault) RootCause() string { return f.Service }

// Active reports whether the fault is in effect at t.
func (f Fault) Active(t time.Time) bool { return !t.Before(f.Start) && t.Before(f.End) }

// Scenario is one simulated run: a topology, a traffic rate, an event-time span and the
// injected faults (the ground truth).
type Scenario struct {
	Name        string
	Seed        uint64
	Topology    *Topology
	Start       time.Time
	Duration    time.Duration
	RequestRate float64 // user requests per second of event time at the entry (Poisson)
	Faults      []Fault
	// Realistic selects the realistic mode (Options.Realistic) with the knobs of Realism, all
	// resolved (no zero left to default). Classic mode when false; Realism is then unused.
	Realistic bool
	Realism   Realism
}

// Limits of a scenario.
const (
	MaxRequestRate = 5000
	MaxDuration    = 24 * time.Hour
)

// Validate checks the scenario.
func (s *Scenario) Validate() error {
	if err := s.Topology.Validate(); err != nil {
		return err
	}
	if s.Duration <= 0 || s.Duration > MaxDuration {
		return fmt.Errorf("duration must be in (0, %s]", MaxDuration)
	}
	if !(s.RequestRate > 0 && s.RequestRate <= MaxRequestRate) {
		return fmt.Errorf("request rate must be in (0, %d]", MaxRequestRate)
	}
	if s.Realistic {
		if err := s.Realism.validate(s.Topology); err != nil {
			return err
		}
	}
	for _, f := range s.Faults {
		n, ok := s.Topology.Node(f.Service)
		if !ok {
			return fmt.Errorf("fault %s: unknown node %q", f.Kind, f.Service)
		}
		if !f.End.After(f.Start) {
			return fmt.Errorf("fault %s: end must be after start", f.Kind)
		}
		wantDB := f.Kind == FaultDBPoolExhaustion || f.Kind == FaultSlowQuery
		switch {
		case f.Kind == FaultNone:
			return errors.New("a fault of kind none")
		case wantDB && n.Kind != KindDatabase:
			return fmt.Errorf("fault %s needs a database, %q is a %s", f.Kind, f.Service, n.Kind)
		case !wantDB && n.Kind != KindService:
			return fmt.Errorf("fault %s needs a service, %q is a %s", f.Kind, f.Service, n.Kind)
		case f.Kind == FaultNetworkPartition && !s.hasSyncEdge(f.Peer, f.Service):
			return fmt.Errorf("fault %s: no call %s -> %s", f.Kind, f.Peer, f.Service)
		case f.Kind.LowTraffic() && len(s.Topology.scheduledCallers(f.Service)) == 0:
			return fmt.Errorf("fault %s needs a service called by a scheduled job, %q is not", f.Kind, f.Service)
		case f.Kind == FaultEgressDelay && !hasOutgoingCall(s.Topology, f.Service):
			return fmt.Errorf("fault %s needs a service that calls something, %q calls nothing", f.Kind, f.Service)
		case f.Kind == FaultCallerLogChange && len(syncCallers(s.Topology, f.Service)) == 0:
			return fmt.Errorf("fault %s needs a service with an http or rpc caller, %q has none", f.Kind, f.Service)
		}
	}
	return nil
}

func (s *Scenario) hasSyncEdge(from, to string) bool {
	for _, e := range s.Topology.Edges {
		if e.From == from && e.To == to && (e.Protocol == ProtoHTTP || e.Protocol == ProtoRPC) {
			return true
		}
	}
	return false
}

// End is the event time at which arrivals stop.
func (s *Scenario) End() time.Time { return s.Start.Add(s.Duration) }

// Symptomatic returns the services expected to show symptoms of f (logs or error spans), nearest
// to the root cause first: the failing service and its synchronous callers, transitively.
// A database has no logs, so for the database faults it starts with the database's callers.
func (s *Scenario) Symptomatic(f Fault) []string {
	var first []string
	switch f.Kind {
	case FaultLowTrafficSlow, FaultLowTrafficErrors:
		// The service and the jobs calling it; no request waits for a job.
		return append([]string{f.Service}, s.Topology.scheduledCallers(f.Service)...)
	case FaultDBPoolExhaustion, FaultSlowQuery:
		first = s.Topology.Callers(f.Service)
	case FaultNetworkPartition:
		first = []string{f.Peer}
	case FaultCallerLogChange:
		// The service logs nothing new: the symptoms start in its callers.
		first = syncCallers(s.Topology, f.Service)
	case FaultDependencyTimeout:
		first = s.Topology.Callers(f.Service)
		first = append([]string{f.Service}, first...)
	default:
		first = []string{f.Service}
	}
	out := append([]string(nil), first...)
	for _, n := range first {
		for _, u := range s.Topology.Upstream(n) {
			if !contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// Options describe one scenario for NewScenario.
type Options struct {
	Topology      *Topology // nil: DefaultShop
	Seed          uint64
	Start         time.Time     // zero: 2026-01-01T00:00:00Z
	Duration      time.Duration // zero: 10 minutes
	Rate          float64       // requests/s at the entry; zero: 20
	Fault         FaultKind     // "" or FaultNone: fault-free
	FaultAt       time.Duration // offset of the fault start; zero: Duration/3
	FaultDuration time.Duration // zero: until the end
	Target        string        // root cause node; empty: chosen from the seed
	Peer          string        // partition caller; empty: chosen from the seed
	// LowTraffic adds the low-traffic service (WithLowTrafficService) to the topology, called by
	// LowTrafficCaller (empty: a service chosen from the seed). Implied by the low-traffic fault
	// kinds; a topology that already has the service is kept as it is.
	LowTraffic       bool
	LowTrafficCaller string
	// Realistic makes the run look like a real system rather than a clean demo: bursty periodic
	// load with queueing on a few calls during the bursts, background ERROR (with Java stack
	// traces) and WARN lines in every service, spans without kind, status or peer attributes.
	// See Realism for the knobs and docs/simulator.md.
	Realistic bool
	// Realism sets the knobs of the realistic mode; its zero fields take their defaults (drawn
	// from Seed where a range is given). Ignored unless Realistic.
	Realism Realism
}

// DefaultStart is the event time a scenario starts at when Options.Start is zero.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewScenario builds a scenario, choosing the fault target from the seed when it is not given.
func NewScenario(o Options) (Scenario, error) {
	if o.Topology == nil {
		o.Topology = DefaultShop()
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Minute
	}
	if o.Rate == 0 {
		o.Rate = 20
	}
	if o.FaultAt == 0 {
		o.FaultAt = o.Duration / 3
	}
	if o.Fault == "" {
		o.Fault = FaultNone
	}
	if o.LowTraffic || o.Fault.LowTraffic() {
		if _, ok := o.Topology.Node(LowTrafficService); !ok {
			caller := o.LowTrafficCaller
			if caller == "" {
				svcs := o.Topology.Services()
				if len(svcs) == 0 {
					return Scenario{}, errors.New("low-traffic service: the topology has no service to call it")
				}
				caller = svcs[rand.New(rand.NewPCG(o.Seed, 0x10f7)).IntN(len(svcs))] //nolint:gosec // G404: seeded, reproducible simulation
			}
			t, err := WithLowTrafficService(o.Topology, caller)
			if err != nil {
				return Scenario{}, err
			}
			o.Topology = t
		}
	}
	sc := Scenario{
		Name: string(o.Fault), Seed: o.Seed, Topology: o.Topology, Start: o.Start,
		Duration: o.Duration, RequestRate: o.Rate,
	}
	if err := o.Topology.Validate(); err != nil {
		return sc, err
	}
	if o.Realistic {
		sc.Realistic = true
		sc.Realism = resolveRealism(o.Realism, o.Topology, o.Seed)
	}
	if o.Fault != FaultNone {
		if o.FaultAt < 0 || o.FaultAt >= o.Duration {
			return sc, errors.New("fault start must be within the duration")
		}
		end := o.Start.Add(o.Duration)
		if o.FaultDuration > 0 && o.FaultAt+o.FaultDuration < o.Duration {
			end = o.Start.Add(o.FaultAt + o.FaultDuration)
		}
		f := Fault{Kind: o.Fault, Service: o.Target, Peer: o.Peer, Start: o.Start.Add(o.FaultAt), End: end}
		if f.Service == "" || (f.Kind == FaultNetworkPartition && f.Peer == "") {
			if err := pickTarget(&f, o.Topology, rand.New(rand.NewPCG(o.Seed, 0xfa17))); err != nil { //nolint:gosec // G404: seeded, reproducible simulation
				return sc, err
			}
		}
		sc.Faults = []Fault{f}
		sc.Name = fmt.Sprintf("%s@%s", o.Fault, f.Service)
	}
	return sc, sc.Validate()
}

// minVisits is the least expected traffic share (calls per user request) of a fault target,
// so that its symptoms are visible.
const minVisits = 0.3

// pickTarget chooses the root cause (and the partition's caller) for f among nodes with traffic.
func pickTarget(f *Fault, t *Topology, rng *rand.Rand) error {
	visits := t.Visits()
	var cands []string
	var peers []string
	for _, n := range t.Nodes {
		if f.Kind.LowTraffic() {
			if n.Kind == KindService && len(t.scheduledCallers(n.Name)) > 0 {
				cands = append(cands, n.Name) // called by a job: no traffic from user requests
			}
			continue
		}
		if visits[n.Name] < minVisits {
			continue
		}
		switch f.Kind {
		case FaultDBPoolExhaustion, FaultSlowQuery:
			if n.Kind == KindDatabase {
				cands = append(cands, n.Name)
			}
		case FaultDependencyTimeout, FaultCallerLogChange:
			if n.Kind == KindService && n.Name != t.Entry && hasSyncCaller(t, n.Name) {
				cands = append(cands, n.Name)
			}
		case FaultEgressDelay:
			if n.Kind == KindService && hasOutgoingCall(t, n.Name) {
				cands = append(cands, n.Name)
			}
		case FaultNetworkPartition:
			for _, e := range t.Edges {
				if e.To == n.Name && (e.Protocol == ProtoHTTP || e.Protocol == ProtoRPC) && visits[e.From]*e.Probability >= minVisits {
					cands = append(cands, n.Name)
					peers = append(peers, e.From)
				}
			}
		default:
			if n.Kind == KindService {
				cands = append(cands, n.Name)
			}
		}
	}
	if f.Service != "" { // partition with a given callee: keep its callers only
		var c2, p2 []string
		for i, c := range cands {
			if c == f.Service {
				c2, p2 = append(c2, c), append(p2, peers[min(i, len(peers)-1)])
			}
		}
		cands, peers = c2, p2
	}
	if len(cands) == 0 {
		return fmt.Errorf("no node of the topology can host fault %s", f.Kind)
	}
	i := rng.IntN(len(cands))
	f.Service = cands[i]
	if f.Kind == FaultNetworkPartition && f.Peer == "" {
		f.Peer = peers[i]
	}
	return nil
}

// hasOutgoingCall reports whether the service makes calls while handling requests.
func hasOutgoingCall(t *Topology, name string) bool {
	for _, e := range t.Edges {
		if e.From == name && e.Every == 0 {
			return true
		}
	}
	return false
}

// syncCallers returns the services calling name over http or rpc (scheduled jobs included), in
// edge order.
func syncCallers(t *Topology, name string) []string {
	var out []string
	for _, e := range t.Edges {
		if e.To == name && (e.Protocol == ProtoHTTP || e.Protocol == ProtoRPC) && !contains(out, e.From) {
			out = append(out, e.From)
		}
	}
	return out
}

func hasSyncCaller(t *Topology, name string) bool {
	for _, e := range t.Edges {
		if e.To == name && (e.Protocol == ProtoHTTP || e.Protocol == ProtoRPC) {
			return true
		}
	}
	return false
}

// EvalOptions describe a set of evaluation scenarios for GenerateScenarios.
type EvalOptions struct {
	Count       int           // number of scenarios (at most 10000)
	Seed        uint64        // seed of the whole set
	MinServices int           // random topology size range; zero: 6..14
	MaxServices int           //
	Duration    time.Duration // zero: 5 minutes
	Rate        float64       // zero: 20 requests/s
	// FaultFreeEvery makes every n-th scenario fault-free (0: 6, negative: none).
	FaultFreeEvery int
	// DefaultShopEvery uses the default shop for every n-th scenario (0: 5, negative: never).
	DefaultShopEvery int
	// Kinds are the fault kinds in rotation (nil: FaultKinds()).
	Kinds []FaultKind
	// LowTraffic adds the low-traffic service to every scenario, the fault-free ones included;
	// implied when Kinds has a low-traffic kind.
	LowTraffic bool
	// FaultDuration is the length of every fault (zero: until the end of the run).
	FaultDuration time.Duration
	// Realistic makes every scenario realistic (Options.Realistic), the fault-free ones
	// included: the rotation is then RealisticFaultKinds() (unless Kinds is set) and faults start
	// between min(8 min, 30 %) and 50 % of the run.
	Realistic bool
	// Realism is passed to every scenario (its zero fields: defaults drawn from each scenario's
	// seed). Ignored unless Realistic.
	Realism Realism
}

// GenerateScenarios returns a deterministic set of evaluation scenarios: random topologies and
// fault kinds (in rotation) and placements, the default shop among them, and fault-free runs.
func GenerateScenarios(o EvalOptions) ([]Scenario, error) {
	if o.Count <= 0 || o.Count > 10000 {
		return nil, errors.New("count must be in 1..10000")
	}
	if o.MinServices == 0 && o.MaxServices == 0 {
		o.MinServices, o.MaxServices = 6, 14
	}
	if o.MinServices < 2 || o.MaxServices < o.MinServices {
		return nil, errors.New("need 2 <= min services <= max services")
	}
	if o.Duration == 0 {
		o.Duration = 5 * time.Minute
	}
	if o.FaultFreeEvery == 0 {
		o.FaultFreeEvery = 6
	}
	if o.DefaultShopEvery == 0 {
		o.DefaultShopEvery = 5
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0xe7a1)) //nolint:gosec // G404: seeded, reproducible simulation
	kinds := FaultKinds()
	if o.Realistic {
		kinds = RealisticFaultKinds()
	}
	if len(o.Kinds) > 0 {
		kinds = o.Kinds
	}
	for _, k := range kinds {
		if _, err := ParseFaultKind(string(k)); err != nil || k == FaultNone {
			return nil, fmt.Errorf("eval kinds: %q is not a fault kind", k)
		}
		o.LowTraffic = o.LowTraffic || k.LowTraffic()
	}
	out := make([]Scenario, 0, o.Count)
	k := 0
	for i := 0; len(out) < o.Count; i++ {
		if i > 20*o.Count {
			return nil, errors.New("could not place the faults")
		}
		seed := rng.Uint64()
		topo := RandomTopology(seed, o.MinServices+rng.IntN(o.MaxServices-o.MinServices+1))
		if o.DefaultShopEvery > 0 && i%o.DefaultShopEvery == 0 {
			topo = DefaultShop()
		}
		kind := kinds[k%len(kinds)]
		if o.FaultFreeEvery > 0 && len(out)%o.FaultFreeEvery == o.FaultFreeEvery-1 {
			kind = FaultNone
		}
		// fault start between 30 % and 50 % of the run (realistic: from 8 min), lasting to the end
		var at time.Duration
		if o.Realistic {
			lo := min(o.Duration*3/10, realisticEarliestFault)
			at = lo + time.Duration(rng.Int64N(int64(o.Duration/2-lo)+1))
		} else {
			at = o.Duration*3/10 + time.Duration(rng.Int64N(int64(o.Duration/5)+1))
		}
		sc, err := NewScenario(Options{
			Topology: topo, Seed: seed, Duration: o.Duration, Rate: o.Rate, Fault: kind, FaultAt: at,
			FaultDuration: o.FaultDuration, LowTraffic: o.LowTraffic, Realistic: o.Realistic, Realism: o.Realism,
		})
		if err != nil {
			continue // this topology cannot host this fault kind (no database ...): next one
		}
		sc.Name = fmt.Sprintf("eval-%03d-%s", len(out), sc.Name)
		if kind != FaultNone {
			k++
		}
		out = append(out, sc)
	}
	return out, nil
}

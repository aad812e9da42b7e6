// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// NodeKind is what a topology node is.
type NodeKind string

const (
	// KindService is an instrumented service: it emits spans and logs.
	KindService NodeKind = "service"
	// KindDatabase is an uninstrumented database: it appears only as the peer of its callers'
	// CLIENT spans (db.system.name, db.namespace) and has no logs.
	KindDatabase NodeKind = "database"
	// KindQueue is a message broker topic: producers send to it (PRODUCER spans) and the
	// services it feeds consume from it (CONSUMER spans).
	KindQueue NodeKind = "queue"
)

// Protocol is the protocol of a call edge.
type Protocol string

const (
	ProtoHTTP      Protocol = "http"
	ProtoRPC       Protocol = "rpc"
	ProtoDatabase  Protocol = "database"
	ProtoMessaging Protocol = "messaging"
)

// Node is one service, database or queue.
type Node struct {
	Name string
	Kind NodeKind
	// System is the db.system.name of a database (postgresql, mysql ...) or the
	// messaging.system of a queue (kafka, rabbitmq).
	System string
	// Latency is the mean own processing time of one request (a service) or one query (a
	// database). Zero means a default.
	Latency time.Duration
}

// Edge is a call from one node to another.
type Edge struct {
	From, To string
	Protocol Protocol
	// Probability that one request handled by From makes this call (0..1].
	Probability float64
	// Count is how many times the call is made when it is made (at least 1).
	Count int
	// Timeout of the caller for one call; zero means a default (2 s for services, 1 s for
	// databases). Not used for queues.
	Timeout time.Duration
	// Every makes the call a scheduled job of From rather than a part of user requests: about
	// every Every (each interval drawn uniformly within 20 % of it), From makes the call (with
	// Probability, Count times) in a trace of its own whose root is the CLIENT span, and logs
	// the job's outcome. Zero: the call is made while handling requests. Scheduled calls do not
	// count in Visits.
	Every time.Duration
}

// Topology is a call graph: nodes, edges and the entry service that receives user requests.
type Topology struct {
	Entry string
	Nodes []Node
	Edges []Edge
}

// Limits of a topology.
const (
	MaxNodes = 500
	MaxEdges = 2000
	maxDepth = 16
)

// Node returns the node with that name.
func (t *Topology) Node(name string) (Node, bool) {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Callees returns the edges out of a node, in topology order (scheduled calls included).
func (t *Topology) Callees(name string) []Edge {
	var out []Edge
	for _, e := range t.Edges {
		if e.From == name {
			out = append(out, e)
		}
	}
	return out
}

// Callers returns the names of the nodes with an edge into name, in edge order, without duplicates.
func (t *Topology) Callers(name string) []string {
	var out []string
	for _, e := range t.Edges {
		if e.To == name && !contains(out, e.From) {
			out = append(out, e.From)
		}
	}
	return out
}

// Services returns the names of the instrumented services.
func (t *Topology) Services() []string {
	var out []string
	for _, n := range t.Nodes {
		if n.Kind == KindService {
			out = append(out, n.Name)
		}
	}
	return out
}

// Upstream returns the services that (transitively) call name synchronously, nearest first
// (breadth first). Calls through a queue do not count: a producer does not wait for its consumer;
// nor do scheduled calls (Edge.Every): no request waits for a job.
func (t *Topology) Upstream(name string) []string {
	var out []string
	queue := []string{name}
	seen := map[string]bool{name: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range t.Edges {
			if e.To != cur || seen[e.From] || e.Protocol == ProtoMessaging || e.Every > 0 {
				continue
			}
			seen[e.From] = true
			out = append(out, e.From)
			queue = append(queue, e.From)
		}
	}
	return out
}

// Validate checks names, kinds, edges, the entry and that the graph has no cycle.
func (t *Topology) Validate() error {
	if t == nil {
		return errors.New("nil topology")
	}
	if len(t.Nodes) == 0 || len(t.Nodes) > MaxNodes {
		return fmt.Errorf("topology must have 1..%d nodes, has %d", MaxNodes, len(t.Nodes))
	}
	if len(t.Edges) > MaxEdges {
		return fmt.Errorf("topology has %d edges, more than %d", len(t.Edges), MaxEdges)
	}
	kinds := make(map[string]NodeKind, len(t.Nodes))
	for _, n := range t.Nodes {
		if n.Name == "" {
			return errors.New("node with an empty name")
		}
		if _, dup := kinds[n.Name]; dup {
			return fmt.Errorf("duplicate node %q", n.Name)
		}
		switch n.Kind {
		case KindService, KindDatabase, KindQueue:
		default:
			return fmt.Errorf("node %q: unknown kind %q", n.Name, n.Kind)
		}
		if n.Latency < 0 {
			return fmt.Errorf("node %q: negative latency", n.Name)
		}
		kinds[n.Name] = n.Kind
	}
	if kinds[t.Entry] != KindService {
		return fmt.Errorf("entry %q is not a service of the topology", t.Entry)
	}
	for _, e := range t.Edges {
		fk, ok1 := kinds[e.From]
		tk, ok2 := kinds[e.To]
		if !ok1 || !ok2 {
			return fmt.Errorf("edge %s -> %s: unknown node", e.From, e.To)
		}
		if e.From == e.To {
			return fmt.Errorf("edge %s -> %s: self call", e.From, e.To)
		}
		if e.Probability <= 0 || e.Probability > 1 || e.Count < 0 || e.Count > 10 || e.Timeout < 0 {
			return fmt.Errorf("edge %s -> %s: probability must be in (0,1], count in 0..10, timeout >= 0", e.From, e.To)
		}
		if e.Every != 0 && (e.Every < time.Second || e.Every > MaxDuration || fk != KindService || e.Protocol == ProtoMessaging) {
			return fmt.Errorf("edge %s -> %s: a scheduled call (every) is made by a service, not to a queue, every 1s..%s", e.From, e.To, MaxDuration)
		}
		switch {
		case fk == KindDatabase:
			return fmt.Errorf("edge %s -> %s: a database calls nothing", e.From, e.To)
		case fk == KindQueue && (tk != KindService || e.Protocol != ProtoMessaging):
			return fmt.Errorf("edge %s -> %s: a queue feeds services over messaging", e.From, e.To)
		case tk == KindDatabase && e.Protocol != ProtoDatabase:
			return fmt.Errorf("edge %s -> %s: calls to a database use protocol database", e.From, e.To)
		case tk == KindQueue && e.Protocol != ProtoMessaging:
			return fmt.Errorf("edge %s -> %s: calls to a queue use protocol messaging", e.From, e.To)
		case tk == KindService && fk == KindService && e.Protocol != ProtoHTTP && e.Protocol != ProtoRPC:
			return fmt.Errorf("edge %s -> %s: service calls use http or rpc", e.From, e.To)
		}
	}
	if _, err := t.order(); err != nil {
		return err
	}
	return nil
}

// order returns the nodes in topological order (callers before callees).
func (t *Topology) order() ([]string, error) {
	indeg := make(map[string]int, len(t.Nodes))
	for _, e := range t.Edges {
		indeg[e.To]++
	}
	var queue, out []string
	for _, n := range t.Nodes {
		if indeg[n.Name] == 0 {
			queue = append(queue, n.Name)
		}
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		out = append(out, cur)
		for _, e := range t.Edges {
			if e.From == cur {
				indeg[e.To]--
				if indeg[e.To] == 0 {
					queue = append(queue, e.To)
				}
			}
		}
	}
	if len(out) != len(t.Nodes) {
		return nil, errors.New("topology has a cycle")
	}
	return out, nil
}

// Visits returns the expected number of calls each node receives per user request at the entry.
func (t *Topology) Visits() map[string]float64 {
	v := map[string]float64{t.Entry: 1}
	ord, err := t.order()
	if err != nil {
		return v
	}
	for _, n := range ord {
		for _, e := range t.Edges {
			if e.From == n && e.Every == 0 {
				v[e.To] += v[n] * e.Probability * float64(max(e.Count, 1))
			}
		}
	}
	return v
}

// DefaultShop is the demo topology: frontend -> checkout -> payment -> orders-db (postgresql),
// checkout -> inventory -> inventory-db, checkout -> user, checkout -> shipping through the
// kafka topic shipping-requests.
func DefaultShop() *Topology {
	ms := time.Millisecond
	return &Topology{
		Entry: "frontend",
		Nodes: []Node{
			{Name: "frontend", Kind: KindService, Latency: 4 * ms},
			{Name: "checkout", Kind: KindService, Latency: 8 * ms},
			{Name: "payment", Kind: KindService, Latency: 12 * ms},
			{Name: "inventory", Kind: KindService, Latency: 6 * ms},
			{Name: "user", Kind: KindService, Latency: 5 * ms},
			{Name: "shipping", Kind: KindService, Latency: 10 * ms},
			{Name: "orders-db", Kind: KindDatabase, System: "postgresql", Latency: 6 * ms},
			{Name: "inventory-db", Kind: KindDatabase, System: "mysql", Latency: 4 * ms},
			{Name: "shipping-requests", Kind: KindQueue, System: "kafka"},
		},
		Edges: []Edge{
			{From: "frontend", To: "checkout", Protocol: ProtoHTTP, Probability: 1, Count: 1},
			{From: "checkout", To: "user", Protocol: ProtoRPC, Probability: 1, Count: 1},
			{From: "checkout", To: "inventory", Protocol: ProtoRPC, Probability: 1, Count: 1},
			{From: "checkout", To: "payment", Protocol: ProtoRPC, Probability: 0.9, Count: 1},
			{From: "checkout", To: "shipping-requests", Protocol: ProtoMessaging, Probability: 0.8, Count: 1},
			{From: "payment", To: "orders-db", Protocol: ProtoDatabase, Probability: 1, Count: 2},
			{From: "inventory", To: "inventory-db", Protocol: ProtoDatabase, Probability: 1, Count: 1},
			{From: "shipping-requests", To: "shipping", Protocol: ProtoMessaging, Probability: 1, Count: 1},
		},
	}
}

// The low-traffic service (WithLowTrafficService).
const (
	// LowTrafficService is the name of the low-traffic service.
	LowTrafficService = "fx-rates"
	// LowTrafficEvery is how often its caller calls it (a scheduled job).
	LowTrafficEvery = time.Minute
	// lowTrafficTimeout is the caller's timeout for the call: a batch job waits long.
	lowTrafficTimeout = 30 * time.Second
)

// WithLowTrafficService returns a copy of t with one more service, LowTrafficService (own
// latency 1 ms: its calls take 2-3 ms), that caller calls about once a minute from a scheduled
// job (Edge.Every = LowTrafficEvery, HTTP, timeout 30 s) and that nothing else calls. t itself
// is not changed.
func WithLowTrafficService(t *Topology, caller string) (*Topology, error) {
	if n, ok := t.Node(caller); !ok || n.Kind != KindService {
		return nil, fmt.Errorf("low-traffic service: caller %q is not a service of the topology", caller)
	}
	if _, ok := t.Node(LowTrafficService); ok {
		return nil, fmt.Errorf("low-traffic service: the topology already has a node %q", LowTrafficService)
	}
	out := &Topology{Entry: t.Entry, Nodes: append([]Node(nil), t.Nodes...), Edges: append([]Edge(nil), t.Edges...)}
	out.Nodes = append(out.Nodes, Node{Name: LowTrafficService, Kind: KindService, Latency: time.Millisecond})
	out.Edges = append(out.Edges, Edge{From: caller, To: LowTrafficService, Protocol: ProtoHTTP, Probability: 1, Count: 1,
		Timeout: lowTrafficTimeout, Every: LowTrafficEvery})
	return out, out.Validate()
}

// scheduledCallers returns the services that call name from a scheduled job, in edge order.
func (t *Topology) scheduledCallers(name string) []string {
	var out []string
	for _, e := range t.Edges {
		if e.To == name && e.Every > 0 && !contains(out, e.From) {
			out = append(out, e.From)
		}
	}
	return out
}

var serviceNames = []string{
	"gateway", "auth", "cart", "catalog", "search", "pricing", "billing", "ledger", "fraud",
	"profile", "review", "ads", "currency", "email", "notify", "recommend", "media", "geo",
	"tax", "promo", "session", "quote", "invoice", "audit",
}

var dbSystems = []string{"postgresql", "mysql", "mongodb", "redis"}

// RandomTopology builds a seeded random DAG of n services (2..MaxNodes/3): each service calls 1-3
// later services (the last ones call nothing), every service is reachable from the entry, and
// about a third of the services own a database, and some calls go through a queue.
func RandomTopology(seed uint64, n int) *Topology {
	n = min(max(n, 2), MaxNodes/3)
	rng := rand.New(rand.NewPCG(seed, 0x70b0)) //nolint:gosec // G404: seeded, reproducible simulation
	t := &Topology{}
	names := make([]string, n)
	for i := range n {
		name := serviceNames[i%len(serviceNames)]
		if i >= len(serviceNames) {
			name = fmt.Sprintf("%s-%d", name, i/len(serviceNames)+1)
		}
		if i == 0 {
			name = "frontend"
		}
		names[i] = name
		lat := time.Duration(2+rng.IntN(14)) * time.Millisecond
		t.Nodes = append(t.Nodes, Node{Name: name, Kind: KindService, Latency: lat})
	}
	t.Entry = names[0]
	callees := make([][]int, n)
	hasCaller := make([]bool, n)
	for i := range n - 1 {
		k := 1 + rng.IntN(3)
		for range k {
			j := i + 1 + rng.IntN(min(n-i-1, 6))
			if !containsInt(callees[i], j) {
				callees[i] = append(callees[i], j)
				hasCaller[j] = true
			}
		}
	}
	for j := 1; j < n; j++ {
		if !hasCaller[j] {
			i := rng.IntN(j)
			for try := 0; try < 2*j && len(callees[i]) >= 3; try++ {
				i = rng.IntN(j) // prefer a caller with fewer than 3 callees
			}
			callees[i] = append(callees[i], j)
		}
	}
	for i := range n {
		for idx, j := range callees[i] {
			p := 1.0
			if idx > 0 {
				p = 0.5 + 0.5*rng.Float64()
			}
			if rng.IntN(7) == 0 && j != 0 {
				q := names[j] + "-events"
				if _, ok := t.Node(q); !ok {
					t.Nodes = append(t.Nodes, Node{Name: q, Kind: KindQueue, System: "kafka"})
					t.Edges = append(t.Edges, Edge{From: q, To: names[j], Protocol: ProtoMessaging, Probability: 1, Count: 1})
				}
				t.Edges = append(t.Edges, Edge{From: names[i], To: q, Protocol: ProtoMessaging, Probability: p, Count: 1})
				continue
			}
			proto := ProtoHTTP
			if rng.IntN(2) == 0 {
				proto = ProtoRPC
			}
			t.Edges = append(t.Edges, Edge{From: names[i], To: names[j], Protocol: proto, Probability: p, Count: 1})
		}
		if i > 0 && rng.IntN(3) == 0 {
			db := names[i] + "-db"
			t.Nodes = append(t.Nodes, Node{
				Name: db, Kind: KindDatabase, System: dbSystems[rng.IntN(len(dbSystems))],
				Latency: time.Duration(2+rng.IntN(8)) * time.Millisecond,
			})
			t.Edges = append(t.Edges, Edge{From: names[i], To: db, Protocol: ProtoDatabase, Probability: 1, Count: 1 + rng.IntN(2)})
		}
	}
	t.capVisits(1)
	return t
}

// capVisits lowers the probabilities of the calls into each service or queue so that it gets at
// most limit calls per user request (a DAG's path count otherwise grows exponentially with its
// size, unlike real traces).
func (t *Topology) capVisits(limit float64) {
	ord, err := t.order()
	if err != nil {
		return
	}
	v := map[string]float64{}
	incoming := func(n string) float64 {
		sum := 0.0
		for _, e := range t.Edges {
			if e.To == n && e.Every == 0 {
				sum += v[e.From] * e.Probability * float64(max(e.Count, 1))
			}
		}
		return sum
	}
	for _, n := range ord {
		if n == t.Entry {
			v[n] = 1
			continue
		}
		v[n] = incoming(n)
		if node, _ := t.Node(n); node.Kind == KindDatabase || v[n] <= limit {
			continue
		}
		f := limit / v[n]
		for k := range t.Edges {
			if t.Edges[k].To == n && t.Edges[k].Every == 0 {
				t.Edges[k].Probability = max(0.05, t.Edges[k].Probability*f)
			}
		}
		v[n] = incoming(n)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

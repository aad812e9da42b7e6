// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

// TraceID is a W3C trace id. The zero value is invalid.
type TraceID [16]byte

// SpanID is a W3C span id. The zero value is invalid for a span and means "no parent" as a parent id.
type SpanID [8]byte

// SpanKind is the OTLP span kind. The values equal OTLP's (and ptrace.SpanKind's), so an adapter
// may convert with SpanKind(span.Kind()). Unknown values are treated as KindUnspecified.
type SpanKind uint8

// Span kinds, numbered as in OTLP.
const (
	KindUnspecified SpanKind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

// String returns the lower-case OTLP name of the kind.
func (k SpanKind) String() string {
	switch k {
	case KindInternal:
		return "internal"
	case KindServer:
		return "server"
	case KindClient:
		return "client"
	case KindProducer:
		return "producer"
	case KindConsumer:
		return "consumer"
	default:
		return "unspecified"
	}
}

// PeerKind is the adapter's hint about what the peer of a span or log is.
type PeerKind uint8

// Peer kind hints.
const (
	PeerUnknown   PeerKind = iota // no hint
	PeerHTTP                      // an HTTP server (http.*, url.* attributes)
	PeerRPC                       // an RPC server (rpc.system)
	PeerDatabase                  // a database (db.system, db.system.name)
	PeerMessaging                 // a broker or queue (messaging.system)
	numPeerKinds
)

// String returns "unknown", "http", "rpc", "database" or "messaging".
func (k PeerKind) String() string {
	switch k {
	case PeerHTTP:
		return "http"
	case PeerRPC:
		return "rpc"
	case PeerDatabase:
		return "database"
	case PeerMessaging:
		return "messaging"
	default:
		return "unknown"
	}
}

// Peer describes the other side of a call as seen by the caller, reduced by the adapter from
// attributes such as peer.service, server.address, db.namespace, db.system(.name),
// messaging.system and rpc.system.
type Peer struct {
	// Name is the peer's name (peer.service, server.address, db.namespace, ...). Empty: unknown.
	Name string
	// Kind is a hint about what the peer is.
	Kind PeerKind
	// System is the product or protocol (db.system.name, messaging.system, rpc.system). When Name
	// is empty and Kind is PeerDatabase or PeerMessaging, System names the virtual node.
	System string
}

// Span is one span reduced to what the graph needs. The store copies what it keeps and never
// retains the pointer passed to AddSpan; it does keep the Peer strings of pending CLIENT and
// PRODUCER spans (and of UNSPECIFIED/INTERNAL spans naming a peer) until they expire. Service,
// Peer.Name and Peer.System longer than MaxNameBytes are truncated (TruncateName) before
// anything is kept, and counted in Stats.Truncated.
type Span struct {
	TraceID      TraceID
	SpanID       SpanID
	ParentSpanID SpanID // zero: root span
	Service      string // service.name; required
	Kind         SpanKind
	Start, End   int64 // unix nanoseconds; both required, End >= Start
	// Error: the span failed (status ERROR, HTTP status >= 500, a gRPC server-failure code;
	// the adapter applies the rules of docs/graph.md).
	Error bool
	// Peer is meaningful on CLIENT and PRODUCER spans, and on UNSPECIFIED or INTERNAL spans
	// that carry database, peer.service or messaging attributes: such a span without a child in
	// another service is a call to its peer. On SERVER spans only Peer.Kind is read.
	Peer Peer
}

// LogRef is one log record reduced to what the graph needs.
type LogRef struct {
	Service string  // service.name of the emitting resource
	TraceID TraceID // zero: not linked to a trace
	SpanID  SpanID  // zero: not linked to a span
	Time    int64   // unix nanoseconds (the adapter falls back to the observed time); required
	// Observed is the record's observed timestamp (0: unknown); StampLogs uses it to re-stamp
	// an impossible or skewed Time.
	Observed int64
	Error    bool // severity ERROR or above
	Peer     Peer // peer named by the record (peer.service, server.address, url.full, db.system ...)
}

// ConnType is the connection type of an edge.
type ConnType uint8

// Connection types.
const (
	// ConnDirect is an instrumented CLIENT->SERVER call whose protocol is not known.
	ConnDirect ConnType = iota
	ConnHTTP
	ConnRPC
	ConnDatabase
	ConnMessaging
	// ConnVirtual is a call to (or, for the user node, from) a node that is not instrumented.
	ConnVirtual
	// ConnInferred is a parent->child relation across services without CLIENT/SERVER kinds.
	ConnInferred
	numConnTypes
)

// String returns "direct", "http", "rpc", "database", "messaging", "virtual" or "inferred".
func (c ConnType) String() string {
	switch c {
	case ConnDirect:
		return "direct"
	case ConnHTTP:
		return "http"
	case ConnRPC:
		return "rpc"
	case ConnDatabase:
		return "database"
	case ConnMessaging:
		return "messaging"
	case ConnVirtual:
		return "virtual"
	case ConnInferred:
		return "inferred"
	default:
		return "invalid"
	}
}

// NodeKind says what a node of the graph is.
type NodeKind uint8

// Node kinds. A name seen as a span's service is always a NodeService.
const (
	NodeVirtual   NodeKind = iota // an uninstrumented peer of unknown kind
	NodeUser                      // the configured client name of root SERVER spans
	NodeDatabase                  // an uninstrumented database
	NodeMessaging                 // an uninstrumented broker or queue
	NodeService                   // an instrumented service
	numNodeKinds
)

// String returns "virtual", "user", "database", "messaging" or "service".
func (k NodeKind) String() string {
	switch k {
	case NodeVirtual:
		return "virtual"
	case NodeUser:
		return "user"
	case NodeDatabase:
		return "database"
	case NodeMessaging:
		return "messaging"
	case NodeService:
		return "service"
	default:
		return "invalid"
	}
}

// rank orders kinds for merging: a more specific kind replaces a less specific one.
func (k NodeKind) rank() int {
	switch k {
	case NodeService:
		return 3
	case NodeDatabase, NodeMessaging:
		return 2
	case NodeUser:
		return 1
	default:
		return 0
	}
}

// Source is the set of signals that contributed to an edge.
type Source uint8

// Sources; an edge seen in both has SourceTraces|SourceLogs.
const (
	SourceTraces Source = 1 << iota
	SourceLogs
	sourceAll = SourceTraces | SourceLogs
)

// String returns "traces", "logs", "both" or "" (none).
func (s Source) String() string {
	switch s & sourceAll {
	case SourceTraces:
		return "traces"
	case SourceLogs:
		return "logs"
	case sourceAll:
		return "both"
	default:
		return ""
	}
}

// DropReason says why an input item or a call was not counted.
type DropReason uint8

// Drop reasons. Span-level reasons count spans; log-level reasons count logs; SelfCall,
// EdgesFull and NodesFull count calls (or log contributions) that would have touched an edge.
const (
	DropInvalidID      DropReason = iota // zero trace or span id, or span id equal to its parent id
	DropMissingService                   // empty service name
	DropMissingTime                      // zero/negative timestamps, or End before Start
	DropDuplicate                        // a span id already pending in the same trace
	DropSelfCall                         // both ends of the edge are the same node
	DropPendingFull                      // MaxPending reached (pending spans, see Stats.Pending)
	DropEdgesFull                        // MaxEdges reached
	DropNodesFull                        // MaxNodes reached
	NumDropReasons
)

// String returns the reason as a snake_case label, e.g. "pending_full".
func (r DropReason) String() string {
	switch r {
	case DropInvalidID:
		return "invalid_id"
	case DropMissingService:
		return "missing_service"
	case DropMissingTime:
		return "missing_time"
	case DropDuplicate:
		return "duplicate"
	case DropSelfCall:
		return "self_call"
	case DropPendingFull:
		return "pending_full"
	case DropEdgesFull:
		return "edges_full"
	case DropNodesFull:
		return "nodes_full"
	default:
		return "invalid"
	}
}

// Node is one end of an edge.
type Node struct {
	Name   string
	Kind   NodeKind
	System string // db/messaging/rpc system of a virtual node, when known
}

// Latency holds latency percentiles in milliseconds, estimated from a log-linear sketch with a
// relative error of at most 6.25% and clamped to the observed minimum and maximum.
type Latency struct {
	P50, P95, P99 float64
}

// Histogram is a cumulative explicit-bucket histogram of durations in seconds, in the shape of an
// OTLP histogram data point: Counts[i] counts durations d with Bounds[i-1] < d <= Bounds[i];
// the last count is the overflow bucket.
type Histogram struct {
	Bounds []float64 // shared and read-only: do not modify
	Counts []uint64  // len(Bounds)+1
	Sum    float64   // seconds
	Count  uint64
}

// Edge is the aggregate of one (Client, Server, Conn) edge. In a Window, the counts, latency,
// Source and LastSeen cover that window only and the histograms are empty; in a Snapshot they are
// cumulative since FirstSeen (or since the store was loaded). FirstSeen is always the edge's.
type Edge struct {
	Client, Server Node
	Conn           ConnType
	Calls          uint64  // calls counted from traces
	Errors         uint64  // calls with an error on either side
	LogErrors      uint64  // error log records attributed to the edge
	Latency        Latency // from Calls
	Source         Source
	FirstSeen      int64 // unix nanoseconds, event time
	LastSeen       int64 // unix nanoseconds, event time
	// ClientLatency holds client-side durations (CLIENT or PRODUCER span); Snapshot only.
	ClientLatency Histogram
	// ServerLatency holds server-side durations (SERVER, CONSUMER or inferred child span); Snapshot only.
	ServerLatency Histogram
	// ClientSide and ServerSide are the percentiles of the window's client-side durations
	// (CLIENT or PRODUCER span: pairs and virtual calls) and server-side durations (SERVER,
	// CONSUMER or inferred child span: pairs, inferred and user calls), over ClientSideCalls and
	// ServerSideCalls calls; a side with no calls is zero. Window only.
	ClientSide, ServerSide           Latency
	ClientSideCalls, ServerSideCalls uint64
	// Gap holds the percentiles of the window's call gaps: for each span of the client whose
	// children in other services are all on this edge, its own time (its duration minus its
	// children's), i.e. network, queues and the caller's side of the call, over GapCalls spans.
	// Window only.
	Gap      Latency
	GapCalls uint64
	// GapRequest and GapResponse split the mean gap of those spans in ms: from the caller's
	// span start to its first call's start (the request leg: the caller's egress, network to
	// the callee) and from its last call's end to the caller's span end (the response leg: the
	// callee's egress, network back). Either may be negative when the two hosts' clocks
	// disagree; their changes are what counts. Window only.
	GapRequest, GapResponse float64
}

// Window is one closed event-time window [Start, End) with the edges active in it, sorted by
// client name, server name, then connection type.
type Window struct {
	Start, End int64
	Edges      []Edge
	// Services is the own time of each service whose spans ended in the window, sorted by name.
	Services []ServiceWindow
}

// ServiceWindow is one service's own time in a window: for each of its spans, the span's
// duration minus the durations of its children (at least 0). Time spent waiting on a dependency
// is the dependency's, so a slow callee does not make its callers look slow; the gap between a
// call-making span (CLIENT, PRODUCER, or a kind-less span naming a peer) and its callee's span is
// counted apart as egress (network, pools, the caller's side of the call).
type ServiceWindow struct {
	Service string
	// Spans is the number of the service's spans that make no call out, SelfNs their summed own
	// time in nanoseconds, Errors those with an error.
	Spans, Errors uint64
	SelfNs        int64
	// EgressSpans is the number of its call-making spans, EgressNs their summed own time.
	EgressSpans uint64
	EgressNs    int64
}

// Stats are the store's counters (monotonic) and gauges (current sizes).
type Stats struct {
	SpansIn          uint64 // spans passed to AddSpan
	LogsIn           uint64 // logs passed to AddLog
	Pairs            uint64 // CLIENT/SERVER and PRODUCER/CONSUMER pairs counted
	Inferred         uint64 // cross-service parent/child relations counted as inferred calls
	VirtualCalls     uint64 // unmatched CLIENT/PRODUCER halves counted towards their peer
	UserCalls        uint64 // root SERVER spans counted from the user node
	Expired          uint64 // pending entries (spans and placeholders) removed after PendingTTL
	UnpairedExpired  uint64 // CLIENT/PRODUCER without child, SERVER/CONSUMER without parent, at expiry
	LogsAttributed   uint64 // logs counted on an edge through their span
	LogsPeer         uint64 // logs counted on an edge through their peer
	LogsUnattributed uint64 // logs that reached no edge
	LogsDropped      uint64 // logs dropped (also counted in Dropped by reason)
	LateEvents       uint64 // calls or logs counted into a later window because theirs was closed
	EdgesCreated     uint64
	EdgesExpired     uint64 // edges removed EdgeTTL after their last event
	NodesExpired     uint64 // nodes removed when no edge or pending span referred to them
	WindowsEmitted   uint64 // windows returned by Flush or FlushAll
	// TimeFixedImpossible and TimeFixedAhead count spans and logs re-stamped by StampSpans and
	// StampLogs: an impossible timestamp (before 1971, or more than a day ahead of the wall
	// clock), or one more than Clock.MaxSkew ahead of the wall clock while event time is live.
	TimeFixedImpossible uint64
	TimeFixedAhead      uint64
	Dropped             [NumDropReasons]uint64
	// Truncated counts names longer than MaxNameBytes that were truncated, by field (each
	// occurrence: a span or log record with a long service and peer name counts twice).
	Truncated [NumNameFields]uint64

	// Pending is what MaxPending bounds: the spans waiting for TTL, plus the placeholders that
	// only log records wait on. Placeholders for parents not seen yet are not counted (at most
	// one per waiting span); Entries counts every pending entry, placeholders included.
	Pending   int
	Entries   int   // pending entries (spans and every placeholder): at most 2 x MaxPending
	Edges     int   // live edges
	Nodes     int   // live nodes
	Watermark int64 // event time (unix nanoseconds): the clock's time after the last batch, or Advance
}

// DroppedTotal is the sum of Dropped over all reasons.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

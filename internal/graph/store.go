// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

// maxEventTime bounds accepted timestamps (about year 2116) so that window and TTL arithmetic
// cannot overflow; later timestamps are dropped as DropMissingTime.
const maxEventTime = int64(1) << 62

// maxDuration bounds every configured duration (about 36 years), for the same reason.
const maxDuration = int64(1) << 60

// maxChain bounds the walk up same-service parents when attributing a log to an edge.
const maxChain = 64

// Store is the service dependency graph: it pairs spans into calls, aggregates calls and logs
// into edges, and cuts event-time windows. See docs/graph.md for the design.
//
// A Store is not safe for concurrent use: the caller serialises every method call (the
// connector holds one mutex around the store). No method panics on any input.
type Store struct {
	cfg      Config
	ttl      int64 // PendingTTL
	interval int64 // FlushInterval
	lateness int64 // AllowedLateness
	edgeTTL  int64
	boundsNs []int64

	clock      *eventtime.Clock // event time over the services
	watermark  int64            // event time the store has advanced to
	arrival    int64            // event time of the last batch (>= watermark): its entries expire at arrival + TTL
	closedUpTo int64            // every window ending at or before it was emitted; MinInt64: none

	// The batch being added: its FIFO entries from batchFifo on get their expiry at its end, when
	// the clock has observed the batch; touched are the nodes whose progress it raised, and
	// logSvc/logMax the current run of log records of one service.
	batchFifo int
	touched   []int32
	logSvc    string
	logMax    int64
	// spanClock: only spans move event time (SpanClock); log records are charged to their
	// spans' windows. logLead is how far the batch's latest log record is ahead of event time.
	spanClock bool
	logLead   int64

	// Pending spans and placeholders, in a slab indexed by index and expired in arrival order.
	index    spanTable
	pages    []*[pageSize]entry // the slab; entries never move
	nslots   int32              // slab entries ever allocated
	freeSlot []int32
	held     int    // entries with fCounted: what MaxPending bounds (Stats.Pending)
	peers    []Peer // peers of pending CLIENT/PRODUCER spans (entry.peer)
	freePeer []int32
	fifo     ring
	deferred map[int32]deferredLogs

	nodeIdx   map[string]int32
	nodes     []node
	freeNode  []int32
	lastSvc   string // one-entry cache of the last service interned from a span
	lastSvcID int32

	edgeIdx  map[edgeKey]int32
	edges    []edge
	freeEdge []int32

	open []openWindow // sorted by start
	// pendWin counts the pending real spans by the window of their end: a window stays open
	// while spans ending in it wait for their other half, so that what their expiry adds (a
	// virtual or user call, their own time) lands in their window whatever the batching.
	pendWin map[int64]int32
	skPool  []*sketch
	scratch sketch // merges of window sketches at export

	stats Stats
	sink  uint64 // the loads of advance, kept so that the compiler keeps them
}

type spanKey struct {
	trace TraceID
	span  SpanID
}

// ref is a generation-checked reference to a slab element: gen<<32 | (index+1); 0 means none.
type ref uint64

func mkRef(i int32, gen uint32) ref { return ref(uint64(gen)<<32 | uint64(uint32(i)+1)) }
func (r ref) idx() int32            { return int32(uint32(r)) - 1 }
func (r ref) gen() uint32           { return uint32(r >> 32) }

// entry flags.
const (
	fReal       uint8 = 1 << iota // the span arrived (otherwise a placeholder for a parent or a log)
	fError                        // the span has error status
	fMatched                      // a child in another service (or a same-service pair) resolved against it
	fParentDone                   // its parent relation is settled (root, or parent found)
	fDeferred                     // logs wait in Store.deferred for its edge
	fCounted                      // counted in Store.held (a real span, or a placeholder made for a log)
	fMixed                        // children on more than one edge, or in its own service: no clean gap
	fLegs                         // reqUs and respUs hold the legs of its children in other services
)

type entry struct {
	key     spanKey
	start   int64
	end     int64
	inEdge  ref   // the edge where this span is the server/child side
	outEdge ref   // the edge where this span is the client side
	parent  ref   // same-service parent span (log attribution)
	svc     int32 // node; -1 for placeholders
	child   int32 // head of the list of children waiting for this placeholder
	prev    int32 // siblings in the waiting list
	next    int32
	waitOn  int32 // placeholder this span waits for; -1 none
	gen     uint32
	peer    int32 // index in Store.peers (CLIENT/PRODUCER spans naming a peer); -1 none
	// reqUs and respUs (with fLegs) split a call's gap: the least time, in microseconds, from
	// its start to the start of a child in another service (the request leg) and from the end
	// of such a child to its end (the response leg). Two int32 keep the entry at 120 bytes.
	reqUs   int32
	childNs int64 // summed durations of the children resolved against it (its self time is the rest)
	gapEdge ref   // the one edge its children in other services are on (its own time is that call's gap)
	respUs  int32
	kind    SpanKind
	hint    PeerKind // the span's peer kind hint (any kind)
	flags   uint8
}

// legUs is d nanoseconds in microseconds, within int32.
func legUs(d int64) int32 {
	return int32(min(max(d/1000, math.MinInt32), math.MaxInt32))
}

// The slab is allocated in pages so that growing it never copies entries. An entry holds no
// pointers, so the garbage collector does not scan the slab.
const (
	pageBits = 10
	pageSize = 1 << pageBits
)

func (s *Store) slot(i int32) *entry { return &s.pages[i>>pageBits][i&(pageSize-1)] }

type deferredLogs struct {
	n, errors uint64
	time      int64 // latest log time
}

type node struct {
	name     string
	system   string
	observed int64 // latest span end of this service (its progress for the clock)
	kind     NodeKind
	live     bool
	touched  bool  // in Store.touched
	refs     int32 // pending spans plus edge ends referring to it
}

type edgeKey struct {
	client, server int32
	conn           ConnType
}

type edge struct {
	key       edgeKey
	gen       uint32
	live      bool
	source    Source
	calls     uint64
	errors    uint64
	logErrors uint64
	firstSeen int64
	lastSeen  int64
	client    hist
	server    hist
	wins      []winAgg // open windows
	lat       sketch   // cumulative
}

// winAgg is one edge's aggregate in one open window. Its durations are kept in up to three
// sketches (from the pool, on first use): the client side of calls that have one (pairs,
// virtual calls), the server side of those calls (pairs), and the server side of calls without a
// client span (inferred and user calls). The call latency (client side when there is one) is
// skc+sko, the server side sks+sko.
type winAgg struct {
	start            int64
	calls            uint64
	errors           uint64
	logErrors        uint64
	clientN, serverN uint64 // calls with a client side, with a server side
	gapN             uint64 // call-making spans whose own time is a call's gap (skg)
	gapReq, gapResp  int64  // their summed request and response legs (ns)
	last             int64
	source           Source
	skc, sks, sko    *sketch
	skg              *sketch
}

type openWindow struct {
	start int64
	edges []int32
	svcs  map[string]*ServiceWindow // self time per service, by name
}

// call is one resolved call, ready to be counted on an edge. Its duration for the percentiles
// is the client side when there is one, else the server side.
type call struct {
	client, server int32
	conn           ConnType
	t              int64 // event time (end of the later span)
	clientLat      int64 // -1: none
	serverLat      int64 // -1: none; at least one side is set
	err            bool
}

// New returns an empty store, or the configuration error.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.LatencyBuckets = slices.Clone(cfg.LatencyBuckets)
	s := &Store{
		cfg:        cfg,
		ttl:        int64(cfg.PendingTTL),
		interval:   int64(cfg.FlushInterval),
		lateness:   int64(cfg.AllowedLateness),
		edgeTTL:    int64(cfg.EdgeTTL),
		clock:      eventtime.New(cfg.Clock),
		closedUpTo: math.MinInt64,
		pendWin:    map[int64]int32{},
		index:      newSpanTable(),
		deferred:   make(map[int32]deferredLogs),
		nodeIdx:    make(map[string]int32),
		edgeIdx:    make(map[edgeKey]int32),
		lastSvcID:  -1,
	}
	s.boundsNs = make([]int64, len(cfg.LatencyBuckets))
	for i, b := range cfg.LatencyBuckets {
		s.boundsNs[i] = int64(math.Round(b * 1e9))
	}
	return s, nil
}

// AddSpan is AddSpans for a batch of one span.
func (s *Store) AddSpan(sp *Span) {
	if sp == nil {
		s.stats.SpansIn++
		s.drop(DropInvalidID)
		return
	}
	s.begin()
	hs, hp := s.spanHashes(sp)
	s.addSpan(sp, hs, hp)
	s.end()
}

// AddSpans counts one batch of spans (one request): every span is paired with pending spans of
// its trace and kept pending for PendingTTL, and the calls that become known are recorded; then
// the clock observes each service's latest span end in the batch, and the store advances to the
// clock's time, expiring pending spans and closing windows. Nothing expires while the batch is
// added, so the order of the spans within a batch does not matter. Invalid spans are counted in
// Stats.Dropped and otherwise ignored. Call StampSpans first to guard against skewed clocks.
func (s *Store) AddSpans(spans []Span) {
	if len(spans) == 0 {
		return
	}
	s.begin()
	// Hash a few spans ahead and load their index slots, so that the cache misses of several
	// spans overlap (a batch no longer interleaves them with the misses of expiry).
	var hq [insertAhead][2]uint64
	var sum uint64
	ahead := func(j int) {
		hs, hp := s.spanHashes(&spans[j])
		hq[j%insertAhead] = [2]uint64{hs, hp}
		sum += s.index.slots[hs&s.index.mask].h
		if hp != 0 {
			sum += s.index.slots[hp&s.index.mask].h
		}
	}
	for j := range min(insertAhead, len(spans)) {
		ahead(j)
	}
	for i := range spans {
		h := hq[i%insertAhead]
		if j := i + insertAhead; j < len(spans) {
			ahead(j)
		}
		s.addSpan(&spans[i], h[0], h[1])
	}
	s.sink ^= sum
	s.end()
}

// StampSpans re-stamps, in place, the spans whose end is impossible (before 1971, or more than a
// day ahead of wall) or, while event time is live, more than Clock.MaxSkew ahead of wall (unix
// nanoseconds): see eventtime.Clock.Stamp. Start moves by the same amount, so the duration is
// kept. Fixes are counted in Stats.TimeFixedImpossible and TimeFixedAhead. Spans without
// timestamps, or ending before they start, are left for AddSpans to drop.
func (s *Store) StampSpans(spans []Span, wall int64) {
	for i := range spans {
		sp := &spans[i]
		if sp.Start <= 0 || sp.End < sp.Start {
			continue
		}
		t, fix := s.clock.Stamp(sp.End, 0, wall)
		if fix == eventtime.FixNone {
			continue
		}
		s.countFix(fix)
		sp.Start += t - sp.End
		sp.End = t
	}
}

// StampLogs is StampSpans for log records: an impossible or skewed Time is replaced by the
// record's Observed time when that is plausible, else by the clock's time or the wall clock.
func (s *Store) StampLogs(logs []LogRef, wall int64) {
	for i := range logs {
		l := &logs[i]
		t, fix := s.clock.Stamp(l.Time, l.Observed, wall)
		if fix == eventtime.FixNone {
			continue
		}
		s.countFix(fix)
		l.Time = t
	}
}

func (s *Store) countFix(f eventtime.Fix) {
	switch f {
	case eventtime.FixImpossible:
		s.stats.TimeFixedImpossible++
	case eventtime.FixAhead:
		s.stats.TimeFixedAhead++
	}
}

// observe raises the progress of source svc. A new source is not followed once the clock has
// MaxSources of them: no eviction scans, whatever the input.
func (s *Store) observe(svc string, t int64) {
	if s.clock.Sources() >= s.cfg.Clock.MaxSources && s.clock.Progress(svc) == 0 {
		return
	}
	s.clock.Observe(svc, t)
}

// observeSpan records an accepted span's end as the progress of its service (node svc); the
// clock sees it at the end of the batch.
func (s *Store) observeSpan(svc int32, end int64) {
	n := &s.nodes[svc]
	if end <= n.observed {
		return
	}
	n.observed = end
	if !n.touched {
		n.touched = true
		s.touched = append(s.touched, svc)
	}
}

// maxLogLead bounds how far ahead of event time a log record waiting for its span extends its
// wait (SpanClock): a record stamped further ahead (a skewed host) waits as long as this.
const maxLogLead = 2 * time.Minute

// logConfirmLag is how far behind its own time a log record confirms event time (SpanClock).
// It stays well under the rca exporter's default idle_timeout (2 min), so an edge stream held
// back by it is still waited for.
const logConfirmLag = 45 * time.Second

// SpanClock makes spans move the store's event time, for a store that receives spans: log
// records (whose pipeline may run ahead of the traces') are then charged to their spans'
// windows without closing them early, so the answer does not depend on how far one pipeline
// runs ahead of the other; they confirm event time only logConfirmLag behind their own time.
// Without it (a logs-only store) log records move event time. Call it before adding data.
func (s *Store) SpanClock() { s.spanClock = true }

// observeLog records a log record's time as the progress of its service, one run of records
// of a service at a time (with SpanClock, logConfirmLag behind the record, and how far the
// batch runs ahead).
func (s *Store) observeLog(svc string, t int64) {
	if s.spanClock {
		// A service's log records confirm event time only logConfirmLag behind them: a logs
		// pipeline that runs ahead of the traces' (by less than that) changes nothing, and a
		// service that logs but has no spans to send (every request fails before reaching
		// it) does not stop event time for the one service that still has spans.
		s.logLead = max(s.logLead, t-s.clock.Now())
		t -= int64(logConfirmLag)
	}
	if svc != s.logSvc {
		if s.logMax > 0 {
			s.observe(s.logSvc, s.logMax)
		}
		s.logSvc, s.logMax = svc, 0
	}
	s.logMax = max(s.logMax, t)
}

// begin starts a batch. Nothing expires and event time does not move until end.
func (s *Store) begin() { s.batchFifo, s.logLead = s.fifo.n, 0 }

// end lets the clock observe the batch (each service once, with its latest time), gives the
// batch's pending entries their expiry (the clock's new time + TTL), and advances the store to
// the clock's time, which expires pending entries and closes windows.
func (s *Store) end() {
	moved := false
	if s.logMax > 0 {
		s.observe(s.logSvc, s.logMax)
		s.logSvc, s.logMax, moved = "", 0, true
	}
	if len(s.touched) > 0 {
		// A progress at or before the clock's time cannot change it, now or later (its time and
		// the quorum-th progress never decrease), so the clock need not see it, once it follows
		// a quorum of sources (before, a new source, even behind, holds its time back).
		now, few := s.clock.Now(), s.clock.Sources() < s.clock.Quorum()
		for _, i := range s.touched {
			n := &s.nodes[i]
			n.touched = false
			if n.observed > now || few {
				s.observe(n.name, n.observed)
				moved = true
			}
		}
		s.touched = s.touched[:0]
	}
	if moved {
		s.arrival = max(s.arrival, s.watermark, s.clock.Now())
	}
	// Log records that run ahead of the spans (their pipeline is faster) wait for their spans
	// until event time reaches them, up to maxLogLead, plus the TTL.
	s.fifo.setExpiry(s.batchFifo, s.arrival+s.ttl+min(s.logLead, int64(maxLogLead)))
	if moved {
		s.advance(s.arrival)
	}
}

func (s *Store) spanHashes(sp *Span) (self, parent uint64) {
	self = s.index.hash(&spanKey{sp.TraceID, sp.SpanID})
	if sp.ParentSpanID != (SpanID{}) {
		parent = s.index.hash(&spanKey{sp.TraceID, sp.ParentSpanID})
	}
	return self, parent
}

func (s *Store) addSpan(sp *Span, hs, hp uint64) {
	s.stats.SpansIn++
	switch {
	case sp.TraceID == (TraceID{}) || sp.SpanID == (SpanID{}) || sp.SpanID == sp.ParentSpanID:
		s.drop(DropInvalidID)
		return
	case sp.Service == "":
		s.drop(DropMissingService)
		return
	case sp.Start <= 0 || sp.End < sp.Start || sp.End > maxEventTime:
		s.drop(DropMissingTime)
		return
	}
	service := s.boundName(sp.Service, FieldService)
	peer := s.boundPeer(sp.Peer)
	kind := sp.Kind
	if kind > KindConsumer {
		kind = KindUnspecified
	}

	key := spanKey{sp.TraceID, sp.SpanID}
	idx := s.index.find(hs, &key, s.pages)
	exists := idx >= 0
	if exists && s.slot(idx).flags&fReal != 0 {
		s.drop(DropDuplicate)
		return
	}
	hasParent := sp.ParentSpanID != SpanID{}
	pkey := spanKey{sp.TraceID, sp.ParentSpanID}
	pidx := int32(-1)
	if hasParent {
		pidx = s.index.find(hp, &pkey, s.pages)
	}
	pexists := pidx >= 0
	// MaxPending counts spans: the placeholder a span may need for its parent is not counted
	// (there is at most one per span), and a span filling a placeholder made for a log record is
	// already counted.
	if (!exists || s.slot(idx).flags&fCounted == 0) && s.held >= s.cfg.MaxPending {
		s.drop(DropPendingFull)
		return
	}
	svc, ok := s.serviceNode(service)
	if !ok {
		s.drop(DropNodesFull)
		return
	}
	s.observeSpan(svc, sp.End)
	// A parent placeholder goes into the FIFO before the span that waits for it.
	if hasParent && !pexists {
		pidx = s.alloc(pkey, hp)
	}
	if !exists {
		idx = s.alloc(key, hs)
	}
	e := s.slot(idx)
	s.count(e)
	e.start, e.end, e.svc, e.kind = sp.Start, sp.End, svc, kind
	e.hint = peer.Kind
	if e.hint >= numPeerKinds {
		e.hint = PeerUnknown
	}
	switch kind {
	case KindClient, KindProducer:
		if peer.Name != "" || peer.System != "" {
			e.peer = s.allocPeer(&peer)
		}
	case KindUnspecified, KindInternal:
		if peerName(&peer) != "" { // a kind-less client (database, peer.service, messaging)
			e.peer = s.allocPeer(&peer)
		}
	}
	e.flags |= fReal
	s.pendWin[eventtime.FloorDiv(e.end, s.interval)*s.interval]++
	if sp.Error {
		e.flags |= fError
	}
	s.nodes[svc].refs++

	switch {
	case !hasParent:
		e.flags |= fParentDone
		// A root SERVER span is a request from outside; so is a kind-less root span that names
		// no peer (tracers without span kinds: the root of a trace is where a request came in).
		if kind == KindServer || (kind == KindUnspecified && e.peer < 0) {
			s.userCall(idx)
		}
	case s.slot(pidx).flags&fReal != 0:
		s.resolve(pidx, idx)
	default:
		s.link(pidx, idx)
	}
	if exists { // it was a placeholder: settle the children that waited for it
		for c := s.slot(idx).child; c >= 0; {
			next := s.slot(c).next
			s.slot(c).waitOn, s.slot(c).prev, s.slot(c).next = -1, -1, -1
			s.resolve(idx, c)
			c = next
		}
		s.slot(idx).child = -1
		s.retryDeferred(idx)
	}
}

// AddLog is AddLogs for a batch of one record.
func (s *Store) AddLog(l *LogRef) {
	s.begin()
	s.addLog(l)
	s.end()
}

// AddLogs counts one batch of log records, as AddSpans does for spans: every record is counted,
// then the clock observes each service's latest record in the batch and the store advances to
// the clock's time. A record with a peer adds or confirms the edge from its service to that
// peer; otherwise a record with trace and span ids is charged to the edge of its span (or of the
// nearest same-service ancestor with an edge), waiting for that edge if needed. Call StampLogs
// first to guard against skewed clocks.
func (s *Store) AddLogs(logs []LogRef) {
	if len(logs) == 0 {
		return
	}
	s.begin()
	for i := range logs {
		s.addLog(&logs[i])
	}
	s.end()
}

func (s *Store) addLog(l *LogRef) {
	s.stats.LogsIn++
	if l == nil {
		s.dropLog(DropInvalidID)
		return
	}
	if l.Time <= 0 || l.Time > maxEventTime {
		s.dropLog(DropMissingTime)
		return
	}
	service := s.boundName(l.Service, FieldService)
	peer := s.boundPeer(l.Peer)
	if service != "" {
		s.observeLog(service, l.Time)
	}
	var errs uint64
	if l.Error {
		errs = 1
	}
	d := deferredLogs{n: 1, errors: errs, time: l.Time}

	if service != "" && peerName(&peer) != "" {
		svc, ok := s.internNode(service, NodeService, "")
		if !ok {
			s.dropLog(DropNodesFull)
			return
		}
		target, conn, ok := s.peerTarget(svc, &peer, false)
		if !ok {
			s.dropLog(DropNodesFull)
			return
		}
		if target == svc {
			s.dropLog(DropSelfCall)
			return
		}
		ei, ok := s.edgeFor(edgeKey{svc, target, conn}, l.Time)
		if !ok {
			s.stats.LogsDropped++
			return
		}
		s.logOnEdge(ei, d)
		s.stats.LogsPeer++
		return
	}
	if l.TraceID != (TraceID{}) && l.SpanID != (SpanID{}) {
		key := spanKey{l.TraceID, l.SpanID}
		h := s.index.hash(&key)
		idx := s.index.find(h, &key, s.pages)
		if idx < 0 {
			if s.held >= s.cfg.MaxPending {
				s.dropLog(DropPendingFull)
				return
			}
			idx = s.alloc(key, h)
			s.count(s.slot(idx))
		}
		s.addDeferred(idx, d)
		s.retryDeferred(idx)
		return
	}
	if l.Service == "" {
		s.dropLog(DropMissingService)
		return
	}
	s.stats.LogsUnattributed++
}

// Advance raises event time to at least t (eventtime.Clock.AdvanceTo; no-op if t is not later)
// and expires pending spans whose TTL has passed. AddSpans and AddLogs advance it by the clock's
// time after each batch; call Advance to make event time progress without data, e.g. from a wall
// clock when the input is idle.
func (s *Store) Advance(t int64) {
	if t > 0 && t <= maxEventTime {
		s.clock.AdvanceTo(t)
		s.arrival = max(s.arrival, s.clock.Now())
		s.advance(s.arrival)
	}
}

// Watermark returns the store's event time (unix nanoseconds; 0 before any input): the clock's
// time after the last batch, or the last Advance.
func (s *Store) Watermark() int64 { return s.watermark }

// ClosedUpTo returns the end of the last closed window (unix nanoseconds; 0 before any): every
// window ending at or before it has been returned by Flush or FlushAll (if it had data), and
// later data of such a window counts in a later one.
func (s *Store) ClosedUpTo() int64 { return max(s.closedUpTo, 0) }

// Flush returns, oldest first, the windows closed by the watermark (window end +
// AllowedLateness <= watermark) that have at least one edge, and removes edges idle for EdgeTTL.
// ClosedUpTo advances to the end of the last window closed by the watermark, with data or not.
func (s *Store) Flush() []Window {
	limit := s.closeLimit()
	out := s.closeWindows(limit)
	if s.watermark > 0 {
		s.closedUpTo = max(s.closedUpTo, eventtime.FloorDiv(limit, s.interval)*s.interval)
	}
	s.gc()
	return out
}

// FlushAll expires every pending span now (resolving unmatched halves into peer and user
// calls), then returns every window that has data, including the current one. Later data
// for those windows goes to the next window. Meant for shutdown and for the end of a test input.
func (s *Store) FlushAll() []Window {
	for s.fifo.n > 0 {
		el := s.fifo.pop()
		s.expire(el.slot, el.h)
	}
	out := s.closeWindows(math.MaxInt64)
	if s.watermark > 0 {
		s.closedUpTo = max(s.closedUpTo, eventtime.FloorDiv(s.watermark, s.interval)*s.interval+s.interval)
	}
	s.gc()
	return out
}

// Snapshot returns every live edge with its cumulative counts, percentiles and latency
// histograms, sorted by client, server, connection type. Edges past EdgeTTL are left out even
// before Flush removes them.
func (s *Store) Snapshot() []Edge {
	out := make([]Edge, 0, s.stats.Edges)
	for i := range s.edges {
		e := &s.edges[i]
		if !e.live || s.edgeExpired(e) {
			continue
		}
		out = append(out, s.exportEdge(e))
	}
	sortEdges(out)
	return out
}

// Stats returns the counters and current sizes.
func (s *Store) Stats() Stats {
	st := s.stats
	st.Pending = s.held
	st.Entries = s.index.n
	st.Watermark = s.watermark
	return st
}

// --- pending spans ---

func (s *Store) alloc(k spanKey, h uint64) int32 {
	var i int32
	if n := len(s.freeSlot); n > 0 {
		i = s.freeSlot[n-1]
		s.freeSlot = s.freeSlot[:n-1]
	} else {
		if int(s.nslots>>pageBits) == len(s.pages) {
			s.pages = append(s.pages, new([pageSize]entry))
		}
		i = s.nslots
		s.nslots++
	}
	e := s.slot(i)
	*e = entry{key: k, svc: -1, child: -1, prev: -1, next: -1, waitOn: -1, peer: -1, gen: e.gen}
	s.index.insert(h, i)
	s.fifo.push(fifoItem{h: h, slot: i}) // expiry set at the end of the batch
	return i
}

// count makes entry e count towards MaxPending, once.
func (s *Store) count(e *entry) {
	if e.flags&fCounted == 0 {
		e.flags |= fCounted
		s.held++
	}
}

// boundPeer returns p with its name and system bounded (see boundName).
func (s *Store) boundPeer(p Peer) Peer {
	p.Name = s.boundName(p.Name, FieldPeer)
	p.System = s.boundName(p.System, FieldPeerSystem)
	return p
}

func (s *Store) free(i int32, h uint64) {
	e := s.slot(i)
	if e.flags&fCounted != 0 {
		s.held--
	}
	s.index.remove(h, i)
	if e.peer >= 0 {
		s.peers[e.peer] = Peer{}
		s.freePeer = append(s.freePeer, e.peer)
	}
	*e = entry{gen: e.gen + 1, svc: -1, child: -1, prev: -1, next: -1, waitOn: -1, peer: -1}
	s.freeSlot = append(s.freeSlot, i)
}

func (s *Store) allocPeer(p *Peer) int32 {
	if n := len(s.freePeer); n > 0 {
		i := s.freePeer[n-1]
		s.freePeer = s.freePeer[:n-1]
		s.peers[i] = *p
		return i
	}
	s.peers = append(s.peers, *p)
	return int32(len(s.peers) - 1)
}

// link puts child c in the waiting list of placeholder p.
func (s *Store) link(p, c int32) {
	h := s.slot(p).child
	s.slot(c).waitOn, s.slot(c).prev, s.slot(c).next = p, -1, h
	if h >= 0 {
		s.slot(h).prev = c
	}
	s.slot(p).child = c
}

func (s *Store) unlink(c int32) {
	e := s.slot(c)
	if e.prev >= 0 {
		s.slot(e.prev).next = e.next
	} else if e.waitOn >= 0 {
		s.slot(e.waitOn).child = e.next
	}
	if e.next >= 0 {
		s.slot(e.next).prev = e.prev
	}
	e.waitOn, e.prev, e.next = -1, -1, -1
}

func (s *Store) advance(t int64) {
	if t > s.watermark {
		s.watermark = t
	}
	s.arrival = max(s.arrival, s.watermark)
	for s.fifo.n > 0 && s.fifo.peek().expire <= s.watermark {
		// Entries expire in runs, once per batch: load the slab entries and index slots of the
		// next few together, so that their cache misses overlap, then expire them. (Expiring
		// them one by one costs ~10 % more per span at 470k pending.)
		k := min(expireAhead, s.fifo.n)
		var sum uint64
		for j := range k {
			el := s.fifo.at(j)
			if el.expire > s.watermark {
				k = j
				break
			}
			sum += uint64(s.slot(el.slot).flags) + s.index.slots[el.h&s.index.mask].h
		}
		s.sink ^= sum
		for range k {
			el := s.fifo.pop()
			s.expire(el.slot, el.h)
		}
	}
}

// expireAhead is how many due entries advance loads together.
const expireAhead = 8

// insertAhead is how many spans ahead AddSpans hashes and loads index slots.
const insertAhead = 4

// expire removes slot i: an unmatched half becomes a peer or user call, deferred logs are
// charged or given up, children waiting for a placeholder become orphans.
func (s *Store) expire(i int32, h uint64) {
	s.stats.Expired++
	e := s.slot(i)
	if e.flags&fReal == 0 {
		for c := e.child; c >= 0; {
			next := s.slot(c).next
			s.slot(c).waitOn, s.slot(c).prev, s.slot(c).next = -1, -1, -1
			c = next
		}
		e.child = -1
	} else {
		if e.waitOn >= 0 {
			s.unlink(i)
		}
		defer s.unpend(e.end)
		s.selfTime(e)
		switch e.kind {
		case KindClient, KindProducer:
			if e.flags&fMatched == 0 {
				s.stats.UnpairedExpired++
				s.peerCall(i)
			}
		case KindUnspecified, KindInternal:
			if e.peer >= 0 && e.flags&fMatched == 0 { // a kind-less client without a callee span
				s.peerCall(i)
			}
		case KindServer:
			if e.flags&fParentDone == 0 {
				s.stats.UnpairedExpired++
				s.userCall(i)
			}
		case KindConsumer:
			if e.flags&fParentDone == 0 {
				s.stats.UnpairedExpired++
			}
		}
	}
	if s.slot(i).flags&fDeferred != 0 {
		s.settleDeferred(i)
	}
	if sv := s.slot(i).svc; sv >= 0 {
		s.nodes[sv].refs--
	}
	s.free(i, h)
}

// clientLike reports whether a span makes an outgoing call: a CLIENT or PRODUCER, or an
// UNSPECIFIED/INTERNAL span naming a peer (a database, peer.service, a messaging destination).
func clientLike(e *entry) bool {
	switch e.kind {
	case KindClient, KindProducer:
		return true
	case KindUnspecified, KindInternal:
		return e.peer >= 0
	}
	return false
}

// resolve settles the relation between real parent p and real child c.
func (s *Store) resolve(p, c int32) {
	ps, cs := s.slot(p), s.slot(c)
	cs.flags |= fParentDone
	ps.childNs += cs.end - cs.start
	pair := (ps.kind == KindClient && cs.kind == KindServer) || (ps.kind == KindProducer && cs.kind == KindConsumer)
	if ps.svc == cs.svc {
		ps.flags |= fMixed // its own time is partly local work, not only a call's gap
		switch {
		case pair:
			ps.flags |= fMatched
			s.drop(DropSelfCall)
		default:
			cs.parent = mkRef(p, ps.gen)
			if ps.kind <= KindInternal && ps.peer >= 0 && clientLike(cs) {
				ps.flags |= fMatched // the inner client span is the call: count it once
			}
		}
		s.retryDeferred(c)
		return
	}
	ps.flags |= fMatched
	if req, resp := legUs(cs.start-ps.start), legUs(ps.end-cs.end); ps.flags&fLegs == 0 {
		ps.reqUs, ps.respUs = req, resp
		ps.flags |= fLegs
	} else {
		ps.reqUs, ps.respUs = min(ps.reqUs, req), min(ps.respUs, resp)
	}
	cd, pd := cs.end-cs.start, ps.end-ps.start
	if pair {
		conn := ConnMessaging
		if ps.kind == KindClient {
			conn = pairConn(ps.hint, cs.hint)
		}
		r := s.recordCall(&call{
			client: ps.svc, server: cs.svc, conn: conn, t: max(ps.end, cs.end),
			clientLat: pd, serverLat: cd, err: (ps.flags|cs.flags)&fError != 0,
		})
		if r != 0 {
			s.stats.Pairs++
			ps.outEdge, cs.inEdge = r, r
		}
		if ps.kind == KindClient { // a message's consumer may run long after its producer
			noteGap(ps, r)
		}
	} else {
		caller := clientLike(ps)
		r := s.recordCall(&call{
			client: ps.svc, server: cs.svc, conn: ConnInferred, t: cs.end,
			clientLat: -1, serverLat: cd, err: cs.flags&fError != 0 || (caller && ps.flags&fError != 0),
		})
		if r != 0 {
			s.stats.Inferred++
			cs.inEdge = r
			if caller {
				ps.outEdge = r
			}
		}
		noteGap(ps, r)
	}
	s.retryDeferred(c)
	s.retryDeferred(p)
}

// noteGap remembers that call-making span ps has a child on edge r: while all its children in
// other services are on one edge, its own time is that call's gap.
func noteGap(ps *entry, r ref) {
	switch {
	case r == 0:
		ps.flags |= fMixed
	case ps.gapEdge == 0:
		ps.gapEdge = r
	case ps.gapEdge != r:
		ps.flags |= fMixed
	}
}

// userCall counts root span i (SERVER, or kind-less without a peer) as a call from the user node.
func (s *Store) userCall(i int32) {
	u, ok := s.internNode(s.cfg.UserName, NodeUser, "")
	if !ok {
		s.drop(DropNodesFull)
		return
	}
	e := s.slot(i)
	d := e.end - e.start
	r := s.recordCall(&call{
		client: u, server: e.svc, conn: ConnVirtual, t: e.end,
		clientLat: -1, serverLat: d, err: e.flags&fError != 0,
	})
	if r != 0 {
		s.stats.UserCalls++
		e.inEdge = r
		s.retryDeferred(i)
	}
}

// peerCall counts unmatched CLIENT/PRODUCER span i as a call to its peer, if it names one.
func (s *Store) peerCall(i int32) {
	e := s.slot(i)
	if e.peer < 0 {
		return
	}
	p := s.peers[e.peer]
	if peerName(&p) == "" {
		return
	}
	target, conn, ok := s.peerTarget(e.svc, &p, e.kind == KindProducer)
	if !ok {
		s.drop(DropNodesFull)
		return
	}
	d := e.end - e.start
	r := s.recordCall(&call{
		client: e.svc, server: target, conn: conn, t: e.end,
		clientLat: d, serverLat: -1, err: e.flags&fError != 0,
	})
	if r != 0 {
		s.stats.VirtualCalls++
		e.outEdge = r
	}
	if e.childNs == 0 {
		// An uninstrumented peer (a database, a broker, an outside API): the call's time is
		// the best measure of the peer's own time there is.
		s.addOwnTime(target, e.end, d, false, e.flags&fError != 0)
	}
}

// peerName is the node name of a peer: its name, or for databases and brokers its system.
func peerName(p *Peer) string {
	if p.Name != "" {
		return p.Name
	}
	if p.Kind == PeerDatabase || p.Kind == PeerMessaging {
		return p.System
	}
	return ""
}

// peerTarget interns the peer's node and picks the connection type of a call to it. A peer that
// is a known instrumented service reuses an existing edge between the two, whatever its type.
func (s *Store) peerTarget(client int32, p *Peer, producer bool) (int32, ConnType, bool) {
	kind := NodeVirtual
	switch {
	case producer || p.Kind == PeerMessaging:
		kind = NodeMessaging
	case p.Kind == PeerDatabase:
		kind = NodeDatabase
	}
	n, ok := s.internNode(peerName(p), kind, p.System)
	if !ok {
		return -1, 0, false
	}
	if s.nodes[n].kind != NodeService {
		conn := ConnVirtual
		switch kind {
		case NodeMessaging:
			conn = ConnMessaging
		case NodeDatabase:
			conn = ConnDatabase
		}
		return n, conn, true
	}
	conn := pairConn(p.Kind, PeerUnknown)
	if producer {
		conn = ConnMessaging
	}
	if _, ok := s.edgeIdx[edgeKey{client, n, conn}]; !ok {
		for c := ConnType(0); c < numConnTypes; c++ {
			if _, ok := s.edgeIdx[edgeKey{client, n, c}]; ok {
				return n, c, true
			}
		}
	}
	return n, conn, true
}

// pairConn maps the client's hint (else the server's) to a connection type.
func pairConn(client, server PeerKind) ConnType {
	h := client
	if h == PeerUnknown {
		h = server
	}
	switch h {
	case PeerHTTP:
		return ConnHTTP
	case PeerRPC:
		return ConnRPC
	case PeerDatabase:
		return ConnDatabase
	case PeerMessaging:
		return ConnMessaging
	default:
		return ConnDirect
	}
}

// --- logs waiting for an edge ---

func (s *Store) addDeferred(i int32, d deferredLogs) {
	cur := s.deferred[i]
	cur.n += d.n
	cur.errors += d.errors
	cur.time = max(cur.time, d.time)
	s.deferred[i] = cur
	s.slot(i).flags |= fDeferred
}

func (s *Store) takeDeferred(i int32) deferredLogs {
	d := s.deferred[i]
	delete(s.deferred, i)
	s.slot(i).flags &^= fDeferred
	return d
}

// retryDeferred charges the logs waiting on slot i if an edge is now known, or moves them up
// to the ancestor whose edge is still to come.
func (s *Store) retryDeferred(i int32) {
	if s.slot(i).flags&fDeferred == 0 {
		return
	}
	r, wait := s.attribution(i, -1)
	if wait == i {
		return
	}
	d := s.takeDeferred(i)
	switch {
	case r != 0:
		s.logOnEdge(r.idx(), d)
		s.stats.LogsAttributed += d.n
	case wait >= 0:
		s.addDeferred(wait, d)
	default:
		s.stats.LogsUnattributed += d.n
	}
}

// settleDeferred handles the logs of expiring slot i.
func (s *Store) settleDeferred(i int32) {
	r, wait := s.attribution(i, i)
	d := s.takeDeferred(i)
	switch {
	case r != 0:
		s.logOnEdge(r.idx(), d)
		s.stats.LogsAttributed += d.n
	case wait >= 0 && wait != i:
		s.addDeferred(wait, d)
	default:
		s.stats.LogsUnattributed += d.n
	}
}

// attribution walks from slot i up same-service parents. It returns the edge to charge, or
// the slot whose edge is still to come (wait >= 0), or neither. Slot expiring is settled for
// good: it waits for nothing.
func (s *Store) attribution(i, expiring int32) (r ref, wait int32) {
	for range maxChain {
		e := s.slot(i)
		final := i == expiring
		if e.flags&fReal == 0 {
			if final {
				return 0, -1
			}
			return 0, i
		}
		if s.edgeLive(e.outEdge) {
			return e.outEdge, -1
		}
		if s.edgeLive(e.inEdge) {
			return e.inEdge, -1
		}
		if !final && clientLike(e) && e.flags&fMatched == 0 {
			return 0, i
		}
		if p := e.parent; p != 0 && s.slot(p.idx()).gen == p.gen() {
			i = p.idx()
			continue
		}
		if !final && e.flags&fParentDone == 0 {
			return 0, i
		}
		return 0, -1
	}
	return 0, -1
}

// --- nodes ---

// serviceNode interns a span's service, with a one-entry cache for runs of the same service.
func (s *Store) serviceNode(name string) (int32, bool) {
	if s.lastSvcID >= 0 && name == s.lastSvc {
		return s.lastSvcID, true
	}
	i, ok := s.internNode(name, NodeService, "")
	if ok {
		s.lastSvc, s.lastSvcID = s.nodes[i].name, i
	}
	return i, ok
}

// nodeKey is the index key of a node: its name, except for the user node, which has a key of
// its own so that a service that happens to carry the user node's name (a "user" service) stays
// a separate node instead of turning the graph into a cycle through the entry.
func nodeKey(name string, kind NodeKind) string {
	if kind == NodeUser {
		return "\x00user\x00" + name
	}
	return name
}

func (s *Store) internNode(name string, kind NodeKind, system string) (int32, bool) {
	if i, ok := s.nodeIdx[nodeKey(name, kind)]; ok {
		n := &s.nodes[i]
		if kind.rank() > n.kind.rank() {
			n.kind = kind
		}
		if n.kind == NodeService {
			n.system = ""
		} else if n.system == "" && system != "" {
			n.system = strings.Clone(system)
		}
		return i, true
	}
	if s.stats.Nodes >= s.cfg.MaxNodes {
		return -1, false
	}
	name = strings.Clone(name)
	if kind == NodeService {
		system = ""
	}
	nd := node{name: name, system: strings.Clone(system), kind: kind, live: true}
	var i int32
	if n := len(s.freeNode); n > 0 {
		i = s.freeNode[n-1]
		s.freeNode = s.freeNode[:n-1]
		s.nodes[i] = nd
	} else {
		s.nodes = append(s.nodes, nd)
		i = int32(len(s.nodes) - 1)
	}
	s.nodeIdx[nodeKey(name, kind)] = i
	s.stats.Nodes++
	return i, true
}

func (s *Store) exportNode(i int32) Node {
	n := &s.nodes[i]
	return Node{Name: n.name, Kind: n.kind, System: n.system}
}

// --- edges ---

func (s *Store) edgeLive(r ref) bool {
	if r == 0 {
		return false
	}
	i := r.idx()
	return i >= 0 && int(i) < len(s.edges) && s.edges[i].live && s.edges[i].gen == r.gen()
}

func (s *Store) edgeExpired(e *edge) bool {
	return s.watermark > 0 && e.lastSeen <= s.watermark-s.edgeTTL
}

// edgeFor returns the edge of k, creating it (first seen at t) within MaxEdges.
func (s *Store) edgeFor(k edgeKey, t int64) (int32, bool) {
	if i, ok := s.edgeIdx[k]; ok {
		return i, true
	}
	if s.stats.Edges >= s.cfg.MaxEdges {
		s.drop(DropEdgesFull)
		return -1, false
	}
	var i int32
	if n := len(s.freeEdge); n > 0 {
		i = s.freeEdge[n-1]
		s.freeEdge = s.freeEdge[:n-1]
	} else {
		s.edges = append(s.edges, edge{})
		i = int32(len(s.edges) - 1)
	}
	e := &s.edges[i]
	e.key, e.live, e.firstSeen, e.lastSeen = k, true, t, t
	s.edgeIdx[k] = i
	s.nodes[k.client].refs++
	s.nodes[k.server].refs++
	s.stats.Edges++
	s.stats.EdgesCreated++
	return i, true
}

func (s *Store) removeEdge(i int32) {
	e := &s.edges[i]
	delete(s.edgeIdx, e.key)
	s.nodes[e.key.client].refs--
	s.nodes[e.key.server].refs--
	for j := range e.wins {
		s.releaseWin(&e.wins[j])
	}
	*e = edge{gen: e.gen + 1}
	s.freeEdge = append(s.freeEdge, i)
	s.stats.Edges--
}

// recordCall counts c on its edge and in its window; it returns the edge, or 0 if dropped.
func (s *Store) recordCall(c *call) ref {
	if c.client == c.server {
		s.drop(DropSelfCall)
		return 0
	}
	ei, ok := s.edgeFor(edgeKey{c.client, c.server, c.conn}, c.t)
	if !ok {
		return 0
	}
	e := &s.edges[ei]
	e.calls++
	if c.err {
		e.errors++
	}
	e.source |= SourceTraces
	e.firstSeen = min(e.firstSeen, c.t)
	e.lastSeen = max(e.lastSeen, c.t)
	if c.clientLat >= 0 {
		e.lat.add(c.clientLat)
		e.client.add(s.boundsNs, c.clientLat)
	} else {
		e.lat.add(c.serverLat)
	}
	if c.serverLat >= 0 {
		e.server.add(s.boundsNs, c.serverLat)
	}
	w := s.winAgg(ei, c.t)
	w.calls++
	if c.err {
		w.errors++
	}
	w.source |= SourceTraces
	w.last = max(w.last, c.t)
	switch {
	case c.clientLat >= 0:
		w.clientN++
		w.skc = s.sketchAdd(w.skc, c.clientLat)
		if c.serverLat >= 0 {
			w.serverN++
			w.sks = s.sketchAdd(w.sks, c.serverLat)
		}
	default:
		w.serverN++
		w.sko = s.sketchAdd(w.sko, c.serverLat)
	}
	return mkRef(ei, e.gen)
}

func (s *Store) logOnEdge(ei int32, d deferredLogs) {
	e := &s.edges[ei]
	e.logErrors += d.errors
	e.source |= SourceLogs
	e.firstSeen = min(e.firstSeen, d.time)
	e.lastSeen = max(e.lastSeen, d.time)
	w := s.winAgg(ei, d.time)
	w.logErrors += d.errors
	w.source |= SourceLogs
	w.last = max(w.last, d.time)
}

func (s *Store) exportEdge(e *edge) Edge {
	return Edge{
		Client:        s.exportNode(e.key.client),
		Server:        s.exportNode(e.key.server),
		Conn:          e.key.conn,
		Calls:         e.calls,
		Errors:        e.errors,
		LogErrors:     e.logErrors,
		Latency:       e.lat.latency(),
		Source:        e.source,
		FirstSeen:     e.firstSeen,
		LastSeen:      e.lastSeen,
		ClientLatency: e.client.export(s.cfg.LatencyBuckets),
		ServerLatency: e.server.export(s.cfg.LatencyBuckets),
	}
}

// gc removes edges idle for EdgeTTL (unless a window still holds them) and unreferenced nodes.
func (s *Store) gc() {
	for i := range s.edges {
		e := &s.edges[i]
		if e.live && len(e.wins) == 0 && s.edgeExpired(e) {
			s.removeEdge(int32(i))
			s.stats.EdgesExpired++
		}
	}
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.live && n.refs <= 0 {
			delete(s.nodeIdx, nodeKey(n.name, n.kind))
			*n = node{}
			s.freeNode = append(s.freeNode, int32(i))
			s.stats.Nodes--
			s.stats.NodesExpired++
		}
	}
	s.lastSvc, s.lastSvcID = "", -1
}

// --- windows ---

func satSub(a, b int64) int64 {
	if b > 0 && a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// closeLimit is how far windows may close: event time minus the allowed lateness, but not past
// the window of a pending span's end.
func (s *Store) closeLimit() int64 {
	limit := satSub(s.watermark, s.lateness)
	for w, n := range s.pendWin {
		if n > 0 && w+s.interval > s.closedUpTo {
			limit = min(limit, w)
		}
	}
	return limit
}

// unpend forgets a pending real span ending at end.
func (s *Store) unpend(end int64) {
	w := eventtime.FloorDiv(end, s.interval) * s.interval
	if s.pendWin[w]--; s.pendWin[w] <= 0 {
		delete(s.pendWin, w)
	}
}

// windowStart is the start of t's window, or of the first open window if t's is closed (a late
// event, counted).
func (s *Store) windowStart(t int64) int64 {
	st, late := s.windowOf(t)
	if late {
		s.stats.LateEvents++
	}
	return st
}

// windowOf is the start of t's window, or of the first open window if t's is closed (late). A
// window is open until a Flush emits it.
func (s *Store) windowOf(t int64) (int64, bool) {
	st := eventtime.FloorDiv(t, s.interval) * s.interval
	if st < s.closedUpTo {
		return s.closedUpTo, true
	}
	return st, false
}

func (s *Store) winAgg(ei int32, t int64) *winAgg {
	return s.winAggAt(ei, s.windowStart(t))
}

// winAggAt returns edge ei's aggregate of the open window starting at st.
func (s *Store) winAggAt(ei int32, st int64) *winAgg {
	e := &s.edges[ei]
	for i := range e.wins {
		if e.wins[i].start == st {
			return &e.wins[i]
		}
	}
	e.wins = append(e.wins, winAgg{start: st})
	ow := s.openWin(st)
	ow.edges = append(ow.edges, ei)
	return &e.wins[len(e.wins)-1]
}

// openWin returns the open window starting at st, inserting it if needed.
func (s *Store) openWin(st int64) *openWindow {
	j := len(s.open)
	for j > 0 && s.open[j-1].start > st {
		j--
	}
	if j > 0 && s.open[j-1].start == st {
		return &s.open[j-1]
	}
	s.open = slices.Insert(s.open, j, openWindow{start: st})
	return &s.open[j]
}

// selfTime counts real span e's own time (its duration minus its resolved children's, at least
// 0) for its service in the window of its end. A span that calls out (a CLIENT or PRODUCER span,
// or a kind-less span naming a peer) counts as egress time instead: the time between the caller
// and the callee's own span (network, connection pools, the caller's egress).
//
// A span whose children in other services are all on one edge (and that has no child in its own
// service) is a call, whatever its kind: its own time is the gap between the caller and the
// callee's span, counted as egress and, on that edge, as the call's gap (Edge.Gap).
func (s *Store) selfTime(e *entry) {
	if e.svc < 0 || int(e.svc) >= len(s.nodes) || s.nodes[e.svc].kind != NodeService {
		return
	}
	if clientLike(e) && e.flags&fMatched == 0 && e.childNs == 0 {
		return // a call to an uninstrumented peer: its time is the peer's (peerCall)
	}
	self := max(e.end-e.start-e.childNs, 0)
	gap := e.flags&fMixed == 0 && s.edgeLive(e.gapEdge)
	if gap {
		w := s.winAggAt(e.gapEdge.idx(), max(eventtime.FloorDiv(e.end, s.interval)*s.interval, s.closedUpTo))
		w.gapN++
		w.skg = s.sketchAdd(w.skg, self)
		if e.flags&fLegs != 0 {
			w.gapReq += int64(e.reqUs) * 1000
			w.gapResp += int64(e.respUs) * 1000
		}
	}
	s.addOwnTime(e.svc, e.end, self, gap || clientLike(e), e.flags&fError != 0)
}

// addOwnTime counts d nanoseconds of node n's own time (egress: of a call-making span) in the
// window of end.
func (s *Store) addOwnTime(n int32, end, self int64, egress, failed bool) {
	if n < 0 || int(n) >= len(s.nodes) || s.nodes[n].kind == NodeUser {
		return
	}
	// The span's own window unless a Flush has already emitted it: its expiry (its end plus
	// PendingTTL, within AllowedLateness) is never later than its window's close in event time,
	// even when one batch moved the watermark past both.
	st := max(eventtime.FloorDiv(end, s.interval)*s.interval, s.closedUpTo)
	ow := s.openWin(st)
	name := s.nodes[n].name
	sw := ow.svcs[name]
	if sw == nil {
		if len(ow.svcs) >= s.cfg.MaxNodes {
			return
		}
		if ow.svcs == nil {
			ow.svcs = map[string]*ServiceWindow{}
		}
		sw = &ServiceWindow{Service: name}
		ow.svcs[name] = sw
	}
	if egress {
		sw.EgressSpans++
		sw.EgressNs += self
		return
	}
	sw.Spans++
	sw.SelfNs += self
	if failed {
		sw.Errors++
	}
}

// closeWindows emits and forgets the open windows ending at or before limit.
func (s *Store) closeWindows(limit int64) []Window {
	var out []Window
	n := 0
	for _, ow := range s.open {
		end := ow.start + s.interval
		if end > limit {
			break
		}
		w := Window{Start: ow.start, End: end, Edges: make([]Edge, 0, len(ow.edges))}
		if len(ow.svcs) > 0 {
			w.Services = make([]ServiceWindow, 0, len(ow.svcs))
			for _, sw := range ow.svcs {
				w.Services = append(w.Services, *sw)
			}
			slices.SortFunc(w.Services, func(a, b ServiceWindow) int { return strings.Compare(a.Service, b.Service) })
		}
		for _, ei := range ow.edges {
			e := &s.edges[ei]
			for j := range e.wins {
				if e.wins[j].start != ow.start {
					continue
				}
				wa := &e.wins[j]
				w.Edges = append(w.Edges, Edge{
					Client:          s.exportNode(e.key.client),
					Server:          s.exportNode(e.key.server),
					Conn:            e.key.conn,
					Calls:           wa.calls,
					Errors:          wa.errors,
					LogErrors:       wa.logErrors,
					Latency:         s.mergedLatency(wa.skc, wa.sko),
					Source:          wa.source,
					FirstSeen:       e.firstSeen,
					LastSeen:        wa.last,
					ClientSide:      wa.skc.latency(),
					ServerSide:      s.mergedLatency(wa.sks, wa.sko),
					ClientSideCalls: wa.clientN,
					ServerSideCalls: wa.serverN,
					Gap:             wa.skg.latency(),
					GapCalls:        wa.gapN,
					GapRequest:      meanMs(wa.gapReq, wa.gapN),
					GapResponse:     meanMs(wa.gapResp, wa.gapN),
				})
				s.releaseWin(wa)
				last := len(e.wins) - 1
				e.wins[j] = e.wins[last]
				e.wins[last] = winAgg{}
				e.wins = e.wins[:last]
				break
			}
		}
		sortEdges(w.Edges)
		out = append(out, w)
		s.closedUpTo = max(s.closedUpTo, end)
		s.stats.WindowsEmitted++
		n++
	}
	if n > 0 {
		rest := copy(s.open, s.open[n:])
		clear(s.open[rest:])
		s.open = s.open[:rest]
	}
	return out
}

func (s *Store) getSketch() *sketch {
	if n := len(s.skPool); n > 0 {
		sk := s.skPool[n-1]
		s.skPool = s.skPool[:n-1]
		return sk
	}
	return new(sketch)
}

func (s *Store) putSketch(sk *sketch) {
	if sk == nil {
		return
	}
	*sk = sketch{}
	s.skPool = append(s.skPool, sk)
}

// sketchAdd adds v to sk, taking a sketch from the pool when sk is nil.
func (s *Store) sketchAdd(sk *sketch, v int64) *sketch {
	if sk == nil {
		sk = s.getSketch()
	}
	sk.add(v)
	return sk
}

// meanMs is sum nanoseconds over n, in milliseconds (0 for no n).
func meanMs(sum int64, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n) / 1e6
}

// releaseWin returns a window aggregate's sketches to the pool.
func (s *Store) releaseWin(w *winAgg) {
	s.putSketch(w.skc)
	s.putSketch(w.sks)
	s.putSketch(w.sko)
	s.putSketch(w.skg)
	w.skc, w.sks, w.sko, w.skg = nil, nil, nil, nil
}

// mergedLatency is the latency of the union of a and b (either may be nil).
func (s *Store) mergedLatency(a, b *sketch) Latency {
	switch {
	case a == nil || a.n == 0:
		return b.latency()
	case b == nil || b.n == 0:
		return a.latency()
	}
	s.scratch = *a
	s.scratch.merge(b)
	return s.scratch.latency()
}

func sortEdges(es []Edge) {
	slices.SortFunc(es, func(a, b Edge) int {
		return cmp.Or(
			strings.Compare(a.Client.Name, b.Client.Name),
			strings.Compare(a.Server.Name, b.Server.Name),
			cmp.Compare(a.Conn, b.Conn),
		)
	})
}

func (s *Store) drop(r DropReason) { s.stats.Dropped[r]++ }

func (s *Store) dropLog(r DropReason) {
	s.stats.Dropped[r]++
	s.stats.LogsDropped++
}

// fifoItem is a pending entry in arrival order, with what its expiry needs without touching
// the slab: its expiry time and its index hash.
type fifoItem struct {
	h      uint64
	expire int64 // watermark at arrival + PendingTTL
	slot   int32
}

// ring is a FIFO that grows by doubling.
type ring struct {
	buf  []fifoItem
	head int
	n    int
}

func (r *ring) push(v fifoItem) {
	if r.n == len(r.buf) {
		nb := make([]fifoItem, max(64, 2*len(r.buf)))
		for i := range r.n {
			nb[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

func (r *ring) peek() fifoItem { return r.buf[r.head] }

// at returns the i-th item from the head.
func (r *ring) at(i int) fifoItem { return r.buf[(r.head+i)&(len(r.buf)-1)] }

// setExpiry sets the expiry of the items from the from-th to the last.
func (r *ring) setExpiry(from int, expire int64) {
	for i := from; i < r.n; i++ {
		r.buf[(r.head+i)&(len(r.buf)-1)].expire = expire
	}
}

func (r *ring) pop() fifoItem {
	v := r.buf[r.head]
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}

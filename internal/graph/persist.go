// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strings"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

// Persistence format (all integers varint/uvarint unless noted; see docs/graph.md):
//
//	magic "LGRF" | version uint16 big-endian (1) | body | crc32 IEEE of all previous bytes, big-endian
//	body: watermark, closedUpTo, bounds (count, float64 bits LE each),
//	      nodes (count; name, kind byte, system), edges (count; client, server node indexes,
//	      conn byte, source byte, calls, errors, logErrors, firstSeen, lastSeen, sketch, client
//	      histogram, server histogram)
//	sketch: n (0 = empty), then min, max, non-empty bucket count, (index delta, count) pairs
//	histogram: present byte; if 1: sum float64 bits LE, count, len(bounds)+1 bucket counts
const (
	persistMagic   = "LGRF"
	persistVersion = 1
	maxNameLen     = 1 << 16
)

var (
	// ErrCorrupt is returned (wrapped) by UnmarshalBinary for data that is not a valid snapshot.
	ErrCorrupt = errors.New("graph: corrupt snapshot")
	// ErrVersion is returned (wrapped) by UnmarshalBinary for a snapshot of an unknown version.
	ErrVersion = errors.New("graph: unsupported snapshot version")
)

// MarshalBinary encodes the live edges and their nodes, the watermark and the closed-window
// mark. Pending spans, logs waiting for an edge and open windows are not included: call it
// after FlushAll to lose nothing. The output is deterministic.
func (s *Store) MarshalBinary() ([]byte, error) {
	var live []int32
	for i := range s.edges {
		if s.edges[i].live && !s.edgeExpired(&s.edges[i]) {
			live = append(live, int32(i))
		}
	}
	slices.SortFunc(live, func(a, b int32) int {
		ka, kb := s.edges[a].key, s.edges[b].key
		if c := strings.Compare(s.nodes[ka.client].name, s.nodes[kb.client].name); c != 0 {
			return c
		}
		if c := strings.Compare(s.nodes[ka.server].name, s.nodes[kb.server].name); c != 0 {
			return c
		}
		return int(ka.conn) - int(kb.conn)
	})
	var nodeIDs []int32
	seen := make(map[int32]bool)
	for _, ei := range live {
		for _, n := range []int32{s.edges[ei].key.client, s.edges[ei].key.server} {
			if !seen[n] {
				seen[n] = true
				nodeIDs = append(nodeIDs, n)
			}
		}
	}
	slices.SortFunc(nodeIDs, func(a, b int32) int { return strings.Compare(s.nodes[a].name, s.nodes[b].name) })
	pos := make(map[int32]uint64, len(nodeIDs))
	for i, n := range nodeIDs {
		pos[n] = uint64(i)
	}

	b := make([]byte, 0, 64+len(live)*96)
	b = append(b, persistMagic...)
	b = binary.BigEndian.AppendUint16(b, persistVersion)
	b = binary.AppendVarint(b, s.watermark)
	b = binary.AppendVarint(b, s.closedUpTo)
	b = binary.AppendUvarint(b, uint64(len(s.cfg.LatencyBuckets)))
	for _, v := range s.cfg.LatencyBuckets {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	b = binary.AppendUvarint(b, uint64(len(nodeIDs)))
	for _, n := range nodeIDs {
		nd := &s.nodes[n]
		b = appendString(b, nd.name)
		b = append(b, byte(nd.kind))
		b = appendString(b, nd.system)
	}
	b = binary.AppendUvarint(b, uint64(len(live)))
	for _, ei := range live {
		e := &s.edges[ei]
		b = binary.AppendUvarint(b, pos[e.key.client])
		b = binary.AppendUvarint(b, pos[e.key.server])
		b = append(b, byte(e.key.conn), byte(e.source))
		b = binary.AppendUvarint(b, e.calls)
		b = binary.AppendUvarint(b, e.errors)
		b = binary.AppendUvarint(b, e.logErrors)
		b = binary.AppendVarint(b, e.firstSeen)
		b = binary.AppendVarint(b, e.lastSeen)
		b = appendSketch(b, &e.lat)
		b = appendHist(b, &e.client)
		b = appendHist(b, &e.server)
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendSketch(b []byte, sk *sketch) []byte {
	b = binary.AppendUvarint(b, sk.n)
	if sk.n == 0 {
		return b
	}
	b = binary.AppendVarint(b, sk.min)
	b = binary.AppendVarint(b, sk.max)
	nz := 0
	for _, c := range sk.counts {
		if c != 0 {
			nz++
		}
	}
	b = binary.AppendUvarint(b, uint64(nz))
	last := 0
	for i, c := range sk.counts {
		if c != 0 {
			b = binary.AppendUvarint(b, uint64(i-last))
			b = binary.AppendUvarint(b, uint64(c))
			last = i
		}
	}
	return b
}

func appendHist(b []byte, h *hist) []byte {
	if h.counts == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.sum))
	b = binary.AppendUvarint(b, h.n)
	for _, c := range h.counts {
		b = binary.AppendUvarint(b, c)
	}
	return b
}

// decoded is a fully validated snapshot, applied only when decoding succeeded.
type decoded struct {
	watermark, closedUpTo int64
	bounds                []float64
	nodes                 []node
	edges                 []edge
}

// UnmarshalBinary replaces the store's graph with a snapshot from MarshalBinary: edges, nodes,
// watermark and closed-window mark are restored; pending spans, waiting logs and open windows
// are discarded; counters are kept. Meant for a store that has not received data yet. Corrupt,
// truncated or unknown-version data returns an error wrapping ErrCorrupt or ErrVersion and
// leaves the store unchanged. Edges beyond MaxEdges or MaxNodes (after a configuration
// change) are dropped, least recently seen first, and counted; latency histograms recorded
// with other bucket bounds are reset.
func (s *Store) UnmarshalBinary(data []byte) error {
	d, err := decode(data)
	if err != nil {
		return err
	}
	s.apply(d)
	return nil
}

// Restore is UnmarshalBinary for a store started at wall-clock time wall (unix nanoseconds): a
// watermark that is not plausible at wall (before 1971, or ahead of it by more than
// Clock.MaxSkew: see eventtime.SaneRestore) is not restored, nor is the closed-window mark, so
// a snapshot cannot carry a poisoned clock into the next run. The edges are restored either way.
// It reports whether the watermark was discarded.
func (s *Store) Restore(data []byte, wall int64) (discarded bool, err error) {
	d, err := decode(data)
	if err != nil {
		return false, err
	}
	if d.watermark != 0 && eventtime.SaneRestore(d.watermark, wall, s.cfg.Clock.MaxSkew) == 0 {
		d.watermark, d.closedUpTo, discarded = 0, math.MinInt64, true
	}
	if d.watermark > 0 && d.closedUpTo != math.MinInt64 {
		d.closedUpTo = min(d.closedUpTo, eventtime.FloorDiv(d.watermark, s.interval)*s.interval+s.interval)
	}
	s.apply(d)
	return discarded, nil
}

func decode(data []byte) (*decoded, error) {
	if len(data) < len(persistMagic)+2+4 || string(data[:len(persistMagic)]) != persistMagic {
		return nil, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	if v := binary.BigEndian.Uint16(data[len(persistMagic):]); v != persistVersion {
		return nil, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	r := &reader{b: body[len(persistMagic)+2:]}
	d := &decoded{}
	d.watermark = r.varint()
	d.closedUpTo = r.varint()
	if r.err == nil && (d.watermark < 0 || d.watermark > maxEventTime ||
		(d.closedUpTo != math.MinInt64 && (d.closedUpTo < 0 || d.closedUpTo > maxEventTime+maxDuration))) {
		r.fail("bad watermark")
	}
	nb := r.count(8)
	if nb > maxBuckets {
		r.fail("too many bounds")
	}
	for i := 0; r.err == nil && i < nb; i++ {
		d.bounds = append(d.bounds, math.Float64frombits(r.u64()))
	}
	if r.err == nil && validateBuckets(d.bounds) != nil {
		r.fail("bad bounds")
	}
	nn := r.count(3)
	names := make(map[string]bool, nn)
	for i := 0; r.err == nil && i < nn; i++ {
		name := r.str()
		kind := NodeKind(r.byte())
		system := r.str()
		switch {
		case r.err != nil:
		case name == "" || names[nodeKey(name, kind)]:
			r.fail("bad node name")
		case kind >= numNodeKinds:
			r.fail("bad node kind")
		default:
			names[nodeKey(name, kind)] = true
			d.nodes = append(d.nodes, node{name: name, kind: kind, system: system, live: true})
		}
	}
	ne := r.count(12)
	keys := make(map[edgeKey]bool, ne)
	for i := 0; r.err == nil && i < ne; i++ {
		var e edge
		client, server := r.uvarint(), r.uvarint()
		conn, src := ConnType(r.byte()), Source(r.byte())
		e.calls, e.errors, e.logErrors = r.uvarint(), r.uvarint(), r.uvarint()
		e.firstSeen, e.lastSeen = r.varint(), r.varint()
		r.sketch(&e.lat)
		r.hist(&e.client, nb)
		r.hist(&e.server, nb)
		if r.err != nil {
			break
		}
		if client >= uint64(nn) || server >= uint64(nn) || client == server || conn >= numConnTypes ||
			src == 0 || src&^sourceAll != 0 || e.errors > e.calls ||
			e.firstSeen <= 0 || e.firstSeen > e.lastSeen || e.lastSeen > maxEventTime {
			r.fail("bad edge")
			break
		}
		e.key = edgeKey{int32(client), int32(server), conn}
		if keys[e.key] {
			r.fail("duplicate edge")
			break
		}
		keys[e.key] = true
		e.source, e.live = src, true
		d.edges = append(d.edges, e)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return d, nil
}

// apply resets the store to d. It cannot fail; bounds are enforced with counters.
func (s *Store) apply(d *decoded) {
	for i := range s.edges {
		for j := range s.edges[i].wins {
			s.releaseWin(&s.edges[i].wins[j])
		}
	}
	s.index = newSpanTable()
	s.pages, s.nslots, s.freeSlot, s.fifo, s.held = nil, 0, nil, ring{}, 0
	s.peers, s.freePeer = nil, nil
	s.deferred = make(map[int32]deferredLogs)
	s.nodeIdx = make(map[string]int32)
	s.nodes, s.freeNode = nil, nil
	s.lastSvc, s.lastSvcID = "", -1
	s.edgeIdx = make(map[edgeKey]int32)
	s.edges, s.freeEdge = nil, nil
	s.open = nil
	clear(s.pendWin)
	s.stats.Nodes, s.stats.Edges = 0, 0
	s.watermark, s.closedUpTo, s.arrival = d.watermark, d.closedUpTo, d.watermark
	s.clock = eventtime.New(s.cfg.Clock)
	s.clock.AdvanceTo(d.watermark)

	sameBounds := slices.Equal(d.bounds, s.cfg.LatencyBuckets)
	order := make([]int, len(d.edges))
	for i := range order {
		order[i] = i
	}
	// Most recently seen first, so that tighter bounds keep the freshest edges.
	slices.SortStableFunc(order, func(a, b int) int {
		la, lb := d.edges[a].lastSeen, d.edges[b].lastSeen
		switch {
		case la > lb:
			return -1
		case la < lb:
			return 1
		}
		return 0
	})
	for _, oi := range order {
		de := &d.edges[oi]
		if s.edgeExpired(de) {
			s.stats.EdgesExpired++
			continue
		}
		if s.stats.Edges >= s.cfg.MaxEdges {
			s.drop(DropEdgesFull)
			continue
		}
		cn, sn := d.nodes[de.key.client], d.nodes[de.key.server]
		// A snapshot written before names were bounded may hold longer ones: truncate them as
		// new input would be, so that restored edges join the new data.
		ci, ok1 := s.internNode(s.boundNode(cn))
		si, ok2 := s.internNode(s.boundNode(sn))
		if !ok1 || !ok2 {
			s.drop(DropNodesFull)
			continue
		}
		ei, _ := s.edgeFor(edgeKey{ci, si, de.key.conn}, de.firstSeen)
		e := &s.edges[ei]
		gen := e.gen
		*e = *de
		e.key, e.gen, e.live, e.wins = edgeKey{ci, si, de.key.conn}, gen, true, nil
		if !sameBounds {
			e.client, e.server = hist{}, hist{}
		}
	}
	s.gc()
}

// boundNode returns the bounded name, kind and system of a decoded node (see boundName).
func (s *Store) boundNode(n node) (string, NodeKind, string) {
	f := FieldPeer
	if n.kind == NodeService {
		f = FieldService
	}
	return s.boundName(n.name, f), n.kind, s.boundName(n.system, FieldPeerSystem)
}

// reader decodes with bounds checks; the first error sticks and later reads return zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// count reads an element count and checks it against the bytes left (each element needs at
// least minSize bytes), so corrupt counts cannot trigger huge allocations.
func (r *reader) count(minSize int) int {
	v := r.uvarint()
	if r.err == nil && v > uint64(len(r.b)/minSize) {
		r.fail("bad count")
		return 0
	}
	return int(v)
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > maxNameLen || n > uint64(len(r.b)) {
		r.fail("bad string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) sketch(sk *sketch) {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return
	}
	sk.min, sk.max = r.varint(), r.varint()
	nz := r.count(2)
	if r.err == nil && (sk.min < 0 || sk.min > sk.max || nz == 0 || nz > skBuckets) {
		r.fail("bad sketch")
		return
	}
	idx := 0
	var total uint64
	for i := 0; r.err == nil && i < nz; i++ {
		delta, c := r.uvarint(), r.uvarint()
		if r.err != nil {
			return
		}
		if (i > 0 && delta == 0) || delta >= skBuckets || uint64(idx)+delta >= skBuckets || c == 0 || c > math.MaxUint32 {
			r.fail("bad sketch bucket")
			return
		}
		idx += int(delta)
		sk.counts[idx] = uint32(c)
		total += c
	}
	if r.err == nil && total != n {
		r.fail("bad sketch total")
		return
	}
	sk.n = n
}

func (r *reader) hist(h *hist, nb int) {
	switch r.byte() {
	case 0:
		return
	case 1:
	default:
		r.fail("bad histogram")
		return
	}
	h.sum = math.Float64frombits(r.u64())
	h.n = r.uvarint()
	if r.err == nil && (math.IsNaN(h.sum) || math.IsInf(h.sum, 0) || h.sum < 0) {
		r.fail("bad histogram sum")
		return
	}
	h.counts = make([]uint64, 0, min(nb+1, len(r.b)))
	var total uint64
	for i := 0; r.err == nil && i <= nb; i++ {
		c := r.uvarint()
		total += c
		if total < c {
			r.fail("histogram overflow")
		}
		h.counts = append(h.counts, c)
	}
	if r.err == nil && total != h.n {
		r.fail("bad histogram total")
	}
}

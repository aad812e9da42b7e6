// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

import (
	"strconv"
	"unicode/utf8"
)

// MaxNameBytes bounds every name the store keeps: service names, peer names and peer systems
// (node names and systems, the peers of pending spans, the event-time clock's sources). A
// longer name is replaced by TruncateName's result, which is at most MaxNameBytes long.
const MaxNameBytes = 256

// TruncatedMarker separates the kept prefix of a truncated name from the hash of the full name.
const TruncatedMarker = "…"

// truncHashLen is the length of the hexadecimal hash that ends a truncated name.
const truncHashLen = 8

// NameField says which name was truncated.
type NameField uint8

// Name fields.
const (
	FieldService    NameField = iota // service.name of a span or log record
	FieldPeer                        // a peer's name (peer.service, server.address, db.namespace ...)
	FieldPeerSystem                  // a peer's system (db.system.name, messaging.system, rpc.system)
	NumNameFields
)

// String returns "service", "peer" or "peer_system".
func (f NameField) String() string {
	switch f {
	case FieldService:
		return "service"
	case FieldPeer:
		return "peer"
	case FieldPeerSystem:
		return "peer_system"
	default:
		return "invalid"
	}
}

// TruncateName returns name when it is at most MaxNameBytes long. Otherwise it returns a new
// string (sharing no memory with name) of at most MaxNameBytes bytes: the longest prefix of name
// that ends at a UTF-8 boundary and leaves room for the suffix, then TruncatedMarker, then 8 hex
// digits of the FNV-1a hash of the whole name. The result depends on name only, so every
// occurrence of a long name maps to the same node (edges still join, across restarts too), and
// two long names with a common prefix stay apart. A truncated name is never truncated again.
func TruncateName(name string) (string, bool) {
	if len(name) <= MaxNameBytes {
		return name, false
	}
	cut := MaxNameBytes - len(TruncatedMarker) - truncHashLen
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	h := uint32(2166136261) // FNV-1a, 32 bits: stable across processes (snapshots keep names)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	b := make([]byte, 0, MaxNameBytes)
	b = append(b, name[:cut]...)
	b = append(b, TruncatedMarker...)
	sum := strconv.AppendUint(nil, uint64(h), 16)
	for range truncHashLen - len(sum) {
		b = append(b, '0')
	}
	b = append(b, sum...)
	return string(b), true
}

// boundName truncates name (see TruncateName) and counts the truncation under field f.
func (s *Store) boundName(name string, f NameField) string {
	if len(name) <= MaxNameBytes {
		return name
	}
	s.stats.Truncated[f]++
	name, _ = TruncateName(name)
	return name
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

import "hash/maphash"

// spanTable indexes the pending slab by span key. It is an open-addressing hash table with
// linear probing and backward-shift deletion: no tombstones, so probe sequences stay short
// under the constant insert/expire churn of the pending store (Go's map degrades there), and
// 16-byte slots keep more of it in cache. It stores only 64-bit hashes; the full key is
// checked against the slab entry, so hash collisions are harmless. The hash is seeded per
// table, so crafted ids cannot predict collisions.
type spanTable struct {
	seed  maphash.Seed
	slots []tslot
	mask  uint64
	n     int
}

type tslot struct {
	h uint64 // 0: empty
	v int32
}

const tableMinCap = 1024

func newSpanTable() spanTable {
	return spanTable{seed: maphash.MakeSeed(), slots: make([]tslot, tableMinCap), mask: tableMinCap - 1}
}

func (t *spanTable) hash(k *spanKey) uint64 {
	return maphash.Comparable(t.seed, *k) | 1<<63 // never 0; the low bits pick the home slot
}

// find returns the slab index of k (whose hash is h), or -1.
func (t *spanTable) find(h uint64, k *spanKey, pages []*[pageSize]entry) int32 {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.h == 0 {
			return -1
		}
		if s.h == h && pages[s.v>>pageBits][s.v&(pageSize-1)].key == *k {
			return s.v
		}
	}
}

// insert adds a key of hash h -> v; the key must not be present.
func (t *spanTable) insert(h uint64, v int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	t.put(h, v)
	t.n++
}

func (t *spanTable) put(h uint64, v int32) {
	i := h & t.mask
	for t.slots[i].h != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = tslot{h, v}
}

func (t *spanTable) grow() {
	old := t.slots
	t.slots = make([]tslot, 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.h != 0 {
			t.put(s.h, s.v)
		}
	}
}

// remove deletes the entry of hash h that points to v, shifting later entries of the probe run back.
func (t *spanTable) remove(h uint64, v int32) {
	i := h & t.mask
	for {
		s := t.slots[i]
		if s.h == 0 {
			return // not present
		}
		if s.h == h && s.v == v {
			break
		}
		i = (i + 1) & t.mask
	}
	t.n--
	for {
		j := i
		for {
			j = (j + 1) & t.mask
			s := t.slots[j]
			if s.h == 0 {
				t.slots[i] = tslot{}
				return
			}
			home := s.h & t.mask
			// s may move back to i unless its home lies cyclically in (i, j].
			if (i <= j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
				t.slots[i] = s
				i = j
				break
			}
		}
	}
}

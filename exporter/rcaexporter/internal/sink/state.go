// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"container/list"
	"context"
)

// Store is the small key/value store a sink keeps state in across collector restarts. A storage
// extension client (go.opentelemetry.io/collector/extension/xextension/storage.Client)
// satisfies it. Get of a missing key returns (nil, nil).
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
}

// Events receives the sinks' internal events, for the exporter's telemetry. Nil funcs are
// ignored; the zero value discards everything.
type Events struct {
	// Dropped reports n items of sink state dropped because a bound was hit, by reason.
	Dropped func(reason string, n int)
	// StorageError reports a failed load or save of a sink's persisted state, by operation.
	StorageError func(op string)
}

func (e Events) dropped(reason string, n int) {
	if e.Dropped != nil && n > 0 {
		e.Dropped(reason, n)
	}
}

func (e Events) storageError(op string) {
	if e.StorageError != nil {
		e.StorageError(op)
	}
}

// stateful is a sink that keeps state in a Store when one is configured.
type stateful interface {
	SetStore(Store)
}

// tracker is a bounded map of incident id -> V that keeps the entries of open and resolved
// incidents in two least-recently-used lists. When it is full, the oldest resolved entry is
// evicted first (its incident is over, the entry only guards against late stale updates);
// only when there is none is the oldest open entry evicted, which put reports. Not safe for
// concurrent use.
type tracker[V any] struct {
	max      int
	entries  map[string]*list.Element // value *tracked[V]
	open     *list.List
	resolved *list.List
}

type tracked[V any] struct {
	id       string
	resolved bool
	val      V
}

func newTracker[V any](maxEntries int) *tracker[V] {
	return &tracker[V]{max: max(maxEntries, 1), entries: map[string]*list.Element{}, open: list.New(), resolved: list.New()}
}

func (t *tracker[V]) len() int { return len(t.entries) }

// get returns the entry of id without changing its recency.
func (t *tracker[V]) get(id string) (*tracked[V], bool) {
	if e, ok := t.entries[id]; ok {
		return e.Value.(*tracked[V]), true
	}
	return nil, false
}

// put inserts or replaces the entry of id and makes it the most recent of its list. It returns
// the number of open entries evicted to make room (resolved ones are evicted silently).
func (t *tracker[V]) put(id string, resolved bool, val V) (evictedOpen int) {
	if e, ok := t.entries[id]; ok {
		te := e.Value.(*tracked[V])
		t.listOf(te.resolved).Remove(e)
		te.resolved, te.val = resolved, val
		t.entries[id] = t.listOf(resolved).PushBack(te)
		return 0
	}
	for len(t.entries) >= t.max {
		l := t.resolved
		if l.Len() == 0 {
			l = t.open
			evictedOpen++
		}
		old := l.Front()
		l.Remove(old)
		delete(t.entries, old.Value.(*tracked[V]).id)
	}
	t.entries[id] = t.listOf(resolved).PushBack(&tracked[V]{id: id, resolved: resolved, val: val})
	return evictedOpen
}

// touch makes the entry of id the most recent of its list.
func (t *tracker[V]) touch(id string) {
	if e, ok := t.entries[id]; ok {
		t.listOf(e.Value.(*tracked[V]).resolved).MoveToBack(e)
	}
}

// each calls fn for every entry: resolved ones, then open ones, each list oldest first. put-ing
// the entries into an empty tracker in this order restores both lists, and if the new bound
// is smaller, evicts resolved entries first.
func (t *tracker[V]) each(fn func(*tracked[V])) {
	for _, l := range []*list.List{t.resolved, t.open} {
		for e := l.Front(); e != nil; e = e.Next() {
			fn(e.Value.(*tracked[V]))
		}
	}
}

func (t *tracker[V]) listOf(resolved bool) *list.List {
	if resolved {
		return t.resolved
	}
	return t.open
}

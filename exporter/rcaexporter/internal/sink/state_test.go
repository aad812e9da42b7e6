// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

var (
	errStoreGet = errors.New("store get failed")
	errStoreSet = errors.New("store set failed")
)

// memStore is an in-memory Store with injectable failures.
type memStore struct {
	mu      sync.Mutex
	data    map[string][]byte
	sets    int
	failGet bool
	failSet bool
}

func newMemStore() *memStore { return &memStore{data: map[string][]byte{}} }

func (m *memStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failGet {
		return nil, errStoreGet
	}
	if v, ok := m.data[key]; ok {
		return append([]byte(nil), v...), nil
	}
	return nil, nil
}

func (m *memStore) Set(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSet {
		return errStoreSet
	}
	m.sets++
	m.data[key] = append([]byte(nil), value...)
	return nil
}

func (m *memStore) value(key string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.data[key])
}

func (m *memStore) setCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sets
}

func (m *memStore) setFail(get, set bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failGet, m.failSet = get, set
}

// eventLog records Events.
type eventLog struct {
	mu      sync.Mutex
	dropped map[string]int
	storage map[string]int
}

func newEventLog() *eventLog {
	return &eventLog{dropped: map[string]int{}, storage: map[string]int{}}
}

func (l *eventLog) events() Events {
	return Events{
		Dropped: func(reason string, n int) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.dropped[reason] += n
		},
		StorageError: func(op string) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.storage[op]++
		},
	}
}

func (l *eventLog) snapshot() (dropped, storage map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	dropped, storage = map[string]int{}, map[string]int{}
	for k, v := range l.dropped {
		dropped[k] = v
	}
	for k, v := range l.storage {
		storage[k] = v
	}
	return dropped, storage
}

func ids[V any](t *tracker[V]) (resolved, open []string) {
	t.each(func(e *tracked[V]) {
		if e.resolved {
			resolved = append(resolved, e.id)
		} else {
			open = append(open, e.id)
		}
	})
	return resolved, open
}

func TestTrackerEvictsResolvedFirst(t *testing.T) {
	tr := newTracker[int](3)
	assert.Zero(t, tr.put("a", false, 1))
	assert.Zero(t, tr.put("b", false, 1))
	assert.Zero(t, tr.put("c", false, 1))
	assert.Zero(t, tr.put("b", true, 2), "an update never evicts")
	tr.touch("a") // a is now the most recent open entry
	resolved, open := ids(tr)
	assert.Equal(t, []string{"b"}, resolved)
	assert.Equal(t, []string{"c", "a"}, open)

	assert.Zero(t, tr.put("d", false, 1), "the resolved entry b makes room, silently")
	_, ok := tr.get("b")
	assert.False(t, ok)
	assert.Equal(t, 1, tr.put("e", false, 1), "no resolved entry left: the oldest open one (c) goes")
	_, ok = tr.get("c")
	assert.False(t, ok)
	resolved, open = ids(tr)
	assert.Empty(t, resolved)
	assert.Equal(t, []string{"a", "d", "e"}, open)
	assert.Equal(t, 3, tr.len())
	e, ok := tr.get("a")
	assert.True(t, ok)
	assert.Equal(t, 1, e.val)
}

func TestTrackerRestoreOrderPrefersResolved(t *testing.T) {
	src := newTracker[int](4)
	src.put("o1", false, 0)
	src.put("r1", true, 0)
	src.put("o2", false, 0)
	src.put("r2", true, 0)
	// Restoring into a smaller tracker in each order keeps the open entries.
	dst := newTracker[int](2)
	evicted := 0
	src.each(func(e *tracked[int]) { evicted += dst.put(e.id, e.resolved, e.val) })
	assert.Zero(t, evicted)
	resolved, open := ids(dst)
	assert.Empty(t, resolved)
	assert.Equal(t, []string{"o1", "o2"}, open)
}

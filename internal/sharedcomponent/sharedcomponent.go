// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package sharedcomponent lets one component instance serve several pipelines: the factory is
// called once per pipeline, but every call with the same key gets the same instance, which is
// started once (its first Start error is returned to every caller) and shut down when the last
// pipeline using it shuts down.
package sharedcomponent // import "github.com/otelcol-aiops/otelcol-aiops/internal/sharedcomponent"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Map holds the shared instances by key.
type Map[K comparable, V component.Component] struct {
	mu   sync.Mutex
	comp map[K]*Component[V]
}

// NewMap returns an empty Map.
func NewMap[K comparable, V component.Component]() *Map[K, V] {
	return &Map[K, V]{comp: map[K]*Component[V]{}}
}

// LoadOrStore returns the instance stored under key, or creates it with create, stores it and
// returns it. Every call adds one user; the instance is shut down when all users have called
// Shutdown, and then removed from the map.
func (m *Map[K, V]) LoadOrStore(key K, create func() (V, error)) (*Component[V], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.comp[key]; ok {
		c.mu.Lock()
		c.users++
		c.mu.Unlock()
		return c, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	c := &Component[V]{value: v, users: 1}
	c.remove = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.comp[key] == c {
			delete(m.comp, key)
		}
	}
	m.comp[key] = c
	return c, nil
}

// Len is the number of live shared instances.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.comp)
}

// Component is one shared instance. It implements component.Component for each pipeline.
type Component[V component.Component] struct {
	value  V
	remove func()

	mu       sync.Mutex
	users    int
	started  bool
	startErr error
	stopped  bool
	stopErr  error
}

// Unwrap returns the shared instance.
func (c *Component[V]) Unwrap() V { return c.value }

// Start starts the instance on the first call and returns that call's result on every call.
func (c *Component[V]) Start(ctx context.Context, host component.Host) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.started = true
		c.startErr = c.value.Start(ctx, host)
	}
	return c.startErr
}

// Shutdown removes one user; the last one shuts the instance down and removes it from the map.
// Calling it more times than there are users is harmless.
func (c *Component[V]) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.stopErr
	}
	if c.users > 1 {
		c.users--
		return nil
	}
	c.users = 0
	c.stopped = true
	c.stopErr = c.value.Shutdown(ctx)
	c.remove()
	return c.stopErr
}

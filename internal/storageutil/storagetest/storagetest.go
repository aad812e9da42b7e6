// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package storagetest provides an in-memory storage extension and a host that carries it, for
// the persistence tests of this project's components.
package storagetest // import "github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// ErrGet is returned by Get when FailGet is set.
var ErrGet = errors.New("disk on fire")

// MemStorage is an in-memory storage extension; every client shares its data.
type MemStorage struct {
	component.StartFunc
	component.ShutdownFunc

	mu      sync.Mutex
	data    map[string][]byte
	failGet bool
}

// NewMemStorage returns an empty MemStorage.
func NewMemStorage() *MemStorage { return &MemStorage{data: map[string][]byte{}} }

// SetFailGet makes every Get fail with ErrGet.
func (m *MemStorage) SetFailGet(fail bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failGet = fail
}

// Value returns a copy of the value stored under key (nil when absent).
func (m *MemStorage) Value(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data[key]...)
}

// Put stores value under key, as if a client had set it.
func (m *MemStorage) Put(key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
}

// GetClient returns a client over the shared data.
func (m *MemStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return &memClient{s: m}, nil
}

type memClient struct{ s *MemStorage }

func (c *memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.failGet {
		return nil, ErrGet
	}
	return c.s.data[key], nil
}

func (c *memClient) Set(_ context.Context, key string, value []byte) error {
	c.s.Put(key, value)
	return nil
}

func (c *memClient) Delete(_ context.Context, key string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	delete(c.s.data, key)
	return nil
}

func (c *memClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		var err error
		switch op.Type {
		case storage.Get:
			op.Value, err = c.Get(ctx, op.Key)
		case storage.Set:
			err = c.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			err = c.Delete(ctx, op.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (*memClient) Close(context.Context) error { return nil }

// Host is a component.Host with the given extensions.
type Host map[component.ID]component.Component

// GetExtensions returns the extensions.
func (h Host) GetExtensions() map[component.ID]component.Component { return h }

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sharedcomponent

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

type counting struct {
	starts, stops int
	startErr      error
}

func (c *counting) Start(context.Context, component.Host) error { c.starts++; return c.startErr }
func (c *counting) Shutdown(context.Context) error              { c.stops++; return nil }

func TestSharedInstanceStartsAndStopsOnce(t *testing.T) {
	m := NewMap[string, *counting]()
	created := 0
	create := func() (*counting, error) { created++; return &counting{}, nil }
	a, err := m.LoadOrStore("x", create)
	require.NoError(t, err)
	b, err := m.LoadOrStore("x", create)
	require.NoError(t, err)
	assert.Same(t, a, b)
	assert.Equal(t, 1, created)

	host := componenttest.NewNopHost()
	require.NoError(t, a.Start(context.Background(), host))
	require.NoError(t, b.Start(context.Background(), host))
	assert.Equal(t, 1, a.Unwrap().starts)

	require.NoError(t, a.Shutdown(context.Background()))
	assert.Equal(t, 0, a.Unwrap().stops, "one pipeline still uses it")
	assert.Equal(t, 1, m.Len())
	require.NoError(t, b.Shutdown(context.Background()))
	assert.Equal(t, 1, a.Unwrap().stops)
	assert.Equal(t, 0, m.Len(), "removed after the last shutdown")
	require.NoError(t, b.Shutdown(context.Background()), "extra shutdown is harmless")
	assert.Equal(t, 1, a.Unwrap().stops)

	c, err := m.LoadOrStore("x", create)
	require.NoError(t, err)
	assert.NotSame(t, a, c, "a new instance after removal")
}

func TestStartErrorIsSharedAndCreateErrorNotStored(t *testing.T) {
	m := NewMap[int, *counting]()
	boom := errors.New("boom")
	a, err := m.LoadOrStore(1, func() (*counting, error) { return &counting{startErr: boom}, nil })
	require.NoError(t, err)
	b, err := m.LoadOrStore(1, func() (*counting, error) { return nil, errors.New("unused") })
	require.NoError(t, err)
	require.ErrorIs(t, a.Start(context.Background(), componenttest.NewNopHost()), boom)
	require.ErrorIs(t, b.Start(context.Background(), componenttest.NewNopHost()), boom)
	assert.Equal(t, 1, a.Unwrap().starts)

	_, err = m.LoadOrStore(2, func() (*counting, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 1, m.Len())
}

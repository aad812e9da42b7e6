// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package storageutil

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"
)

func TestClient(t *testing.T) {
	id := component.MustNewID("file_storage")
	owner := component.MustNewID("llm_anomaly")
	ctx := context.Background()

	_, err := Client(ctx, componenttest.NewNopHost(), id, component.KindProcessor, owner, "x")
	require.ErrorIs(t, err, ErrNotFound)

	notStorage := struct {
		component.StartFunc
		component.ShutdownFunc
	}{}
	_, err = Client(ctx, storagetest.Host{id: notStorage}, id, component.KindProcessor, owner, "x")
	require.ErrorIs(t, err, ErrNotStorage)

	mem := storagetest.NewMemStorage()
	c, err := Client(ctx, storagetest.Host{id: mem}, id, component.KindProcessor, owner, "x")
	require.NoError(t, err)
	require.NoError(t, c.Set(ctx, "k", []byte("v")))
	got, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
	assert.Equal(t, []byte("v"), mem.Value("k"))
	mem.SetFailGet(true)
	_, err = c.Get(ctx, "k")
	require.ErrorIs(t, err, storagetest.ErrGet)
	require.NoError(t, c.Close(ctx))
}

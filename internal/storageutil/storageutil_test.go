// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package storageutil

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/xextension/storage"

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

// The collector cannot check at validate time that the storage ID names a storage extension
// (a component's Validate has no host), so the Start error must say which component and which
// ID are wrong, and what the collector does have.
func TestClientErrorsNameComponentAndStorage(t *testing.T) {
	ctx := context.Background()
	missing := component.MustNewIDWithName("file_storage", "missing")
	owner := component.MustNewIDWithName("llm_anomaly", "x")

	_, err := Client(ctx, componenttest.NewNopHost(), missing, component.KindProcessor, owner, "templates")
	require.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, `llm_anomaly processor "llm_anomaly/x": storage extension "file_storage/missing" is not configured `+
		`or not listed in service::extensions (known extensions: none): storage extension not found`)

	health := component.MustNewID("health_check")
	notStorage := struct {
		component.StartFunc
		component.ShutdownFunc
	}{}
	host := storagetest.Host{
		health:                              notStorage,
		component.MustNewID("file_storage"): storagetest.NewMemStorage(),
	}
	_, err = Client(ctx, host, missing, component.KindConnector, component.MustNewID("logs2graph"), "graph")
	require.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, `logs2graph connector "logs2graph": storage extension "file_storage/missing" is not configured `+
		`or not listed in service::extensions (known extensions: file_storage, health_check): storage extension not found`)

	_, err = Client(ctx, host, health, component.KindExporter, component.MustNewIDWithName("rca", "prod"), "incidents")
	require.ErrorIs(t, err, ErrNotStorage)
	assert.EqualError(t, err, `rca exporter "rca/prod": extension "health_check" named by storage is not a storage extension `+
		`(such as file_storage): component is not a storage extension`)

	broken := component.MustNewID("db_storage")
	_, err = Client(ctx, storagetest.Host{broken: failingClient{}}, broken, component.KindExporter, component.MustNewID("rca"), "incidents")
	require.ErrorIs(t, err, errNoClient)
	assert.EqualError(t, err, `rca exporter "rca": storage extension "db_storage": no client`)
}

var errNoClient = errors.New("no client")

type failingClient struct {
	component.StartFunc
	component.ShutdownFunc
}

func (failingClient) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return nil, errNoClient
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package storageutil gets a storage client from a storage extension named in a component's
// config, the same way for every component of this project.
package storageutil // import "github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

var (
	// ErrNotFound: the configured storage ID names no extension of the collector.
	ErrNotFound = errors.New("storage extension not found")
	// ErrNotStorage: the configured storage ID names an extension that is not a storage extension.
	ErrNotStorage = errors.New("component is not a storage extension")
)

// Client returns the storage client named name of the storage extension storageID, for the
// component ownerID of kind kind. The caller closes it.
func Client(ctx context.Context, host component.Host, storageID component.ID, kind component.Kind, ownerID component.ID, name string) (storage.Client, error) {
	ext, found := host.GetExtensions()[storageID]
	if !found {
		return nil, ErrNotFound
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, ErrNotStorage
	}
	return se.GetClient(ctx, kind, ownerID, name)
}

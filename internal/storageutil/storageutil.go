// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package storageutil gets a storage client from a storage extension named in a component's
// config, the same way for every component of this project.
package storageutil // import "github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
//
// A component's Validate has no host, so a storage ID that names no extension can only be
// found here, at Start. The errors therefore name the component and the storage ID, and wrap
// ErrNotFound or ErrNotStorage.
func Client(ctx context.Context, host component.Host, storageID component.ID, kind component.Kind, ownerID component.ID, name string) (storage.Client, error) {
	exts := host.GetExtensions()
	ext, found := exts[storageID]
	if !found {
		return nil, fmt.Errorf("%s: storage extension %q is not configured or not listed in service::extensions (known extensions: %s): %w",
			owner(kind, ownerID), storageID.String(), known(exts), ErrNotFound)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("%s: extension %q named by storage is not a storage extension (such as file_storage): %w",
			owner(kind, ownerID), storageID.String(), ErrNotStorage)
	}
	client, err := se.GetClient(ctx, kind, ownerID, name)
	if err != nil {
		return nil, fmt.Errorf("%s: storage extension %q: %w", owner(kind, ownerID), storageID.String(), err)
	}
	return client, nil
}

// owner names a component as the collector's own start errors do: type, kind, quoted ID.
func owner(kind component.Kind, id component.ID) string {
	return fmt.Sprintf("%s %s %q", id.Type().String(), strings.ToLower(kind.String()), id.String())
}

// known lists the host's extension IDs, sorted, or "none".
func known(exts map[component.ID]component.Component) string {
	if len(exts) == 0 {
		return "none"
	}
	ids := make([]string, 0, len(exts))
	for id := range exts {
		ids = append(ids, id.String())
	}
	slices.Sort(ids)
	return strings.Join(ids, ", ")
}

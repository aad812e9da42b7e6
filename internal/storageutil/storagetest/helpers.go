// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package storagetest // import "github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"

// NewFailingStorage returns a MemStorage whose Get always fails.
func NewFailingStorage() *MemStorage {
	m := NewMemStorage()
	m.SetFailGet(true)
	return m
}

// NewStorageWith returns a MemStorage holding value under key.
func NewStorageWith(key, value string) *MemStorage {
	m := NewMemStorage()
	m.Put(key, []byte(value))
	return m
}

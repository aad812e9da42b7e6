// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate mdatagen metadata.yaml

// Package logs2graph derives the service dependency graph from traces and from logs that carry
// trace context or peer attributes, and emits it as log records (one per edge and window) and as
// servicegraph-compatible metrics.
package logs2graph // import "github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph"

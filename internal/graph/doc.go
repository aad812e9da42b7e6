// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package graph is the service dependency graph behind the logs2graph connector. It is pure Go
// and knows nothing of pdata: an adapter reduces spans to Span and log records to LogRef.
//
// The store pairs CLIENT with SERVER and PRODUCER with CONSUMER spans of a trace by parent span
// id (in any arrival order, within a bounded pending store with an event-time TTL), infers edges
// from parent/child relations across services, turns unmatched calls into edges to virtual
// peers or from the user node, charges logs to edges, and aggregates calls into edges with
// counts, error counts, latency percentiles and explicit-bucket latency histograms. Output is
// cut into event-time windows driven by a watermark (Flush), and a cumulative view (Snapshot).
// The edges persist with MarshalBinary/UnmarshalBinary. See docs/graph.md.
//
// A Store is not safe for concurrent use; the caller holds a lock.
package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

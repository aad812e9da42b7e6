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
// cut into event-time windows (Flush), and a cumulative view (Snapshot). Event time comes from
// an eventtime.Clock over the services, advanced once per batch (AddSpans, AddLogs), so that no
// single span or service can move it; StampSpans and StampLogs re-stamp skewed timestamps. The
// edges persist with MarshalBinary/UnmarshalBinary (Restore). See docs/graph.md.
//
// A Store is not safe for concurrent use; the caller holds a lock.
package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package sim simulates a microservice system (a topology of services, databases and queues)
// with normal traffic and injected faults, and produces its OTLP logs and traces as pdata in
// chunks of event time, with the ground truth of each fault (kind, root cause, start, end).
// Output is deterministic for a seed. Options.Realistic makes it look like a real system rather
// than a clean demo (bursty load, background errors with stack traces, spans without kind, status
// or peer attributes, faults whose symptoms are subtler). See docs/simulator.md.
package sim // import "github.com/otelcol-aiops/otelcol-aiops/internal/sim"

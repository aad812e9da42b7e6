// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package sim simulates a microservice system (a topology of services, databases and queues)
// with normal traffic and injected faults, and produces its OTLP logs and traces as pdata in
// chunks of event time, with the ground truth of each fault (kind, root cause, start, end).
// Output is deterministic for a seed. See docs/simulator.md.
package sim // import "github.com/otelcol-aiops/otelcol-aiops/internal/sim"

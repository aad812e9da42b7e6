// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate mdatagen metadata.yaml

// Package llmanomalyprocessor batches log records per resource, mines their templates online,
// scores anomalies with event-time statistical detectors and annotates every record.
package llmanomalyprocessor // import "github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"

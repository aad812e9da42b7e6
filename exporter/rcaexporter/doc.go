// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate mdatagen metadata.yaml

// Package rcaexporter turns anomalous log records (from the llm_anomaly processor) and edge
// records (from the logs2graph connector) into incidents with a ranked root cause, and forwards
// them to webhooks, Slack, PagerDuty, Jira, Alertmanager or the console.
package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

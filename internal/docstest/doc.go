// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package docstest checks that the YAML examples in the project's documentation configure this
// project's components with keys and values the collector accepts. It holds tests only.
//
// Rule: every ```yaml (or ```yml) block of README.md, docs/*.md and the three components'
// README.md files must parse as YAML. A block whose top level has a processors, connectors or
// exporters key is a collector config: each entry of type llm_anomaly (processors), logs2graph
// (connectors) or rca (exporters), with or without a /name suffix, is unmarshalled into its
// factory's default config, exactly as the collector does (unknown keys are errors), and must
// pass confmap.Validate (what xconfmap.Validate became). A block must have a top-level key of a
// collector config (receivers, processors, connectors, exporters, extensions, service): a bare
// fragment of a component's config fails, so that its keys cannot escape the check. Before parsing, ${env:NAME:-default} becomes default,
// ${env:NAME} becomes https://example.invalid/ when NAME contains ENDPOINT, URL or WEBHOOK and
// "dummy" otherwise. A block with a line starting "# not-validated" is skipped; use it only for
// examples that show an invalid config on purpose, and say why on that line.
package docstest // import "github.com/otelcol-aiops/otelcol-aiops/internal/docstest"

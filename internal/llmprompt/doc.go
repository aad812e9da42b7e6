// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package llmprompt builds the prompts of the LLM tiers and checks their answers. It is
// pdata-free: callers hand it plain values.
//
// A WindowBuilder accumulates what the llm_anomaly processor saw of one service during one
// window (one Record per analysed log record: template, parameters, level, the statistical
// verdict) in bounded memory whatever the input: a fixed number of templates is tracked
// (flagged and error templates displace plain ones), parameter values are summarised (distinct
// counts up to a limit, a few samples, numeric ranges), a few exemplar lines are kept per
// template (flagged and error records first) and every log-derived text is redacted, made
// single-line and clipped when stored. Window returns a deterministic snapshot.
//
// VerdictPrompt renders a Window for the strong model: a fixed system prompt (the "senior SRE"
// role, the input format, the four analysis steps, the rules, the verdict schema and two
// few-shot examples in the same compact format) and a user content of at most about 6000
// bytes (about 1500 tokens), trimmed deterministically (fewer exemplars, then fewer templates,
// then fewer findings). ScreenPrompt is the much shorter prompt of the cheap screening model.
// All log-derived text goes only inside a data block (<<<BEGIN LOG DATA>>> ...
// <<<END LOG DATA>>>) in which the delimiters are neutralised, and the system prompts say that
// data is never instructions. CacheKey keys a cached answer by what it depends on, so a
// recurring pattern hits the cache.
//
// ParseVerdict and ParseScreen (and their Validate variants) accept exactly one JSON object of
// the schema, with the right JSON types, enums, ranges and bounded lengths; errors are
// *SchemaError values wrapping ErrInvalidAnswer.
package llmprompt

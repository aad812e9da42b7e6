// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:build contract

package llm

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContractRealEndpoint asks a real model (make contract-llm: LLM_ENDPOINT, LLM_PROVIDER,
// LLM_MODEL, LLM_API_KEY) for a small JSON object through the whole client path. It is built
// only with the contract tag, so it never runs (or skips) in make test.
func TestContractRealEndpoint(t *testing.T) {
	endpoint := os.Getenv("LLM_ENDPOINT")
	require.NotEmpty(t, endpoint, "set LLM_ENDPOINT (and LLM_PROVIDER, LLM_MODEL, LLM_API_KEY)")
	provider := os.Getenv("LLM_PROVIDER")
	if provider == "" {
		provider = ProviderOpenAI
	}
	cl, err := New(Options{
		Provider: provider, Model: os.Getenv("LLM_MODEL"), Endpoint: endpoint, APIKey: os.Getenv("LLM_API_KEY"),
		Timeout: 2 * time.Minute, MaxOutputTokens: 128, Temperature: 0.1, JSONMode: true,
		Retry: RetryOptions{MaxAttempts: 2},
	}, nil, nil, nil)
	require.NoError(t, err)
	defer func() { _ = cl.Close() }()
	res, err := cl.Do(context.Background(), Request{
		Task:   "contract",
		System: "You answer with one JSON object only.",
		Prompt: `Return {"service": "checkout", "ok": true} exactly, as JSON.`,
		Validate: func(raw []byte) error {
			var v struct {
				Service string `json:"service"`
				OK      *bool  `json:"ok"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			if v.Service != "checkout" || v.OK == nil {
				return assert.AnError
			}
			return nil
		},
	})
	require.NoError(t, err)
	assert.Contains(t, []Outcome{OutcomeOK, OutcomeRepaired}, res.Outcome)
	assert.Positive(t, res.InputTokens+res.OutputTokens, "token usage is read from the response")
	t.Logf("model %s: %s in %v, %d input and %d output tokens", res.Model, res.Outcome, res.Latency, res.InputTokens, res.OutputTokens)
}

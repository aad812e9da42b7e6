// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmconfig

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
)

func validConfig() Config {
	c := NewDefaultConfig()
	c.Model.Model = "m"
	c.Model.ClientConfig.Endpoint = "http://127.0.0.1:1/v1"
	return c
}

func TestValidate(t *testing.T) {
	c := validConfig()
	require.NoError(t, confmap.Validate(&c))

	c.Model.Model = ""
	c.Model.Provider = "bard"
	c.Model.ClientConfig.Endpoint = "ftp://x"
	c.Model.ClientConfig.Timeout = 0
	c.Budget.CostPerDay = -1
	c.Retry.MaxAttempts = 0
	c.Cache.MaxSizeMiB = -1
	c.MaxConcurrency = 0
	c.QueueSize = 0
	c.Redaction.Patterns = []string{"("}
	err := confmap.Validate(&c)
	require.Error(t, err)
	for _, want := range []string{"model must be set", "provider", "endpoint", "timeout", "budget", "max_attempts", "max_size_mib", "max_concurrency", "queue_size", "redaction"} {
		assert.Contains(t, err.Error(), want)
	}

	// A screening model is validated only when it is configured.
	c = validConfig()
	require.NoError(t, confmap.Validate(&c), "the default screening model is not in use")
	c.Screening = configoptional.Some(NewDefaultModelConfig())
	err = confmap.Validate(&c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "model must be set")
}

func TestOptionsAndClients(t *testing.T) {
	c := validConfig()
	c.Model.APIKey = "secret"
	c.Model.Price = PriceConfig{InputPer1K: 0.1, OutputPer1K: 0.2}
	c.Budget = BudgetConfig{CallsPerMinute: 3, TokensPerMinute: 100, CostPerDay: 2}
	r, err := c.NewRedactor()
	require.NoError(t, err)
	o := c.Options(&c.Model, r)
	assert.Equal(t, "m", o.Model)
	assert.Equal(t, "secret", o.APIKey)
	assert.Equal(t, 0.1, o.PriceInputPer1K)
	assert.Equal(t, 3, o.Budget.CallsPerMinute)
	assert.Equal(t, c.Model.ClientConfig.Timeout, o.Timeout)
	require.NotNil(t, o.Redact)
	assert.NotContains(t, o.Redact("mail bob@example.com"), "bob@example.com")

	c.Screening = configoptional.Some(NewDefaultModelConfig())
	c.Screening.Get().Model = "small"
	cl, err := c.NewClients(context.Background(), componenttest.NewNopHost(), componenttest.NewNopTelemetrySettings(), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "m", cl.Primary.Model())
	require.NotNil(t, cl.Screening)
	assert.Equal(t, "small", cl.Screening.Model())
	require.NoError(t, cl.Close())
	var nilClients *Clients
	require.NoError(t, nilClients.Close())
}

func TestInstruments(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("t")
	var in Instruments
	var err error
	in.Requests, err = meter.Int64Counter("requests")
	require.NoError(t, err)
	in.Tokens, err = meter.Int64Counter("tokens")
	require.NoError(t, err)
	in.Cost, err = meter.Float64Counter("cost")
	require.NoError(t, err)
	in.Duration, err = meter.Float64Histogram("duration")
	require.NoError(t, err)
	in.CacheLookups, err = meter.Int64Counter("cache")
	require.NoError(t, err)
	in.NotAsked, err = meter.Int64Counter("skipped")
	require.NoError(t, err)
	in.Answers, err = meter.Int64Counter("answers")
	require.NoError(t, err)
	in.Evicted, err = meter.Int64Counter("evicted")
	require.NoError(t, err)

	in.Request("verdict", "m", llm.OutcomeOK, time.Second, 100, 20, 0.5)
	in.Request("verdict", "m", llm.OutcomeTimeout, 0, 0, 0, 0)
	in.Cache("verdict", true)
	in.Cache("verdict", false)
	in.Skipped("budget")
	in.Result("anomaly")
	in.PatternsEvicted(2)
	Instruments{}.Request("x", "m", llm.OutcomeOK, time.Second, 1, 1, 1) // nil instruments are skipped

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					sums[m.Name] += dp.Value
				}
			}
		}
	}
	assert.Equal(t, map[string]int64{"requests": 2, "tokens": 120, "cache": 2, "skipped": 1, "answers": 1, "evicted": 2}, sums)
}

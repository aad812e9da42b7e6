// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
)

// Exposure: the only listener of this project's components is the rca exporter's investigation
// API (the llm_anomaly processor and the logs2graph connector open none). It binds to loopback
// unless configured otherwise, and every route, known or not, honours the configured auth
// extension.

// minimalAPIConfig is the default config with only the required fields set (one sink) plus the
// given `http` section, loaded the way the collector loads it.
func minimalAPIConfig(t *testing.T, httpSection map[string]any) *Config {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"sinks": map[string]any{"console": map[string]any{}},
		"http":  httpSection,
	}).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	return cfg
}

func requireLoopback(t *testing.T, addr net.Addr) {
	t.Helper()
	tcp, ok := addr.(*net.TCPAddr)
	require.Truef(t, ok, "listener address %v is not TCP", addr)
	assert.Truef(t, tcp.IP.IsLoopback(), "listener bound to %v, want a loopback address", addr)
}

func TestExposureDefaultListenerIsLoopback(t *testing.T) {
	cfg := minimalAPIConfig(t, map[string]any{})
	require.True(t, cfg.HTTP.HasValue())

	// The configured endpoint resolves to loopback only.
	host, _, err := net.SplitHostPort(defaultHTTPEndpoint)
	require.NoError(t, err)
	ip := net.ParseIP(host)
	require.NotNil(t, ip, "the default endpoint names an IP, not a host name that could resolve anywhere")
	assert.True(t, ip.IsLoopback())

	start := func(cfg *Config) (*rcaExporter, error) {
		e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg, nil)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, e.Shutdown(context.Background())) })
		return e, e.Start(context.Background(), componenttest.NewNopHost())
	}

	// The listener opened from the default config is loopback.
	e, err := start(cfg)
	if errors.Is(err, syscall.EADDRINUSE) {
		// Something else on this machine holds the default port: check the address the default
		// host binds to on a free port instead.
		t.Logf("default port busy (%v): checking the default host on a free port", err)
		cfg = minimalAPIConfig(t, map[string]any{"endpoint": net.JoinHostPort(host, "0")})
		e, err = start(cfg)
	}
	require.NoError(t, err)
	require.NotNil(t, e.api)
	require.NotNil(t, e.api.addr)
	requireLoopback(t, e.api.addr)

	// The API is off unless configured: no listener at all.
	off := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"sinks": map[string]any{"console": map[string]any{}}}).Unmarshal(off))
	e, err = start(off)
	require.NoError(t, err)
	assert.Nil(t, e.api, "no `http` section: no listener")
}

func TestExposureEveryRouteHonoursAuth(t *testing.T) {
	cfg := minimalAPIConfig(t, map[string]any{
		"endpoint": "127.0.0.1:0",
		"auth":     map[string]any{"authenticator": "testauth"},
	})
	host := extHost{Host: componenttest.NewNopHost(), ext: map[component.ID]component.Component{component.MustNewID("testauth"): testAuth{}}}
	e, c := startAPIExporter(t, newAPIExporter(cfg, nil), host)
	requireLoopback(t, e.api.addr)

	routes := []struct {
		name, method, path string
	}{
		{"rca", http.MethodPost, rcaPath},
		{"alerts", http.MethodPost, alertsPath},
		{"ask", http.MethodPost, askPath},
		{"unknown", http.MethodPost, "/api/v1/nope"},
		{"unknown GET", http.MethodGet, "/"},
		{"rca GET", http.MethodGet, rcaPath},
	}
	creds := []struct {
		name   string
		header map[string]string
		ok     bool
	}{
		{"none", nil, false},
		{"wrong token", map[string]string{"Authorization": "Bearer wrong"}, false},
		{"basic scheme", map[string]string{"Authorization": "Basic czNjcmV0"}, false},
		{"right token", map[string]string{"Authorization": "Bearer s3cret"}, true},
	}
	for _, r := range routes {
		for _, cr := range creds {
			t.Run(r.name+"/"+cr.name, func(t *testing.T) {
				c := *c
				c.t = t
				reply := c.do(r.method, r.path, "application/json", []byte(`{}`), cr.header)
				if cr.ok {
					assert.NotEqual(t, http.StatusUnauthorized, reply.status, string(reply.raw))
				} else {
					assert.Equal(t, http.StatusUnauthorized, reply.status, string(reply.raw))
				}
			})
		}
	}
}

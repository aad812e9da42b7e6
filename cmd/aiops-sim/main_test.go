// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

type receiver struct {
	mu                    sync.Mutex
	logs, spans, reqs     int
	services              map[string]bool
	badType, unmarshalErr int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs++
	if req.Header.Get("Content-Type") != "application/x-protobuf" {
		r.badType++
	}
	switch req.URL.Path {
	case "/v1/logs":
		er := plogotlp.NewExportRequest()
		if err := er.UnmarshalProto(body); err != nil {
			r.unmarshalErr++
			break
		}
		r.logs += er.Logs().LogRecordCount()
		for _, rl := range er.Logs().ResourceLogs().All() {
			v, _ := rl.Resource().Attributes().Get("service.name")
			r.services[v.Str()] = true
		}
	case "/v1/traces":
		er := ptraceotlp.NewExportRequest()
		if err := er.UnmarshalProto(body); err != nil {
			r.unmarshalErr++
			break
		}
		r.spans += er.Traces().SpanCount()
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestSendsScenario(t *testing.T) {
	rcv := &receiver{services: map[string]bool{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{
		"-endpoint", srv.URL, "-scenario", "bad_deploy", "-duration", "20s", "-fault-at", "5s",
		"-speed", "0", "-start", "2026-01-01T00:00:00Z", "-seed", "3",
	}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	assert.Contains(t, out.String(), `"kind":"bad_deploy"`)
	assert.Contains(t, out.String(), `"root_cause_service":`)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	assert.Positive(t, rcv.logs)
	assert.Positive(t, rcv.spans)
	assert.Zero(t, rcv.badType)
	assert.Zero(t, rcv.unmarshalErr)
	assert.True(t, rcv.services["checkout"])
	assert.False(t, rcv.services["orders-db"])
	assert.GreaterOrEqual(t, rcv.reqs, 2*20)
}

func TestRandomTopologyLogsOnly(t *testing.T) {
	rcv := &receiver{services: map[string]bool{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{
		"-endpoint", srv.URL, "-scenario", "random", "-topology", "random:8", "-duration", "10s",
		"-speed", "0", "-signals", "logs", "-step", "5s",
	}, &out, io.Discard)
	require.NoError(t, err)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	assert.Positive(t, rcv.logs)
	assert.Zero(t, rcv.spans)
}

func TestRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-endpoint", "http://example.com:4318"},
		{"-endpoint", "ftp://127.0.0.1"},
		{"-scenario", "meteor"},
		{"-topology", "ring"},
		{"-topology", "random:1"},
		{"-signals", "metrics"},
		{"-duration", "0s"},
		{"-start", "yesterday"},
		{"-scenario", "slow_query", "-target", "payment"},
		{"extra"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		assert.Error(t, err, strings.Join(args, " "))
	}
}

func TestFailsOnServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, []string{"-endpoint", srv.URL, "-duration", "5s", "-speed", "0", "-wait", "0s"}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503")
}

func TestFaultAtDefaults(t *testing.T) {
	var out bytes.Buffer
	f := flags{scenario: "bad_deploy", topology: "default", start: "2026-01-01T00:00:00Z", duration: 25 * time.Minute, faultAt: 18 * time.Minute, step: time.Second, rate: 5}
	sc, err := buildScenario(f, time.Now())
	require.NoError(t, err)
	assert.Equal(t, 18*time.Minute, sc.Faults[0].Start.Sub(sc.Start))
	require.NoError(t, printTruth(&out, sc))
	assert.Contains(t, out.String(), `"start":"2026-01-01T00:18:00Z"`)
	// an explicit -fault-at beyond -duration is an error; the default adapts
	err = run(context.Background(), []string{"-duration", "1m", "-fault-at", "2m", "-endpoint", "http://127.0.0.1:1"}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fault start")
}

func TestLowTrafficScenario(t *testing.T) {
	rcv := &receiver{services: map[string]bool{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{
		"-endpoint", srv.URL, "-scenario", "low_traffic_slow", "-duration", "4m", "-fault-at", "2m", "-fault-duration", "1m",
		"-rate", "1", "-speed", "0", "-step", "10s", "-start", "2026-01-01T00:00:00Z", "-low-traffic-caller", "payment",
	}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	assert.Contains(t, out.String(), `"kind":"low_traffic_slow","root_cause_service":"fx-rates"`)
	assert.Contains(t, out.String(), `"payment -\u003e fx-rates (http) every 1m0s"`)
	assert.Contains(t, out.String(), `"symptomatic_services":["fx-rates","payment"]`)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	assert.True(t, rcv.services["fx-rates"])

	// Not asked for: the default shop only.
	f := flags{scenario: "slow_query", topology: "default", start: "2026-01-01T00:00:00Z", duration: 25 * time.Minute, faultAt: 18 * time.Minute, step: time.Second, rate: 5}
	sc, err := buildScenario(f, time.Now())
	require.NoError(t, err)
	_, ok := sc.Topology.Node("fx-rates")
	assert.False(t, ok)
	f.lowTraffic = true
	sc, err = buildScenario(f, time.Now())
	require.NoError(t, err)
	_, ok = sc.Topology.Node("fx-rates")
	assert.True(t, ok)
}

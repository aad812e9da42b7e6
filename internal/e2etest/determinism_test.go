// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

// Package e2etest holds end-to-end tests of the built collector. They need the binary (path in
// the COLLECTOR environment variable) and run with `make e2e` (part of `make test`):
//
//	COLLECTOR=$PWD/bin/otelcol-aiops go test -tags e2e -count=1 ./internal/e2etest/
package e2etest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

// request is one OTLP/HTTP request of a replay.
type request struct {
	path string // /v1/logs or /v1/traces
	body []byte
}

// step is the simulator's event time of one request pair (as aiops-sim sends it).
const step = time.Second

// chunks plays the scenario and returns its telemetry per step.
func chunks(t testing.TB) []sim.Chunk {
	t.Helper()
	sc, err := sim.NewScenario(sim.Options{
		Topology: sim.DefaultShop(), Seed: 1, Start: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC),
		Duration: 30 * time.Minute, Rate: 20, Fault: sim.FaultDBPoolExhaustion, FaultAt: 18 * time.Minute,
		FaultDuration: 4 * time.Minute, Target: "orders-db",
	})
	require.NoError(t, err)
	s, err := sim.New(sc)
	require.NoError(t, err)
	var out []sim.Chunk
	for {
		ch, more := s.Next(step)
		out = append(out, ch)
		if !more {
			return out
		}
	}
}

func logsRequest(t testing.TB, ld plog.Logs) request {
	t.Helper()
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	return request{"/v1/logs", b}
}

func tracesRequest(t testing.TB, td ptrace.Traces) request {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return request{"/v1/traces", b}
}

// inOrder is the replay as aiops-sim sends it: per step, the logs then the traces.
func inOrder(t testing.TB, chs []sim.Chunk) []request {
	var out []request
	for _, ch := range chs {
		if ch.Logs.LogRecordCount() > 0 {
			out = append(out, logsRequest(t, ch.Logs))
		}
		if ch.Traces.SpanCount() > 0 {
			out = append(out, tracesRequest(t, ch.Traces))
		}
	}
	return out
}

// shuffled is the same telemetry batched and ordered differently: two steps per request, traces
// before logs, and neighbouring request pairs swapped (at most about three seconds of event time
// apart, within every component's allowed lateness).
func shuffled(t *testing.T, chs []sim.Chunk) []request {
	var pairs [][]request
	for i := 0; i < len(chs); i += 2 {
		ld, td := plog.NewLogs(), ptrace.NewTraces()
		for _, ch := range chs[i:min(i+2, len(chs))] {
			ch.Logs.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
			ch.Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		var p []request
		if td.SpanCount() > 0 {
			p = append(p, tracesRequest(t, td))
		}
		if ld.LogRecordCount() > 0 {
			p = append(p, logsRequest(t, ld))
		}
		pairs = append(pairs, p)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		pairs[i], pairs[i+1] = pairs[i+1], pairs[i]
	}
	var out []request
	for _, p := range pairs {
		out = append(out, p...)
	}
	return out
}

// capture records the bodies POSTed by the webhook sink.
type capture struct {
	mu     sync.Mutex
	bodies []string
	last   time.Time
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.bodies = append(c.bodies, string(b))
	c.last = time.Now()
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (c *capture) snapshot() ([]string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bodies...), c.last
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// replay runs the collector, sends the requests (paced at speed x event time, 0: as fast as
// possible), waits until the incidents settle, stops the collector and returns every incident
// version the webhook received, sorted by id and version.
func replay(t *testing.T, reqs []request, speed float64) []string {
	t.Helper()
	bin := os.Getenv("COLLECTOR")
	require.NotEmpty(t, bin, "COLLECTOR must name the built collector (make e2e sets it)")
	capt := &capture{}
	srv := httptest.NewServer(capt)
	defer srv.Close()
	endpoint := freePort(t)

	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", filepath.Join(repoRoot(t), "testdata", "e2e", "determinism.yaml"))
	cmd.Env = append(os.Environ(), "OTLP_ENDPOINT="+endpoint, "WEBHOOK_URL="+srv.URL)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	ctx := context.Background()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	base := "http://" + endpoint
	begin := time.Now()
	for i, r := range reqs {
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, _, err := otlppost.Post(ctx, client, base+r.path, r.body)
			if err == nil {
				break
			}
			require.True(t, i == 0 && time.Now().Before(deadline), "request %d: %v\n%s", i, err, logs.String())
			time.Sleep(200 * time.Millisecond)
		}
		if speed > 0 {
			due := begin.Add(time.Duration(float64(i+1) / float64(len(reqs)) * float64(30*time.Minute) / speed))
			time.Sleep(time.Until(due))
		}
	}
	// Let the held records and windows out (the processor's and the connector's idle timers),
	// then stop: shutdown applies what still waits for event time.
	quiet := 6 * time.Second
	for end := time.Now().Add(90 * time.Second); time.Now().Before(end); {
		time.Sleep(time.Second)
		if _, last := capt.snapshot(); time.Since(last) > quiet && time.Since(begin) > quiet {
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		stopped = true
		require.NoError(t, err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the collector did not stop\n%s", logs.String())
	}
	got, _ := capt.snapshot()
	sort.SliceStable(got, func(i, j int) bool { return key(t, got[i]) < key(t, got[j]) })
	if dir := os.Getenv("E2E_DUMP"); dir != "" { // for debugging: one file per run
		name := filepath.Join(dir, fmt.Sprintf("run-%d.jsonl", time.Now().UnixNano()))
		require.NoError(t, os.WriteFile(name, []byte(strings.Join(got, "\n")+"\n"), 0o600))
	}
	return got
}

func key(t testing.TB, body string) string {
	var inc incident.Incident
	require.NoError(t, json.Unmarshal([]byte(body), &inc))
	return fmt.Sprintf("%s/%06d", inc.ID, inc.Version)
}

// The simulator's scenario replayed through the built collector twice, then once more at
// another speed with other request boundaries and requests reordered within the allowed
// lateness, forwards byte-identical incidents.
func TestReplayIsDeterministic(t *testing.T) {
	chs := chunks(t)
	ordered := inOrder(t, chs)
	first := replay(t, ordered, 0)
	require.NotEmpty(t, first, "the fault opens an incident")
	var last incident.Incident
	require.NoError(t, json.Unmarshal([]byte(first[len(first)-1]), &last))
	found := false
	for _, b := range first {
		var inc incident.Incident
		require.NoError(t, json.Unmarshal([]byte(b), &inc))
		found = found || inc.RootCauseService == "orders-db"
	}
	assert.True(t, found, "an incident names orders-db:\n%s", strings.Join(first, "\n"))

	second := replay(t, ordered, 0)
	assert.Equal(t, first, second, "the same replay twice")

	third := replay(t, shuffled(t, chunks(t)), 120)
	assert.Equal(t, first, third, "another speed, other batches, requests reordered within the allowed lateness")
	t.Logf("%d incident versions, identical in the three runs", len(first))
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/otelcol-aiops/otelcol-aiops/internal/loadgen"
	"github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"
)

var testStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// collector is a fake OTLP/HTTP logs endpoint that decodes and keeps every request.
type collector struct {
	mu       sync.Mutex
	requests []plog.Logs
	paths    []string
	ctypes   []string
	status   int           // response status; 0 means 200
	response []byte        // response body (protobuf ExportResponse) when set
	onReq    func(n int64) // called with the number of requests received so far
	count    atomic.Int64
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.requests = append(c.requests, req.Logs())
	c.paths = append(c.paths, r.Method+" "+r.URL.Path)
	c.ctypes = append(c.ctypes, r.Header.Get("Content-Type"))
	c.mu.Unlock()
	if c.onReq != nil {
		c.onReq(c.count.Add(1))
	}
	if c.status != 0 {
		http.Error(w, "overloaded", c.status)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	if c.response != nil {
		_, _ = w.Write(c.response)
		return
	}
	resp, _ := plogotlp.NewExportResponse().MarshalProto()
	_, _ = w.Write(resp)
}

func testConfig(url string) config {
	return config{
		Endpoint:    url,
		Records:     2500,
		Batch:       1000,
		Concurrency: 3,
		Seed:        7,
		Start:       testStart,
		Step:        time.Millisecond,
		Timeout:     30 * time.Second,
	}
}

// record is a decoded record with its service.
type record struct {
	service string
	ts      time.Time
	sev     plog.SeverityNumber
	body    string
}

func (c *collector) records(t *testing.T) []record {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []record
	for _, ld := range c.requests {
		for _, rl := range ld.ResourceLogs().All() {
			svc, ok := rl.Resource().Attributes().Get("service.name")
			require.True(t, ok, "resource without service.name")
			for _, sl := range rl.ScopeLogs().All() {
				var prev time.Time
				for _, lr := range sl.LogRecords().All() {
					ts := lr.Timestamp().AsTime()
					assert.True(t, ts.After(prev), "timestamps must advance inside a resource")
					prev = ts
					out = append(out, record{svc.Str(), ts, lr.SeverityNumber(), lr.Body().Str()})
				}
			}
		}
	}
	return out
}

func TestRunSendsEveryRecordOnce(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()

	var out, errOut bytes.Buffer
	err := mainErr(context.Background(), []string{
		"-endpoint", srv.URL, "-records", "2500", "-batch", "1000", "-concurrency", "3", "-seed", "7",
	}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	assert.Contains(t, out.String(), "records sent:    2500\n")
	assert.Contains(t, out.String(), "requests:        3\n")
	assert.Contains(t, out.String(), "records/s:")

	require.Len(t, c.requests, 3)
	for i := range c.paths {
		assert.Equal(t, "POST /v1/logs", c.paths[i])
		assert.Equal(t, "application/x-protobuf", c.ctypes[i])
	}
	sizes := []int{c.requests[0].LogRecordCount(), c.requests[1].LogRecordCount(), c.requests[2].LogRecordCount()}
	slices.Sort(sizes)
	assert.Equal(t, []int{500, 1000, 1000}, sizes)

	recs := c.records(t)
	require.Len(t, recs, 2500)
	// Every timestamp start + i*step appears exactly once: each record sent once, in stream order.
	var got []time.Time
	svcs := map[string]int{}
	bodies := map[string]bool{}
	for _, r := range recs {
		got = append(got, r.ts)
		svcs[r.service]++
		bodies[r.body] = true
		assert.NotEmpty(t, r.body)
		assert.NotEqual(t, plog.SeverityNumberUnspecified, r.sev)
	}
	slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
	for i, ts := range got {
		require.Equal(t, testStart.Add(time.Duration(i)*time.Millisecond), ts.UTC(), "record %d", i)
	}
	assert.Len(t, svcs, len(loadgen.Services), "every service appears")
	for _, s := range loadgen.Services {
		assert.Positive(t, svcs[s], s)
	}
	// Variable parts make most lines distinct.
	assert.Greater(t, len(bodies), 2000)
}

func TestContentDependsOnlyOnSeed(t *testing.T) {
	byTimestamp := func(seed uint64, concurrency int) map[time.Time]string {
		c := &collector{}
		srv := httptest.NewServer(c)
		defer srv.Close()
		cfg := testConfig(srv.URL)
		cfg.Seed, cfg.Concurrency, cfg.Batch = seed, concurrency, 300
		res, err := run(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, int64(2500), res.Records)
		require.Equal(t, int64(9), res.Requests)
		m := map[time.Time]string{}
		for _, r := range c.records(t) {
			m[r.ts] = r.service + " " + r.body
		}
		return m
	}
	a := byTimestamp(7, 1)
	b := byTimestamp(7, 4)
	assert.Equal(t, a, b, "same seed, different concurrency")
	other := byTimestamp(8, 1)
	same := 0
	for ts, v := range a {
		if other[ts] == v {
			same++
		}
	}
	assert.Less(t, same, 100, "a different seed gives different content")
}

func TestFailsOnNon2xx(t *testing.T) {
	c := &collector{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(c)
	defer srv.Close()
	var out, errOut bytes.Buffer
	err := mainErr(context.Background(), []string{"-endpoint", srv.URL, "-records", "5000", "-batch", "100"}, &out, &errOut)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503")
	assert.Contains(t, err.Error(), "stopped after 0 records")
	// The run stops at the first failure instead of sending everything.
	assert.Less(t, c.count.Load(), int64(50))
}

func TestFailsOnRejectedRecords(t *testing.T) {
	resp := plogotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedLogRecords(3)
	resp.PartialSuccess().SetErrorMessage("bad records")
	body, err := resp.MarshalProto()
	require.NoError(t, err)
	srv := httptest.NewServer(&collector{response: body})
	defer srv.Close()
	cfg := testConfig(srv.URL)
	_, err = run(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "3 log records rejected: bad records")
}

func TestStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collector{}
	c.onReq = func(n int64) {
		if n == 5 {
			cancel()
		}
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	cfg := testConfig(srv.URL)
	cfg.Records = 0 // unbounded count: only the time limit or the context ends it
	cfg.MaxDuration = time.Hour
	cfg.Batch = 10
	res, err := run(ctx, cfg)
	require.NoError(t, err)
	assert.True(t, res.TimedOut)
	// Requests in flight at cancellation are not counted; the ones accepted before are.
	assert.GreaterOrEqual(t, res.Requests, int64(5-cfg.Concurrency))
	assert.LessOrEqual(t, res.Requests, c.count.Load())
	assert.Equal(t, res.Requests*10, res.Records)
}

func TestRejectsBadConfig(t *testing.T) {
	for _, ep := range []string{
		"http://example.com:4318", "http://10.0.0.1:4318", "http://[2001:db8::1]:4318",
		"ftp://127.0.0.1:4318", "127.0.0.1:4318", "http://0.0.0.0:4318",
	} {
		_, err := otlppost.SignalURL(ep, "/v1/logs")
		require.Error(t, err, ep)
	}
	for ep, want := range map[string]string{
		"http://127.0.0.1:4318":          "http://127.0.0.1:4318/v1/logs",
		"http://localhost:4318/":         "http://localhost:4318/v1/logs",
		"http://[::1]:4318":              "http://[::1]:4318/v1/logs",
		"http://127.0.0.2:9/custom/logs": "http://127.0.0.2:9/custom/logs",
	} {
		got, err := otlppost.SignalURL(ep, "/v1/logs")
		require.NoError(t, err, ep)
		assert.Equal(t, want, got)
	}

	base := testConfig("http://127.0.0.1:4318")
	for name, mod := range map[string]func(*config){
		"unbounded":    func(c *config) { c.Records, c.MaxDuration = 0, 0 },
		"zero batch":   func(c *config) { c.Batch = 0 },
		"zero workers": func(c *config) { c.Concurrency = 0 },
		"negative":     func(c *config) { c.Records = -1 },
	} {
		cfg := base
		mod(&cfg)
		_, err := run(context.Background(), cfg)
		require.Error(t, err, name)
	}
	var out, errOut bytes.Buffer
	require.Error(t, mainErr(context.Background(), []string{"-start", "yesterday"}, &out, &errOut))
	require.Error(t, mainErr(context.Background(), []string{"extra"}, &out, &errOut))
	assert.Empty(t, out.String(), "nothing is reported when nothing was sent")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2etest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Header names of the webhook sink (exporter/rcaexporter/internal/sink/webhook.go).
const (
	hdrIncidentID      = "X-Aiops-Incident-Id"
	hdrIncidentVersion = "X-Aiops-Incident-Version"
)

// outage is how long the webhook answers 503 (OUTAGE, a Go duration; default 15s so that
// `make test` stays fast).
func outage(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv("OUTAGE")
	if s == "" {
		return 15 * time.Second
	}
	d, err := time.ParseDuration(s)
	require.NoError(t, err, "OUTAGE must be a Go duration")
	return d
}

// attempt is one POST the webhook received.
type attempt struct {
	key    string // incident id/version (version zero-padded, so keys sort by version)
	status int
	at     time.Time
}

// gate is a webhook sink whose answer the test switches (503 during an outage, then 200).
type gate struct {
	status   atomic.Int32
	mu       sync.Mutex
	attempts []attempt
}

func newGate(status int) *gate {
	g := &gate{}
	g.status.Store(int32(status))
	return g
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	v, _ := strconv.Atoi(r.Header.Get(hdrIncidentVersion))
	k := fmt.Sprintf("%s/%06d", r.Header.Get(hdrIncidentID), v)
	st := int(g.status.Load())
	g.mu.Lock()
	g.attempts = append(g.attempts, attempt{key: k, status: st, at: time.Now()})
	g.mu.Unlock()
	w.WriteHeader(st)
}

func (g *gate) snapshot() []attempt {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]attempt(nil), g.attempts...)
}

// tally sums attempts: the keys attempted (any status) and the 200 deliveries per key.
type tally struct {
	attempted map[string]int // key -> attempts
	delivered map[string]int // key -> 200 answers
	total     int
	last      time.Time
}

func count(as []attempt) tally {
	tl := tally{attempted: map[string]int{}, delivered: map[string]int{}, total: len(as)}
	for _, a := range as {
		tl.attempted[a.key]++
		if a.status == http.StatusOK {
			tl.delivered[a.key]++
		}
		if a.at.After(tl.last) {
			tl.last = a.at
		}
	}
	return tl
}

func (tl tally) duplicates() int {
	n := 0
	for _, c := range tl.delivered {
		n += max(c-1, 0)
	}
	return n
}

func (tl tally) missing(keys map[string]int) []string {
	var out []string
	for k := range keys {
		if tl.delivered[k] == 0 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// syncBuffer is a bytes.Buffer safe for the collector's output and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// collector is one running process of the built collector.
type collector struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
	over bool
}

// startCollector starts the built collector with testdata/reliability.yaml; it is killed at the
// end of the test if still running.
func startCollector(t *testing.T, endpoint, webhook, storage string) *collector {
	t.Helper()
	return startTier(t, "reliability.yaml", "OTLP_ENDPOINT="+endpoint, "WEBHOOK_URL="+webhook, "STORAGE_DIR="+storage)
}

// crash kills the collector with SIGKILL: no shutdown, nothing flushed.
func (c *collector) crash(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	<-c.done
	c.over = true
}

// stop ends the collector with SIGTERM and requires a clean exit.
func (c *collector) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-c.done:
		c.over = true
		require.NoError(t, err, c.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the collector did not stop\n%s", c.logs.String())
	}
}

// send posts the simulator's fault scenario (database pool exhaustion of orders-db, as in
// TestReplayIsDeterministic) as fast as the collector takes it.
func send(t *testing.T, c *collector, endpoint string) {
	t.Helper()
	postAll(t, c, endpoint, inOrder(t, chunks(t)), nil)
}

// waitFor polls cond every 100ms until it holds or the limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, logs *syncBuffer, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting for %s\n%s", limit, what, logs.String())
}

// settle waits until the webhook has received nothing for quiet (bounded by limit).
func settle(g *gate, quiet, limit time.Duration) {
	start := time.Now()
	for end := start.Add(limit); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		last := count(g.snapshot()).last
		if last.IsZero() {
			last = start
		}
		if time.Since(last) > quiet {
			return
		}
	}
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// gaps lists, per incident, the versions between 1 and the highest delivered that were never
// delivered with 200.
func gaps(tl tally) []string {
	high := map[string]int{}
	for k := range tl.delivered {
		if len(k) < 8 {
			continue
		}
		v, err := strconv.Atoi(k[len(k)-6:])
		if err != nil {
			continue
		}
		id := k[:len(k)-7]
		high[id] = max(high[id], v)
	}
	var out []string
	for id, h := range high {
		for v := 1; v <= h; v++ {
			if k := fmt.Sprintf("%s/%06d", id, v); tl.delivered[k] == 0 {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// The webhook is down (503) while the fault's incidents go out; the collector is killed with
// SIGKILL during the outage and restarted on the same persistent queue; the webhook recovers.
// Every incident version the exporter had tried to deliver before the crash is delivered after
// the restart (at least once; duplicates are counted and reported, docs/reliability.md).
func TestSinkOutageAndCrash(t *testing.T) {
	down := outage(t)
	g := newGate(http.StatusServiceUnavailable)
	srv := httptest.NewServer(g)
	defer srv.Close()
	storage := t.TempDir()
	endpoint := freePort(t)

	first := startCollector(t, endpoint, srv.URL, storage)
	begin := time.Now()
	send(t, first, endpoint)
	t.Logf("replay sent in %s", time.Since(begin).Round(time.Millisecond))
	waitFor(t, 2*time.Minute, "a delivery attempt during the outage", first.logs, func() bool {
		return count(g.snapshot()).total > 0
	})
	time.Sleep(down)
	first.crash(t)
	before := count(g.snapshot())
	require.Empty(t, before.delivered, "nothing is accepted during the outage")
	t.Logf("outage %s: %d attempts of %d incident versions before SIGKILL: %v", down, before.total, len(before.attempted), keys(before.attempted))

	second := startCollector(t, endpoint, srv.URL, storage)
	restarted := time.Now()
	g.status.Store(http.StatusOK)
	waitFor(t, 2*time.Minute, "every version attempted before the crash delivered after the restart", second.logs, func() bool {
		return len(count(g.snapshot()).missing(before.attempted)) == 0
	})
	recovered := time.Since(restarted)
	settle(g, 5*time.Second, time.Minute)
	second.stop(t)

	after := count(g.snapshot())
	require.Empty(t, after.missing(before.attempted), "versions attempted before the crash and never delivered")
	newAfter := 0
	for k := range after.delivered {
		if before.attempted[k] == 0 {
			newAfter++
		}
	}
	t.Logf("RESULT crash: outage=%s attempted_before_crash=%d delivered_after_restart=%d (of which not attempted before the crash: %d) "+
		"lost=0 duplicates=%d total_posts=%d recovery=%s (restart to the last attempted version delivered) gaps=%v",
		down, len(before.attempted), len(after.delivered), newAfter, after.duplicates(), after.total,
		recovered.Round(10*time.Millisecond), gaps(after))
}

// The webhook is down (503) for the outage while the fault's incidents go out, then recovers:
// every incident version attempted is delivered, with no gap in any incident's versions.
func TestSinkOutageRecovers(t *testing.T) {
	down := outage(t)
	g := newGate(http.StatusServiceUnavailable)
	srv := httptest.NewServer(g)
	defer srv.Close()
	endpoint := freePort(t)

	c := startCollector(t, endpoint, srv.URL, t.TempDir())
	send(t, c, endpoint)
	waitFor(t, 2*time.Minute, "a delivery attempt during the outage", c.logs, func() bool {
		return count(g.snapshot()).total > 0
	})
	time.Sleep(down)
	during := count(g.snapshot())
	g.status.Store(http.StatusOK)
	recovering := time.Now()
	waitFor(t, 2*time.Minute, "every version attempted during the outage delivered", c.logs, func() bool {
		return len(count(g.snapshot()).missing(during.attempted)) == 0
	})
	recovered := time.Since(recovering)
	settle(g, 5*time.Second, time.Minute)
	c.stop(t)

	after := count(g.snapshot())
	require.Empty(t, after.missing(after.attempted), "versions attempted and never delivered")
	require.Empty(t, gaps(after), "versions missing between 1 and an incident's last version")
	t.Logf("RESULT recovery: outage=%s attempted_during_outage=%d delivered=%d lost=0 duplicates=%d total_posts=%d recovery=%s delivered=%v",
		down, len(during.attempted), len(after.delivered), after.duplicates(), after.total, recovered.Round(10*time.Millisecond), keys(after.delivered))
}

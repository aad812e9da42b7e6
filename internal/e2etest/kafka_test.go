// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2etest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// startTier starts the built collector with internal/e2etest/testdata/<config> and env; it is
// killed at the end of the test if still running.
func startTier(t testing.TB, config string, env ...string) *collector {
	t.Helper()
	bin := os.Getenv("COLLECTOR")
	require.NotEmpty(t, bin, "COLLECTOR must name the built collector (make e2e sets it)")
	c := &collector{logs: &syncBuffer{}, done: make(chan error, 1)}
	c.cmd = exec.Command(bin, "--config", filepath.Join(repoRoot(t), "internal", "e2etest", "testdata", config))
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	require.NoError(t, c.cmd.Start())
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if !c.over {
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// evidenceCount reads the whole aiops_evidence topic and counts the annotated application
// records (not the connector's graph records) and those seen more than once.
func evidenceCount(t testing.TB, brokers string) (records, duplicates int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("aiops_evidence"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	seen := map[string]int{}
	idle := 0
	for idle < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(r.Value)
			require.NoError(t, err)
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				rl := ld.ResourceLogs().At(i)
				svc, _ := rl.Resource().Attributes().Get("service.name")
				if strings.HasPrefix(svc.AsString(), "logs2graph") {
					continue
				}
				for j := 0; j < rl.ScopeLogs().Len(); j++ {
					lrs := rl.ScopeLogs().At(j).LogRecords()
					for k := 0; k < lrs.Len(); k++ {
						lr := lrs.At(k)
						seen[fmt.Sprintf("%s|%d|%s", svc.AsString(), lr.Timestamp(), lr.Body().AsString())]++
						records++
					}
				}
			}
		})
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	for _, n := range seen {
		duplicates += n - 1
	}
	return records, duplicates
}

// scrape reads the counter metric (summed over its series) from a collector's Prometheus
// endpoint; -1 if it cannot be read.
func scrape(addr, metric string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	total := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			total += v
		}
	}
	return total
}

// kafkaResult is what one run of the scaled-out layout gave.
type kafkaResult struct {
	incidents         []string // incident versions received, sorted by id and version
	sent              int      // log records sent
	records, dups     int      // annotated records on the evidence topic, and those seen twice
	logsIn, spansIn   []float64
	cpu               []time.Duration // CPU time (user + system) of each analysis collector
	sentSpans         int
	analysisInstances int
}

// kafkaRun plays the simulator's fault scenario (as TestReplayIsDeterministic) through the
// scaled-out layout of deploy/: an agent (OTLP -> Kafka, logs keyed by resource, traces by trace
// id), n analysis collectors in one consumer group (llm_anomaly, logs2graph with their own
// instance ids -> the evidence topic) and one rca collector, on franz-go's in-process broker.
// With stopAfter > 0, the last analysis collector is stopped (SIGTERM) once that share of the
// requests was sent: the group rebalances and the others take its partitions over.
func kafkaRun(t testing.TB, n int, stopAfter float64) kafkaResult {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "otlp_logs", "otlp_spans", "aiops_evidence"))
	require.NoError(t, err)
	defer cluster.Close()
	brokers := cluster.ListenAddrs()[0]

	capt := &capture{}
	srv := httptest.NewServer(capt)
	defer srv.Close()
	rcaTier := startTier(t, "kafka-rca.yaml", "KAFKA_BROKERS="+brokers, "WEBHOOK_URL="+srv.URL)
	var analysis []*collector
	var metrics []string
	for i := range n {
		addr := freePort(t)
		_, port, _ := strings.Cut(addr, ":")
		metrics = append(metrics, addr)
		analysis = append(analysis, startTier(t, "kafka-analysis.yaml", "KAFKA_BROKERS="+brokers,
			fmt.Sprintf("INSTANCE_ID=analysis-%d", i+1), "METRICS_PORT="+port))
	}
	endpoint := freePort(t)
	agent := startTier(t, "kafka-agent.yaml", "KAFKA_BROKERS="+brokers, "OTLP_ENDPOINT="+endpoint)

	res := kafkaResult{analysisInstances: n}
	chs := chunks(t)
	for _, ch := range chs {
		res.sent += ch.Logs.LogRecordCount()
		res.sentSpans += ch.Traces.SpanCount()
	}
	reqs := inOrder(t, chs)
	stopped := false
	read := func(i int) {
		res.logsIn[i] = scrape(metrics[i], "otelcol_receiver_accepted_log_records")
		res.spansIn[i] = scrape(metrics[i], "otelcol_receiver_accepted_spans")
	}
	res.logsIn, res.spansIn = make([]float64, n), make([]float64, n)
	postAll(t, agent, endpoint, reqs, func(i int) {
		if stopAfter > 0 && !stopped && float64(i) >= stopAfter*float64(len(reqs)) {
			read(n - 1)
			analysis[n-1].stop(t)
			stopped = true
		}
		// a little pacing, so that every analysis collector takes part while the scenario runs
		time.Sleep(2 * time.Millisecond)
	})
	// The analysis tier's idle timers let what it holds out once the input stops, then the rca
	// collector's; wait until the webhook has been quiet for a while.
	quiet := 10 * time.Second
	begin := time.Now()
	for end := time.Now().Add(3 * time.Minute); time.Now().Before(end); {
		time.Sleep(time.Second)
		if _, last := capt.snapshot(); !last.IsZero() && time.Since(last) > quiet && time.Since(begin) > 20*time.Second {
			break
		}
	}
	agent.stop(t)
	for i, c := range analysis {
		if !c.over {
			read(i)
			c.stop(t)
		}
		res.cpu = append(res.cpu, c.cmd.ProcessState.UserTime()+c.cmd.ProcessState.SystemTime())
	}
	res.records, res.dups = evidenceCount(t, brokers)
	rcaTier.stop(t)
	res.incidents, _ = capt.snapshot()
	sort.SliceStable(res.incidents, func(i, j int) bool { return key(t, res.incidents[i]) < key(t, res.incidents[j]) })
	return res
}

// share is each instance's share of the total.
func share(xs []float64) []float64 {
	total := 0.0
	for _, x := range xs {
		total += x
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x / max(total, 1)
	}
	return out
}

// roots is the root cause of each incident's last version.
func roots(t testing.TB, versions []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range versions {
		var inc incident.Incident
		require.NoError(t, json.Unmarshal([]byte(b), &inc))
		if inc.MergedInto == "" {
			out[inc.ID] = inc.RootCauseService
		}
	}
	return out
}

func rootSet(m map[string]string) []string {
	var out []string
	for _, r := range m {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// TestKafkaScaleOut: the scaled-out layout gives the single collector's answer, loses and
// duplicates no record, spreads the traces evenly, and keeps the answer when one analysis
// collector leaves mid-run.
func TestKafkaScaleOut(t *testing.T) {
	single := roots(t, replay(t, inOrder(t, chunks(t)), 0))
	require.Contains(t, rootSet(single), "orders-db", "the single collector names the fault's root cause")

	r := kafkaRun(t, 2, 0)
	scaled := roots(t, r.incidents)
	t.Logf("two analysis collectors: incidents %v (single collector: %v); %d log records sent, %d annotated on the evidence topic, %d duplicates; log records taken %v, spans %v",
		scaled, single, r.sent, r.records, r.dups, share(r.logsIn), share(r.spansIn))
	assert.Equal(t, rootSet(single), rootSet(scaled), "the same incidents' root causes as one collector")
	assert.Equal(t, r.sent, r.records, "every log record sent reaches the evidence topic")
	assert.Zero(t, r.dups, "no record twice")
	assert.InDelta(t, float64(r.sent), r.logsIn[0]+r.logsIn[1], 0, "the two instances took every log record once")
	assert.InDelta(t, float64(r.sentSpans), r.spansIn[0]+r.spansIn[1], 0, "and every span once")
	for _, sh := range share(r.spansIn) {
		assert.InDelta(t, 0.5, sh, 0.1, "traces keyed by trace id spread evenly: %v", share(r.spansIn))
	}

	r = kafkaRun(t, 2, 0.5)
	rebalanced := roots(t, r.incidents)
	t.Logf("second analysis collector stopped halfway: incidents %v; %d sent, %d on the evidence topic, %d duplicates; log records taken %v",
		rebalanced, r.sent, r.records, r.dups, share(r.logsIn))
	assert.Equal(t, rootSet(single), rootSet(rebalanced), "a rebalance keeps the answer")
	assert.Equal(t, r.sent, r.records, "nothing lost in the rebalance")
	assert.Zero(t, r.dups, "nothing twice after the rebalance")
}

// BenchmarkKafkaAnalysisTier (make bench-kafka) measures the analysis tier of the scaled-out
// layout on the fault scenario: its CPU time (user + system of the analysis collectors) per
// record (log records and spans), with one and with two collectors in the consumer group, and
// the smallest instance's share of the records.
func BenchmarkKafkaAnalysisTier(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			var cpu time.Duration
			var records int
			minShare := 1.0
			for range b.N {
				r := kafkaRun(b, n, 0)
				for _, c := range r.cpu {
					cpu += c
				}
				records += r.sent + r.sentSpans
				for _, sh := range share(r.logsIn) {
					minShare = min(minShare, sh)
				}
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(records), "cpu-ns/record")
			b.ReportMetric(minShare, "min-log-share")
			b.ReportMetric(0, "ns/op")
		})
	}
}

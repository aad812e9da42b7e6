// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Command evalllm measures what the llm_anomaly processor's LLM stage costs and changes, with an
// in-process, counting, OpenAI-compatible fake model (no network): the HDFS sample, BGL and the
// realistic simulator are replayed through the processor (built from its factory, fed pdata)
// twice, statistical-only and with the LLM stage, and it reports LLM calls, input and output
// tokens, tokens and cost per 1M lines at list prices, the cache hit rate and the detection F1
// both ways. With -hang the model never answers, and it reports the CPU time per record against
// the statistical-only run and whether any record was lost.
//
// The fake model answers like a careful one would be asked to: anomalous when the prompt lists
// statistical findings, normal otherwise. Token counts are the prompt's and answer's characters
// divided by 4 (no tokenizer download). Run from the module root:
//
//	go run ./cmd/evalllm [-data ../shared/data] [-hang]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/loghub"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"
)

// List prices used for the cost column (gpt-4o-mini, per 1000 tokens).
const (
	priceIn  = 0.00015
	priceOut = 0.0006
)

func main() {
	data := flag.String("data", "../shared/data", "directory holding loghub2k/ and hdfs/")
	hang := flag.Bool("hang", false, "the model hangs: compare CPU per record with the statistical-only run")
	flag.StringVar(&real.endpoint, "endpoint", os.Getenv("LLM_ENDPOINT"), "a real model's base URL instead of the fake (make eval-llm); env LLM_ENDPOINT")
	flag.StringVar(&real.provider, "provider", envOr("LLM_PROVIDER", "openai"), "provider of -endpoint: openai, anthropic or ollama; env LLM_PROVIDER")
	flag.StringVar(&real.model, "model", envOr("LLM_MODEL", "llama3.1:8b"), "model of -endpoint; env LLM_MODEL")
	flag.Parse()
	real.key = os.Getenv("LLM_API_KEY")
	if err := run(*data, *hang); err != nil {
		fmt.Fprintln(os.Stderr, "evalllm:", err)
		os.Exit(1)
	}
}

// real names a real model (make eval-llm); empty endpoint = the fake.
var real struct{ endpoint, provider, model, key string }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// dataset is a replayable input with its scoring.
type dataset struct {
	name    string
	session string // session regex for the processor
	batches []plog.Logs
	lines   int
	// score returns F1 from the forwarded records.
	score func(recs []plog.LogRecord) (f1 float64)
}

func run(data string, hang bool) error {
	sets, err := load(data)
	if err != nil {
		return err
	}
	fake := newFakeModel(hang)
	defer fake.close()
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	if hang {
		fmt.Fprintln(tw, "dataset\tlines\tCPU µs/record stat\tCPU µs/record llm hanging\tchange\tlost\tskipped\t")
	} else {
		fmt.Fprintln(tw, "dataset\tlines\tcalls\tabout findings\tin tokens\tout tokens\ttokens/1M lines\tcost/1M lines $\tcache hits\tcache hit rate\tskipped\tF1 stat\tF1 llm\t")
	}
	for _, ds := range sets {
		stat, err := replay(ds, nil)
		if err != nil {
			return err
		}
		fake.reset()
		llm, err := replay(ds, fake)
		if err != nil {
			return err
		}
		if hang {
			// Noisy machines: interleave three runs of each and keep the fastest of each.
			s, l := stat.cpu, llm.cpu
			for range 2 {
				st, err := replay(ds, nil)
				if err != nil {
					return err
				}
				ll, err := replay(ds, fake)
				if err != nil {
					return err
				}
				s, l = min(s, st.cpu), min(l, ll.cpu)
			}
			lost := ds.lines - llm.records
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%+.1f%%\t%d\t%d\t\n", ds.name, ds.lines,
				s.Seconds()*1e6/float64(ds.lines), l.Seconds()*1e6/float64(ds.lines), 100*(l.Seconds()/s.Seconds()-1), lost, llm.skipped)
			continue
		}
		calls, in, out := llm.calls, llm.in, llm.out
		tok := float64(in+out) * 1e6 / float64(ds.lines)
		cost := (float64(in)/1000*priceIn + float64(out)/1000*priceOut) * 1e6 / float64(ds.lines)
		rate := 0.0
		if llm.hits+llm.misses > 0 {
			rate = float64(llm.hits) / float64(llm.hits+llm.misses)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.4f\t%d\t%.2f\t%d\t%.3f\t%.3f\t\n", ds.name, ds.lines, calls, fake.flagged.Load(), in, out, tok, cost,
			llm.hits, rate, llm.skipped, stat.f1, llm.f1)
		if ds.lines != llm.records || ds.lines != stat.records {
			return fmt.Errorf("%s: records lost: %d in, %d out statistical, %d out with the LLM", ds.name, ds.lines, stat.records, llm.records)
		}
	}
	return tw.Flush()
}

type result struct {
	records        int
	f1             float64
	cpu            time.Duration
	hits, misses   int64
	skipped        int64
	verdictRecords int
	calls, in, out int64 // requests answered and their tokens, as the processor measured them
}

// replay runs ds through a processor built from the factory; with a model when fake is set.
func replay(ds dataset, fake *fakeModel) (result, error) {
	ctx := context.Background()
	f := llmanomalyprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*llmanomalyprocessor.Config)
	cfg.Session.Regex = ds.session
	cfg.AnnotateNormal = false
	cfg.MaxHeldRecords = 1 << 30
	if fake != nil {
		lc := cfg.LLM.GetOrInsertDefault()
		lc.Model.Model = "fake-judge"
		lc.Model.ClientConfig.Endpoint = fake.url()
		lc.Model.ClientConfig.Timeout = time.Hour
		lc.Model.Price.InputPer1K = priceIn
		lc.Model.Price.OutputPer1K = priceOut
		lc.Retry.MaxAttempts = 1
		lc.QueueSize = 100_000
		if real.endpoint != "" {
			lc.Model.Provider, lc.Model.Model = real.provider, real.model
			lc.Model.ClientConfig.Endpoint = real.endpoint
			lc.Model.APIKey = configopaque.String(real.key)
			lc.Model.ClientConfig.Timeout = 2 * time.Minute
			lc.Retry.MaxAttempts = 3
		}
	}
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(ctx) }()
	set := processortest.NewNopSettings(f.Type())
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := &collect{}
	p, err := f.CreateLogs(ctx, set, cfg, sink)
	if err != nil {
		return result{}, err
	}
	if err := p.Start(ctx, componenttest.NewNopHost()); err != nil {
		return result{}, err
	}
	cpu0 := cpuTime()
	for _, b := range ds.batches {
		ld := plog.NewLogs()
		b.CopyTo(ld)
		if err := p.ConsumeLogs(ctx, ld); err != nil {
			return result{}, err
		}
		if fake != nil && !fake.hang {
			fake.waitIdle() // live traffic gives the model time to answer between windows
		}
	}
	if fake != nil && !fake.hang {
		fake.settle() // let the last windows' questions be answered before shutdown cancels them
	}
	if err := shutdown(ctx, p); err != nil {
		return result{}, err
	}
	res := result{cpu: cpuTime() - cpu0}
	recs := sink.records()
	var plain []plog.LogRecord
	for _, lr := range recs {
		if lr.EventName() == contract.EventVerdict {
			res.verdictRecords++
			continue
		}
		plain = append(plain, lr)
	}
	res.records = len(plain)
	res.f1 = ds.score(plain)
	hm := sumBy(tel, "otelcol_processor_llm_anomaly_llm_cache", "result")
	res.hits, res.misses = hm["hit"], hm["miss"]
	for _, v := range sumBy(tel, "otelcol_processor_llm_anomaly_llm_skipped", "reason") {
		res.skipped += v
	}
	for outcome, v := range sumBy(tel, "otelcol_processor_llm_anomaly_llm_requests", "outcome") {
		switch outcome {
		case "budget", "rate", "canceled", "cached":
		default:
			res.calls += v
		}
	}
	tok := sumBy(tel, "otelcol_processor_llm_anomaly_llm_tokens", "direction")
	res.in, res.out = tok["input"], tok["output"]
	return res, nil
}

func shutdown(ctx context.Context, p processor.Logs) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return p.Shutdown(ctx)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sumBy(tel *componenttest.Telemetry, name, key string) map[string]int64 {
	out := map[string]int64{}
	m, err := tel.GetMetric(name)
	if err != nil {
		return out
	}
	if s, ok := m.Data.(metricdata.Sum[int64]); ok {
		for _, dp := range s.DataPoints {
			v, _ := dp.Attributes.Value(attribute.Key(key))
			out[v.AsString()] += dp.Value
		}
	}
	return out
}

// collect keeps every forwarded record.
type collect struct {
	mu   sync.Mutex
	logs []plog.Logs
}

func (c *collect) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *collect) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.mu.Lock()
	c.logs = append(c.logs, ld)
	c.mu.Unlock()
	return nil
}

func (c *collect) records() []plog.LogRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []plog.LogRecord
	for _, ld := range c.logs {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

func detected(lr plog.LogRecord) bool {
	v, ok := lr.Attributes().Get(contract.AttrDetected)
	return ok && v.Type() == pcommon.ValueTypeBool && v.Bool()
}

// lineF1 is the record-level F1 of the detected records against the label pos.
func lineF1(recs []plog.LogRecord, pos func(plog.LogRecord) bool) float64 {
	var tp, fp, fn int
	for _, lr := range recs {
		switch d, p := detected(lr), pos(lr); {
		case d && p:
			tp++
		case d:
			fp++
		case p:
			fn++
		}
	}
	return f1(tp, fp, fn)
}

func f1(tp, fp, fn int) float64 {
	if tp == 0 {
		return 0
	}
	p := float64(tp) / float64(tp+fp)
	r := float64(tp) / float64(tp+fn)
	return 2 * p * r / (p + r)
}

// load builds the data sets as batches of pdata.
func load(data string) ([]dataset, error) {
	var sets []dataset

	hdfsLabels, err := loghub.ReadHDFSLabels(filepath.Join(data, "hdfs", "HDFS_v1_2pct_anomaly_label.csv"))
	if err != nil {
		return nil, err
	}
	var hdfs []loghub.Line
	if err := loghub.ReadHDFS(filepath.Join(data, "hdfs", "HDFS_v1_2pct.log"), func(l loghub.Line) { hdfs = append(hdfs, l) }); err != nil {
		return nil, err
	}
	sets = append(sets, dataset{
		name: "HDFS (block F1)", session: loghub.HDFSBlockRegex, batches: batchesOf("hdfs", hdfs), lines: len(hdfs),
		score: func(recs []plog.LogRecord) float64 {
			flagged := map[string]bool{}
			for _, lr := range recs {
				if detected(lr) {
					if b := blockOf(lr.Body().Str()); b != "" {
						flagged[b] = true
					}
				}
			}
			var tp, fp, fn int
			for b, pos := range hdfsLabels {
				switch {
				case flagged[b] && pos:
					tp++
				case flagged[b]:
					fp++
				case pos:
					fn++
				}
			}
			return f1(tp, fp, fn)
		},
	})

	bgl, err := loghub.ReadBGL(filepath.Join(data, "loghub2k", "BGL", "BGL_2k.log_structured_corrected.csv"))
	if err != nil {
		return nil, err
	}
	alerts := map[string]bool{}
	for _, l := range bgl {
		if l.Alert {
			alerts[lineKey(l.Time, l.Content)] = true
		}
	}
	sets = append(sets, dataset{
		name: "BGL (line F1)", batches: batchesOf("bgl", bgl), lines: len(bgl),
		score: func(recs []plog.LogRecord) float64 {
			return lineF1(recs, func(lr plog.LogRecord) bool { return alerts[lineKey(int64(lr.Timestamp()), lr.Body().Str())] })
		},
	})

	// The realistic simulator: faulty runs; scored as line-level F1 of error records of the
	// faulty service after the fault against everything else (a rough label, equal both ways).
	for i, fk := range []sim.FaultKind{sim.FaultDBPoolExhaustion, sim.FaultBadDeploy, sim.FaultSlowQuery} {
		sc, err := sim.NewScenario(sim.Options{Fault: fk, Duration: 30 * time.Minute, FaultAt: 20 * time.Minute, Seed: uint64(11 + i), Realistic: true})
		if err != nil {
			return nil, err
		}
		var batches []plog.Logs
		n := 0
		if _, err := sim.Run(sc, 5*time.Second, func(ch sim.Chunk) error {
			if ch.Logs.LogRecordCount() > 0 {
				batches = append(batches, ch.Logs)
				n += ch.Logs.LogRecordCount()
			}
			return nil
		}); err != nil {
			return nil, err
		}
		faultAt := pcommon.NewTimestampFromTime(sc.Faults[0].Start)
		sets = append(sets, dataset{
			name: "sim realistic " + string(fk), batches: batches, lines: n,
			score: func(recs []plog.LogRecord) float64 {
				return lineF1(recs, func(lr plog.LogRecord) bool {
					return lr.Timestamp() >= faultAt && contract.IsError(int32(lr.SeverityNumber()), lr.SeverityText())
				})
			},
		})
	}
	return sets, nil
}

func lineKey(t int64, content string) string { return fmt.Sprintf("%d\x00%s", t, content) }

func blockOf(s string) string {
	i := strings.Index(s, "blk_")
	if i < 0 {
		return ""
	}
	j := i + 4
	if j < len(s) && s[j] == '-' {
		j++
	}
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return s[i:j]
}

// batchesOf cuts lines into requests of 1000 records of one service.
func batchesOf(service string, lines []loghub.Line) []plog.Logs {
	var out []plog.Logs
	for i := 0; i < len(lines); i += 1000 {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(contract.AttrServiceName, service)
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for _, l := range lines[i:min(i+1000, len(lines))] {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.Timestamp(l.Time))
			lr.SetSeverityText(l.Level)
			lr.SetSeverityNumber(plog.SeverityNumber(contract.SeverityFromText(l.Level)))
			lr.Body().SetStr(l.Content)
		}
		out = append(out, ld)
	}
	return out
}

// fakeModel is an OpenAI-compatible chat completions server that counts calls and tokens.
type fakeModel struct {
	srv      *httptest.Server
	hang     bool
	calls    atomic.Int64
	in, out  atomic.Int64
	inflight atomic.Int64
	flagged  atomic.Int64 // questions about windows with findings
	stop     chan struct{}
}

func newFakeModel(hang bool) *fakeModel {
	f := &fakeModel{hang: hang, stop: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fakeModel) url() string { return f.srv.URL + "/v1" }

func (f *fakeModel) close() {
	close(f.stop)
	f.srv.CloseClientConnections()
	f.srv.Close()
}

func (f *fakeModel) reset() { f.calls.Store(0); f.in.Store(0); f.out.Store(0); f.flagged.Store(0) }

// settle waits until no request has arrived for 300 ms.
func (f *fakeModel) settle() {
	last := f.calls.Load()
	for {
		time.Sleep(300 * time.Millisecond)
		n := f.calls.Load()
		if n == last && f.inflight.Load() == 0 {
			return
		}
		last = n
	}
}

// waitIdle waits until no request is being answered (the fake answers at once).
func (f *fakeModel) waitIdle() {
	for f.inflight.Load() > 0 {
		time.Sleep(100 * time.Microsecond)
	}
}

func (f *fakeModel) serve(w http.ResponseWriter, r *http.Request) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	body, _ := io.ReadAll(r.Body)
	if f.hang {
		select {
		case <-r.Context().Done():
		case <-f.stop:
		}
		return
	}
	var req struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var prompt strings.Builder
	for _, m := range req.Messages {
		prompt.WriteString(m.Content)
	}
	user := ""
	if len(req.Messages) > 0 {
		user = req.Messages[len(req.Messages)-1].Content
	}
	answer := `{"is_anomaly": false, "severity": "Low", "anomaly_type": "", "root_cause": "", "affected_services": [], "remediation_steps": [], "confidence": 0.8, "explanation": "the templates and rates look like normal operation"}`
	if hasFindings(user) {
		answer = `{"is_anomaly": true, "severity": "High", "anomaly_type": "ErrorBurst", "root_cause": "the flagged template's errors", "affected_services": [], "remediation_steps": ["check the flagged template's exemplar lines", "compare with the last deployment"], "confidence": 0.8, "explanation": "the statistical findings list error templates well above their baseline"}`
	}
	if strings.Contains(user, "brief_reason") {
		answer = `{"is_anomaly": true, "confidence": 0.8, "brief_reason": "findings present"}`
	}
	if hasFindings(user) {
		f.flagged.Add(1)
	}
	in, out := (prompt.Len()+3)/4, (len(answer)+3)/4
	f.calls.Add(1)
	f.in.Add(int64(in))
	f.out.Add(int64(out))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "fake", "object": "chat.completion", "created": 0, "model": "fake-judge",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": answer}}},
		"usage":   map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
}

// hasFindings reports whether the window in the prompt (the last message) lists statistical
// findings.
func hasFindings(user string) bool {
	return strings.Contains(user, "findings (type")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Command aiops-sim simulates a microservice system (the default shop or a random topology) with
// normal traffic and an optional injected fault, and sends its logs and traces to a collector's
// OTLP/HTTP receiver (protobuf, POST /v1/logs and /v1/traces) in accelerated event time. It
// prints the ground truth (fault kind, root cause, start and end) as one JSON line first. The
// output depends only on the flags (-seed included), not on the wall clock, unless -start now.
// Only loopback endpoints are accepted.
//
//	aiops-sim -scenario db_pool_exhaustion -target orders-db -duration 25m -fault-at 18m -speed 30
//	aiops-sim -scenario random -topology random:12 -seed 7 -speed 0
//	aiops-sim -scenario low_traffic_slow -fault-duration 10m
//	aiops-sim -realistic -scenario cpu_contention -target payment
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aiops-sim:", err)
		os.Exit(1)
	}
}

type flags struct {
	endpoint, scenario, topology, target, peer, start, signals string
	seed                                                       uint64
	duration, faultAt, faultDuration, step, wait, timeout      time.Duration
	speed, rate                                                float64
	lowTraffic                                                 bool
	lowTrafficCaller                                           string
	realistic                                                  bool
	statusCodes                                                float64
}

// realisticFaultAt is the default fault start with -realistic: the mode's short warm-up.
const realisticFaultAt = 10 * time.Minute

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aiops-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flags
	fs.StringVar(&f.endpoint, "endpoint", "http://127.0.0.1:4318", "OTLP/HTTP base URL (loopback only); /v1/logs and /v1/traces are added")
	fs.StringVar(&f.scenario, "scenario", "db_pool_exhaustion", "fault kind ("+kindList()+"), none, or random (chosen from -seed among the first six kinds, or with -realistic among "+kindNames(sim.RealisticFaultKinds())+")")
	fs.StringVar(&f.topology, "topology", "default", "default (the shop) or random:N (N services, from -seed)")
	fs.StringVar(&f.target, "target", "", "root cause node of the fault (default: chosen from -seed)")
	fs.StringVar(&f.peer, "peer", "", "calling side of a network_partition (default: chosen from -seed)")
	fs.StringVar(&f.start, "start", "now", "event time of the start (RFC 3339, or now)")
	fs.StringVar(&f.signals, "signals", "logs,traces", "signals to send: logs, traces or both")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the topology, the traffic and the fault placement")
	fs.DurationVar(&f.duration, "duration", 25*time.Minute, "event time simulated")
	fs.DurationVar(&f.faultAt, "fault-at", 18*time.Minute, "fault start, offset from the start (after the detectors' warm-up; 10m when not set with -realistic); when not set and not within -duration: a third of -duration")
	fs.DurationVar(&f.faultDuration, "fault-duration", 0, "fault length (default: until the end)")
	fs.DurationVar(&f.step, "step", time.Second, "event time per request (one logs and one traces request per step)")
	fs.Float64Var(&f.speed, "speed", 30, "event seconds per wall-clock second (0: as fast as possible)")
	fs.Float64Var(&f.rate, "rate", 20, "user requests per second of event time at the entry service")
	fs.DurationVar(&f.wait, "wait", time.Minute, "how long to retry the first request while the collector starts")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.BoolVar(&f.lowTraffic, "low-traffic", false, "add the low-traffic service "+sim.LowTrafficService+" (called about once a minute by a scheduled job; implied by the low_traffic_* scenarios)")
	fs.StringVar(&f.lowTrafficCaller, "low-traffic-caller", "", "service whose job calls "+sim.LowTrafficService+" (default: chosen from -seed)")
	fs.BoolVar(&f.realistic, "realistic", false, "realistic mode: bursty periodic load with queueing on a few calls, background ERROR lines with Java stack traces and WARN lines in every service, spans without kind, status or peer attributes (see docs/simulator.md)")
	fs.Float64Var(&f.statusCodes, "status-codes", 0, "with -realistic: share (0..1) of the HTTP and RPC spans that carry http.response.status_code")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	faultAtSet := false
	fs.Visit(func(fl *flag.Flag) { faultAtSet = faultAtSet || fl.Name == "fault-at" })
	if !faultAtSet && f.realistic {
		f.faultAt = realisticFaultAt
	}
	if !faultAtSet && f.faultAt >= f.duration {
		f.faultAt = 0 // the library's default: a third of the duration
	}
	sc, err := buildScenario(f, time.Now())
	if err != nil {
		return err
	}
	baseURL, err := otlppost.BaseURL(f.endpoint)
	if err != nil {
		return err
	}
	base := baseURL.String()
	sendLogs, sendTraces := strings.Contains(f.signals, "logs"), strings.Contains(f.signals, "traces")
	if !sendLogs && !sendTraces {
		return errors.New("-signals must name logs, traces or both")
	}
	if f.speed < 0 {
		return errors.New("-speed must not be negative")
	}
	if err := printTruth(stdout, sc); err != nil {
		return err
	}

	client := &http.Client{Timeout: f.timeout, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	s, err := sim.New(sc)
	if err != nil {
		return err
	}
	begin := time.Now()
	first := true
	var requests, bytesSent int64
	for k := 1; ; k++ {
		ch, more := s.Next(f.step)
		retry := time.Duration(0)
		if first {
			retry = f.wait
		}
		if sendLogs && ch.Logs.LogRecordCount() > 0 {
			body, err := plogotlp.NewExportRequestFromLogs(ch.Logs).MarshalProto()
			if err != nil {
				return err
			}
			if err := postRetry(ctx, client, base+"/v1/logs", body, retry); err != nil {
				return err
			}
			requests++
			bytesSent += int64(len(body))
			first, retry = false, 0
		}
		if sendTraces && ch.Traces.SpanCount() > 0 {
			body, err := ptraceotlp.NewExportRequestFromTraces(ch.Traces).MarshalProto()
			if err != nil {
				return err
			}
			if err := postRetry(ctx, client, base+"/v1/traces", body, retry); err != nil {
				return err
			}
			requests++
			bytesSent += int64(len(body))
			first = false
		}
		if !more {
			break
		}
		if f.speed > 0 { // pace: chunk k is due k*step/speed after the beginning
			due := begin.Add(time.Duration(float64(time.Duration(k)*f.step) / f.speed))
			if err := sleepUntil(ctx, due); err != nil {
				return err
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	st := s.Stats()
	_, err = fmt.Fprintf(stdout, "aiops-sim: %d user requests, %d spans, %d log records in %d requests (%d bytes) to %s in %.1fs\n",
		st.Requests, st.Spans, st.Logs, requests, bytesSent, base, time.Since(begin).Seconds())
	return err
}

// kindList names every fault kind.
func kindList() string {
	kinds := append(sim.FaultKinds(), sim.LowTrafficFaultKinds()...)
	for _, k := range sim.RealisticFaultKinds() {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kindNames(kinds)
}

func kindNames(kinds []sim.FaultKind) string {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// buildScenario turns the flags into a scenario.
func buildScenario(f flags, now time.Time) (sim.Scenario, error) {
	var topo *sim.Topology
	switch {
	case f.topology == "default":
		topo = sim.DefaultShop()
	case strings.HasPrefix(f.topology, "random:"):
		n, err := strconv.Atoi(strings.TrimPrefix(f.topology, "random:"))
		if err != nil || n < 2 || n > sim.MaxNodes/3 {
			return sim.Scenario{}, fmt.Errorf("-topology %q: want random:N with N in 2..%d", f.topology, sim.MaxNodes/3)
		}
		topo = sim.RandomTopology(f.seed, n)
	default:
		return sim.Scenario{}, fmt.Errorf("-topology %q: want default or random:N", f.topology)
	}
	if f.statusCodes != 0 && !f.realistic {
		return sim.Scenario{}, errors.New("-status-codes needs -realistic")
	}
	var kind sim.FaultKind
	if f.scenario == "random" {
		kinds := sim.FaultKinds()
		if f.realistic {
			kinds = sim.RealisticFaultKinds()
		}
		kind = kinds[rand.New(rand.NewPCG(f.seed, 1)).IntN(len(kinds))] //nolint:gosec // G404: seeded, reproducible simulation
	} else {
		k, err := sim.ParseFaultKind(f.scenario)
		if err != nil {
			return sim.Scenario{}, fmt.Errorf("-scenario: %w (want %s, none or random)", err, kindList())
		}
		kind = k
	}
	start := now
	if f.start != "now" {
		t, err := time.Parse(time.RFC3339Nano, f.start)
		if err != nil {
			return sim.Scenario{}, fmt.Errorf("-start: %w", err)
		}
		start = t
	}
	if f.duration <= 0 || f.duration > sim.MaxDuration || f.step <= 0 || f.step > sim.MaxStep {
		return sim.Scenario{}, errors.New("-duration and -step must be positive (at most 24h and 1h)")
	}
	return sim.NewScenario(sim.Options{
		Topology: topo, Seed: f.seed, Start: start, Duration: f.duration, Rate: f.rate,
		Fault: kind, FaultAt: f.faultAt, FaultDuration: f.faultDuration, Target: f.target, Peer: f.peer,
		LowTraffic: f.lowTraffic || f.lowTrafficCaller != "", LowTrafficCaller: f.lowTrafficCaller,
		Realistic: f.realistic, Realism: sim.Realism{StatusCodeFraction: f.statusCodes},
	})
}

type truthFault struct {
	Kind        string    `json:"kind"`
	RootCause   string    `json:"root_cause_service"`
	Peer        string    `json:"peer,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Symptomatic []string  `json:"symptomatic_services"`
}

type truth struct {
	Scenario  string        `json:"scenario"`
	Seed      uint64        `json:"seed"`
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end"`
	Entry     string        `json:"entry_service"`
	Services  []string      `json:"services"`
	Edges     []string      `json:"edges"`
	Faults    []truthFault  `json:"faults"`
	Realistic *truthRealism `json:"realistic,omitempty"`
}

// truthRealism is the load pattern and the noise of a realistic run (not faults: the RCA should
// not blame them, but knowing them explains what it sees).
type truthRealism struct {
	BurstPeriod        string   `json:"burst_period"`
	BurstPhase         string   `json:"burst_phase"`
	BurstLength        string   `json:"burst_length"`
	BurstFactor        float64  `json:"burst_factor"`
	SpikeFactor        float64  `json:"spike_factor"`
	SpikyCalls         []string `json:"spiky_calls"`
	ErrorsPerMinute    float64  `json:"errors_per_minute"`
	WarnsPerMinute     float64  `json:"warns_per_minute"`
	StatusCodeFraction float64  `json:"status_code_fraction"`
}

func printTruth(w io.Writer, sc sim.Scenario) error {
	t := truth{Scenario: sc.Name, Seed: sc.Seed, Start: sc.Start, End: sc.End(), Entry: sc.Topology.Entry,
		Services: sc.Topology.Services(), Faults: []truthFault{}}
	for _, e := range sc.Topology.Edges {
		s := fmt.Sprintf("%s -> %s (%s)", e.From, e.To, e.Protocol)
		if e.Every > 0 {
			s += fmt.Sprintf(" every %s", e.Every)
		}
		t.Edges = append(t.Edges, s)
	}
	for _, f := range sc.Faults {
		t.Faults = append(t.Faults, truthFault{Kind: string(f.Kind), RootCause: f.RootCause(), Peer: f.Peer,
			Start: f.Start, End: f.End, Symptomatic: sc.Symptomatic(f)})
	}
	if sc.Realistic {
		r := sc.Realism
		tr := &truthRealism{
			BurstPeriod: r.BurstPeriod.String(), BurstPhase: r.BurstPhase.Round(time.Millisecond).String(),
			BurstLength: r.BurstLength.String(), BurstFactor: round2(r.BurstFactor), SpikeFactor: round2(r.SpikeFactor),
			SpikyCalls: []string{}, ErrorsPerMinute: r.ErrorsPerMinute, WarnsPerMinute: r.WarnsPerMinute,
			StatusCodeFraction: r.StatusCodeFraction,
		}
		for _, e := range r.Spiky {
			tr.SpikyCalls = append(tr.SpikyCalls, e.String())
		}
		t.Realistic = tr
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "ground truth: %s\n", b)
	return err
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// postRetry posts body, retrying for up to wait (while the collector starts).
func postRetry(ctx context.Context, client *http.Client, target string, body []byte, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		_, _, err := otlppost.Post(ctx, client, target, body)
		if err == nil || ctx.Err() != nil || !time.Now().Before(deadline) {
			return err
		}
		if err := sleepUntil(ctx, time.Now().Add(500*time.Millisecond)); err != nil {
			return err
		}
	}
}

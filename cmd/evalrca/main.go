// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Command evalrca measures root-cause accuracy over generated fault-injection scenarios: AC@1,
// AC@3, time to detect (event time from fault start to incident) and incidents on fault-free
// runs. Scenarios are deterministic for a seed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rcaeval"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

func main() {
	count := flag.Int("n", 36, "number of scenarios")
	seed := flag.Uint64("seed", 1, "seed of the scenario set")
	dur := flag.Duration("duration", time.Hour, "event time of each scenario (faults start at 30-50% of it)")
	verbose := flag.Bool("v", false, "print every scenario")
	only := flag.String("run", "", "only the scenarios whose name matches this regular expression")
	explain := flag.Bool("explain", false, "print every incident of each scenario with its candidates (implies -v)")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "scenarios run in parallel")
	lowTraffic := flag.Bool("low-traffic", false, "faults of a service called about once a minute (low_traffic_slow, low_traffic_errors; 10 minutes each)")
	flag.BoolVar(&withLLM, "llm", false, "turn the rca exporter's LLM narratives on, against LLM_ENDPOINT (LLM_PROVIDER, LLM_MODEL, LLM_API_KEY; make eval-llm), and report how often the narrative names the root cause")
	flag.IntVar(&chainOptions.GraphReplicas, "graph-replicas", 1, "logs2graph connectors sharing the traces by trace id (a scaled-out analysis tier), each with its own instance id")
	realistic := flag.Bool("realistic", false, "realistic scenarios (bursty load, background errors with stack traces, spans without kind, status or peer attributes; the realistic fault kinds, from 8 minutes on): see docs/simulator.md")
	flag.Parse()
	o := opts{count: *count, seed: *seed, dur: *dur, verbose: *verbose || *explain, explain: *explain, workers: *workers, lowTraffic: *lowTraffic, realistic: *realistic}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "evalrca: -run:", err)
			os.Exit(2)
		}
		o.only = re
	}
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "evalrca:", err)
		os.Exit(1)
	}
}

type opts struct {
	count      int
	seed       uint64
	dur        time.Duration
	verbose    bool
	explain    bool
	workers    int
	only       *regexp.Regexp
	lowTraffic bool
	realistic  bool
}

// runAll plays the scenarios on a few workers; the outcomes keep the scenarios' order.
func runAll(scs []sim.Scenario, workers int) ([]rcaeval.Outcome, error) {
	outs := make([]rcaeval.Outcome, len(scs))
	errs := make([]error, len(scs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				outs[i], errs[i] = rcaeval.RunWith(scs[i], chainOptions, settle)
				if errs[i] != nil {
					errs[i] = fmt.Errorf("%s: %w", scs[i].Name, errs[i])
				}
			}
		}()
	}
	for i := range scs {
		next <- i
	}
	close(next)
	wg.Wait()
	return outs, errors.Join(errs...)
}

func run(w io.Writer, o opts) error {
	count, seed, dur, verbose := o.count, o.seed, o.dur, o.verbose
	eo := sim.EvalOptions{Count: count, Seed: seed, Duration: dur, Realistic: o.realistic}
	if o.lowTraffic {
		eo.Kinds, eo.FaultDuration = sim.LowTrafficFaultKinds(), 10*time.Minute
	}
	scs, err := sim.GenerateScenarios(eo)
	if err != nil {
		return err
	}
	if o.only != nil {
		scs = slices.DeleteFunc(scs, func(sc sim.Scenario) bool { return !o.only.MatchString(sc.Name) })
	}
	if withLLM {
		if err := configureLLM(); err != nil {
			return err
		}
	}
	start := time.Now()
	outs, err := runAll(scs, o.workers)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if verbose {
		_, _ = fmt.Fprintln(tw, "scenario\tfault\troot cause\trank\tdetect\tincidents\tbefore fault\ttop 3")
	}
	for _, o := range outs {
		if verbose {
			top := o.Ranked
			if len(top) > 3 {
				top = top[:3]
			}
			det := "-"
			if o.Detected {
				det = o.DetectDelay.String()
			}
			_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%v\n", o.Name, o.FaultKind, o.RootCause, o.Rank(), det, o.Incidents, o.FalseAlarms, top)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if o.explain {
		for i := range outs {
			explainOutcome(w, scs[i], &outs[i])
		}
	}
	s := rcaeval.Summarize(outs)
	if withLLM {
		fmt.Fprintf(w, "LLM narratives: %d of %d faulty scenarios answered, root cause named %d (%.3f of faulty scenarios)\n",
			s.LLMAnswered, s.Faulty, s.LLMTop1, float64(s.LLMTop1)/float64(max(s.Faulty, 1)))
	}
	// The wall time goes to stderr: stdout is the same on every run.
	fmt.Fprintf(os.Stderr, "evalrca: %d scenarios in %.1fs\n", len(outs), time.Since(start).Seconds())
	if _, err := fmt.Fprintf(w, "\n%d scenarios (%d with a fault, %d fault-free), %s of event time each, seed %d\n%s\n\nper fault kind:\n",
		len(outs), s.Faulty, s.FaultFree, dur, seed, s.String()); err != nil {
		return err
	}
	kinds := make([]string, 0, len(s.PerKind))
	for k := range s.PerKind {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "fault\tn\tAC@1\tAC@3\tdetected")
	for _, k := range kinds {
		ks := s.PerKind[sim.FaultKind(k)]
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%d\n", k, ks.N, float64(ks.Top1)/float64(ks.N), float64(ks.Top3)/float64(ks.N), ks.Detected)
	}
	return tw.Flush()
}

// explainOutcome prints every incident of a scenario: when it started, its ranked candidates with
// their reasons and its explanation; the scored incident is marked.
func explainOutcome(w io.Writer, sc sim.Scenario, o *rcaeval.Outcome) {
	_, _ = fmt.Fprintf(w, "\n== %s", o.Name)
	if len(sc.Faults) > 0 {
		f := sc.Faults[0]
		_, _ = fmt.Fprintf(w, " (fault at %s", f.Start.Format("15:04:05"))
		if f.Peer != "" {
			_, _ = fmt.Fprintf(w, ", from %s", f.Peer)
		}
		_, _ = fmt.Fprint(w, ")")
	}
	_, _ = fmt.Fprintln(w)
	for _, inc := range o.All {
		mark := " "
		if inc.ID == o.Incident.ID {
			mark = "*"
		}
		end := "open"
		if inc.ResolvedAt != nil {
			end = inc.ResolvedAt.Format("15:04:05")
		}
		_, _ = fmt.Fprintf(w, "%s %s %s..%s v%d %s\n", mark, inc.ID, inc.StartedAt.Format("15:04:05"), end, inc.Version, inc.Severity)
		for i, c := range inc.Candidates {
			if i == 5 {
				break
			}
			_, _ = fmt.Fprintf(w, "    %.3f %-14s %s\n", c.Score, c.Service, strings.Join(c.Reasons, "; "))
		}
		_, _ = fmt.Fprintf(w, "    %s\n", inc.Explanation)
	}
}

// With -llm: the chain's exporter asks a real model for narratives, and each scenario waits for
// the answers before it is scored.
var (
	withLLM      bool
	chainOptions rcaeval.ChainOptions
	settle       time.Duration
)

func configureLLM() error {
	endpoint := os.Getenv("LLM_ENDPOINT")
	if endpoint == "" {
		return errors.New("-llm needs LLM_ENDPOINT (and LLM_MODEL, LLM_PROVIDER, LLM_API_KEY)")
	}
	provider, model := os.Getenv("LLM_PROVIDER"), os.Getenv("LLM_MODEL")
	if provider == "" {
		provider = "openai"
	}
	chainOptions.Exporter = func(cfg component.Config) {
		lc := cfg.(*rcaexporter.Config).LLM.GetOrInsertDefault()
		lc.Model.Provider, lc.Model.Model = provider, model
		lc.Model.ClientConfig.Endpoint = endpoint
		lc.Model.APIKey = configopaque.String(os.Getenv("LLM_API_KEY"))
		lc.Model.ClientConfig.Timeout = 2 * time.Minute
		lc.Model.MaxOutputTokens = 1024
		// A replay runs faster than the wall clock: ask again as soon as the ranking changes.
		lc.MinUpdateInterval = 0
	}
	settle = 30 * time.Second
	return nil
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Command evalrca measures root-cause accuracy over generated fault-injection scenarios: AC@1,
// AC@3, time to detect (event time from fault start to incident) and incidents on fault-free
// runs. Scenarios are deterministic for a seed.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/rcaeval"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sim"
)

func main() {
	count := flag.Int("n", 36, "number of scenarios")
	seed := flag.Uint64("seed", 1, "seed of the scenario set")
	dur := flag.Duration("duration", time.Hour, "event time of each scenario (faults start at 30-50% of it)")
	verbose := flag.Bool("v", false, "print every scenario")
	flag.Parse()
	if err := run(os.Stdout, *count, *seed, *dur, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "evalrca:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, count int, seed uint64, dur time.Duration, verbose bool) error {
	scs, err := sim.GenerateScenarios(sim.EvalOptions{Count: count, Seed: seed, Duration: dur})
	if err != nil {
		return err
	}
	start := time.Now()
	outs := make([]rcaeval.Outcome, 0, len(scs))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if verbose {
		_, _ = fmt.Fprintln(tw, "scenario\tfault\troot cause\trank\tdetect\tincidents\tbefore fault\ttop 3")
	}
	for _, sc := range scs {
		o, err := rcaeval.Run(sc)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		outs = append(outs, o)
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
	s := rcaeval.Summarize(outs)
	if _, err := fmt.Fprintf(w, "\n%d scenarios (%d with a fault, %d fault-free), %s of event time each, seed %d, %.1fs\n%s\n\nper fault kind:\n",
		len(outs), s.Faulty, s.FaultFree, dur, seed, time.Since(start).Seconds(), s.String()); err != nil {
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

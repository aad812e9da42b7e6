// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Command evalreal replays a labelled recording of a real system (the Nezha layout: logs, spans,
// per-pod metrics, labelled faults) through the collector's components with their default
// configurations (see rcaeval.Chain), in event time, and scores the incidents they forward
// against the labels: per fault detected or not, delay, rank of the true root cause; overall
// AC@1, AC@3, AC@5, incidents opened and incidents matching no fault.
//
//	go run ./cmd/evalreal -data ../shared/data/nezha-tt-0130
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/nezha"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rcaeval"
)

func main() {
	dir := flag.String("data", "", "directory of the data set (labels.csv, baseline/, fault/)")
	horizon := flag.Duration("horizon", 5*time.Minute, "how long after a fault starts an incident counts as its detection")
	step := flag.Duration("step", time.Second, "event time per replayed chunk")
	replicas := flag.Int("graph-replicas", 1, "logs2graph connectors sharing the traces by trace id (a scaled-out analysis tier), each with its own instance id")
	verbose := flag.Bool("v", false, "also print the incidents that match no fault, and every incident version emitted")
	alarmAfter := flag.Duration("alarm-after", 2*time.Minute, "alarm-given mode: the alert comes this long after the fault starts")
	alarmWindow := flag.Duration("alarm-window", 3*time.Minute, "alarm-given mode: the evidence of this long before the alert is ranked")
	metrics := flag.Bool("metrics", true, "also feed the per-pod metrics (as k8s.pod.* metrics) to the rca exporter")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "evalreal: -data is required")
		os.Exit(2)
	}
	if err := run(*dir, *horizon, *step, *alarmAfter, *alarmWindow, *verbose, *metrics, *replicas); err != nil {
		fmt.Fprintln(os.Stderr, "evalreal:", err)
		os.Exit(1)
	}
}

func run(dir string, horizon, step, alarmAfter, alarmWindow time.Duration, verbose, metrics bool, replicas int) error {
	start := time.Now()
	d, err := nezha.Load(dir, "baseline", "fault")
	if err != nil {
		return err
	}
	labels := make([]rcaeval.Label, len(d.Faults))
	for i, f := range d.Faults {
		labels[i] = rcaeval.Label{ID: f.ID, Time: f.Time, Service: f.Service, Kind: f.Type}
	}
	slices.SortStableFunc(labels, func(a, b rcaeval.Label) int { return a.Time.Compare(b.Time) })
	fmt.Fprintf(os.Stderr, "evalreal: %d log records, %d spans, %d metric points, %d faults, %s to %s (loaded in %.1fs)\n",
		d.Stats.Logs, d.Stats.Spans, d.Stats.MetricPoints, len(d.Faults), d.Start.Format(time.RFC3339), d.End.Format(time.RFC3339), time.Since(start).Seconds())

	chain, err := rcaeval.NewChain(rcaeval.ChainOptions{API: true, GraphReplicas: replicas})
	if err != nil {
		return err
	}
	// Alarm given: when event time reaches alarmAfter past a fault's start, ask the exporter's
	// RCA API about the alarmWindow before that moment, as an SRE paged by an alert would.
	alarms := rcaeval.AlarmReport{After: alarmAfter, Window: alarmWindow}
	next := 0
	err = d.Replay(step, func(ch nezha.Chunk) error {
		if metrics {
			if err := chain.PlayMetrics(ch.End, ch.Metrics); err != nil {
				return err
			}
		}
		if err := chain.Play(ch.End, ch.Logs, ch.Traces); err != nil {
			return err
		}
		for next < len(labels) && !ch.End.Before(labels[next].Time.Add(alarmAfter)) {
			at := labels[next].Time.Add(alarmAfter)
			ranked, err := chain.Investigate(at, "", alarmWindow)
			alarms.Add(labels[next], ranked, err)
			next++
		}
		return nil
	})
	ems, cerr := chain.Close(d.End.Add(step))
	if err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	rep := rcaeval.ScoreLabelled(ems, labels, horizon)
	signals := "logs, traces"
	if metrics {
		signals += ", metrics"
	}
	fmt.Printf("\n%s: %d faults, defaults, %s replayed in event time (%s steps)\n", dir, len(labels), signals, step)
	if err := rep.Write(os.Stdout, "online"); err != nil {
		return err
	}
	fmt.Println()
	if err := alarms.Write(os.Stdout); err != nil {
		return err
	}
	if verbose {
		for _, em := range ems {
			in := &em.Incident
			fmt.Printf("  emitted %s %s v%d %s started %s root %s\n", em.At.UTC().Format(time.TimeOnly), in.ID, in.Version,
				in.Status, in.StartedAt.UTC().Format(time.TimeOnly), in.RootCauseService)
			if os.Getenv("EVALREAL_REASONS") != "" {
				for _, c := range in.Candidates[:min(3, len(in.Candidates))] {
					fmt.Printf("      %.3f %s %v\n", c.Score, c.Service, c.Reasons)
				}
			}
		}
		for _, inc := range rep.UnmatchedIncidents {
			fmt.Printf("  unmatched %s %s %s\n", inc.StartedAt.UTC().Format(time.RFC3339), inc.ID, inc.Title)
		}
	}
	fmt.Fprintf(os.Stderr, "evalreal: done in %.1fs\n", time.Since(start).Seconds())
	return nil
}

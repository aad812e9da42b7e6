// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Command otlpload sends a bounded load of OTLP/HTTP protobuf logs (POST /v1/logs) to a collector
// on this machine, for throughput benchmarks. The records are realistic log lines with variable
// parts (ids, IPs, durations) from about twenty templates of eight services (service.name), with
// timestamps advancing by -step per record. The content depends only on -seed.
//
//	otlpload -records 2000000 -batch 1000 -concurrency 2 -seed 1
//
// It prints the records sent, the elapsed time and the rate, and exits non-zero when a request
// fails (non-2xx status, rejected records, transport error). Only loopback hosts are accepted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "otlpload:", err)
		os.Exit(1)
	}
}

// mainErr parses the flags, runs the load and prints the summary to stdout.
func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("otlpload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var start string
	fs.StringVar(&cfg.Endpoint, "endpoint", "http://127.0.0.1:4318", "OTLP/HTTP base URL (loopback only); /v1/logs is added when the path is empty")
	fs.IntVar(&cfg.Records, "records", 100_000, "total log records to send (0: until -max-duration)")
	fs.IntVar(&cfg.Batch, "batch", 1000, "records per request")
	fs.IntVar(&cfg.Concurrency, "concurrency", 2, "requests in flight")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the generated content")
	fs.StringVar(&start, "start", "2025-01-01T00:00:00Z", "timestamp of the first record (RFC 3339, or \"now\")")
	fs.DurationVar(&cfg.Step, "step", time.Millisecond, "timestamp increment between consecutive records")
	fs.DurationVar(&cfg.MaxDuration, "max-duration", 10*time.Minute, "stop after this long (0: no limit)")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "timeout of one request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if start == "now" {
		cfg.Start = time.Now()
	} else {
		t, err := time.Parse(time.RFC3339Nano, start)
		if err != nil {
			return fmt.Errorf("-start: %w", err)
		}
		cfg.Start = t
	}

	res, err := run(ctx, cfg)
	if err != nil && res.Elapsed == 0 {
		return err // nothing was sent (invalid flags or endpoint)
	}
	perr := printResult(stdout, res)
	if err != nil {
		return fmt.Errorf("stopped after %d records: %w", res.Records, err)
	}
	if perr != nil {
		return perr
	}
	if res.TimedOut {
		if _, err := fmt.Fprintln(stdout, "stopped:         time limit or interrupt before all records were sent"); err != nil {
			return err
		}
	}
	return nil
}

func printResult(w io.Writer, res result) error {
	rate := 0.0
	if s := res.Elapsed.Seconds(); s > 0 {
		rate = float64(res.Records) / s
	}
	_, err := fmt.Fprintf(w, "records sent:    %d\n"+
		"requests:        %d\n"+
		"payload bytes:   %d\n"+
		"elapsed:         %.3fs\n"+
		"records/s:       %.0f\n",
		res.Records, res.Requests, res.Bytes, res.Elapsed.Seconds(), rate)
	return err
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Command demotraces sends the bundled demo traces (OTLP/JSON lines, one export request per
// line, as written by testdata/demo/traces/gen_traces.py) to a collector's OTLP/HTTP receiver
// as protobuf, for the file demo (`make run-files`). It waits for the collector to come up (retrying
// for -wait), then sends every line in order. Only loopback endpoints are accepted.
//
//	demotraces -file testdata/demo/traces/traces.jsonl -endpoint http://127.0.0.1:4318
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demotraces:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demotraces", flag.ContinueOnError)
	file := fs.String("file", "testdata/demo/traces/traces.jsonl", "OTLP/JSON lines, one export request per line")
	endpoint := fs.String("endpoint", "http://127.0.0.1:4318", "OTLP/HTTP base URL (loopback only)")
	wait := fs.Duration("wait", time.Minute, "how long to wait for the collector")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := otlppost.SignalURL(*endpoint, "/v1/traces")
	if err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only: a close error cannot lose data

	client := &http.Client{Timeout: 10 * time.Second}
	var um ptrace.JSONUnmarshaler
	var m ptrace.ProtoMarshaler
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	deadline := time.Now().Add(*wait)
	requests, spans := 0, 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		td, err := um.UnmarshalTraces(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", requests+1, err)
		}
		body, err := m.MarshalTraces(td)
		if err != nil {
			return err
		}
		for {
			_, _, err = otlppost.Post(ctx, client, target, body)
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			select { // the collector is not up yet
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
		if err != nil {
			return err
		}
		requests++
		spans += td.SpanCount()
	}
	if err := sc.Err(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "demotraces: sent %d spans in %d requests to %s\n", spans, requests, target)
	return err
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/otelcol-aiops/otelcol-aiops/internal/loadgen"
	"github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"
)

// config is what one load run does.
type config struct {
	Endpoint    string        // base URL (path /v1/logs is added when absent) or full URL of the logs endpoint
	Records     int           // total records to send; 0 means until MaxDuration
	Batch       int           // records per request
	Concurrency int           // requests in flight
	Seed        uint64        // seed of the generated content
	Start       time.Time     // timestamp of the first record
	Step        time.Duration // timestamp increment between consecutive records
	MaxDuration time.Duration // stop after this long (0: no limit; then Records must be set)
	Timeout     time.Duration // per request
}

// result is what a run did.
type result struct {
	Records  int64
	Requests int64
	Bytes    int64
	Elapsed  time.Duration
	TimedOut bool // stopped by MaxDuration or by the caller's context before all records were sent
}

func (c *config) validate() error {
	var errs []error
	if c.Records < 0 {
		errs = append(errs, errors.New("records must not be negative"))
	}
	if c.Batch <= 0 {
		errs = append(errs, errors.New("batch must be positive"))
	}
	if c.Concurrency <= 0 {
		errs = append(errs, errors.New("concurrency must be positive"))
	}
	if c.MaxDuration < 0 || c.Timeout < 0 || c.Step < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.Records == 0 && c.MaxDuration == 0 {
		errs = append(errs, errors.New("set records or max-duration (or both): the run must be bounded"))
	}
	return errors.Join(errs...)
}

// run sends the load and returns when every record is sent, MaxDuration passes, ctx is done, or
// a request fails (non-2xx status, rejected records, transport error). Records count only when
// their request was accepted.
func run(ctx context.Context, cfg config) (result, error) {
	if err := cfg.validate(); err != nil {
		return result{}, err
	}
	target, err := otlppost.SignalURL(cfg.Endpoint, "/v1/logs")
	if err != nil {
		return result{}, err
	}
	gen, err := loadgen.New(cfg.Seed, cfg.Start, cfg.Step)
	if err != nil {
		return result{}, err
	}
	client := &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only: never through a proxy
			MaxIdleConnsPerHost: cfg.Concurrency,
			MaxConnsPerHost:     cfg.Concurrency,
			DisableCompression:  true,
		},
	}
	defer client.CloseIdleConnections()

	// stopCtx ends the run normally (time limit or caller); failCtx also ends it on a failure.
	stopCtx := ctx
	if cfg.MaxDuration > 0 {
		var cancel context.CancelFunc
		stopCtx, cancel = context.WithTimeout(ctx, cfg.MaxDuration)
		defer cancel()
	}
	failCtx, fail := context.WithCancelCause(stopCtx)
	defer fail(nil)

	numReq := -1 // unbounded
	if cfg.Records > 0 {
		numReq = (cfg.Records + cfg.Batch - 1) / cfg.Batch
	}
	var (
		next    atomic.Int64
		res     result
		records atomic.Int64
		reqs    atomic.Int64
		bytesN  atomic.Int64
		wg      sync.WaitGroup
	)
	begin := time.Now()
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Go(func() {
			for failCtx.Err() == nil {
				idx := int(next.Add(1) - 1)
				if numReq >= 0 && idx >= numReq {
					return
				}
				first := idx * cfg.Batch
				n := cfg.Batch
				if cfg.Records > 0 && first+n > cfg.Records {
					n = cfg.Records - first
				}
				body, err := plogotlp.NewExportRequestFromLogs(gen.Request(idx, first, n)).MarshalProto()
				if err != nil {
					fail(fmt.Errorf("marshal request %d: %w", idx, err))
					return
				}
				if err := post(failCtx, client, target, body); err != nil {
					if stopCtx.Err() != nil {
						return // in flight when the run was stopped: not a failure, not counted
					}
					fail(fmt.Errorf("request %d: %w", idx, err))
					return
				}
				records.Add(int64(n))
				reqs.Add(1)
				bytesN.Add(int64(len(body)))
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(begin)
	res.Records, res.Requests, res.Bytes = records.Load(), reqs.Load(), bytesN.Load()
	if cause := context.Cause(failCtx); cause != nil && stopCtx.Err() == nil {
		return res, cause
	}
	res.TimedOut = stopCtx.Err() != nil && (cfg.Records == 0 || res.Records < int64(cfg.Records))
	return res, nil
}

// post sends one export request and checks the response: 2xx, and no rejected records in a
// protobuf partial-success answer.
func post(ctx context.Context, client *http.Client, target string, body []byte) error {
	data, contentType, err := otlppost.Post(ctx, client, target, body)
	if err != nil {
		return err
	}
	if strings.HasPrefix(contentType, "application/x-protobuf") && len(data) > 0 {
		er := plogotlp.NewExportResponse()
		if err := er.UnmarshalProto(data); err != nil {
			return fmt.Errorf("decoding response: %w", err)
		}
		if ps := er.PartialSuccess(); ps.RejectedLogRecords() > 0 {
			return fmt.Errorf("%d log records rejected: %s", ps.RejectedLogRecords(), ps.ErrorMessage())
		}
	}
	return nil
}

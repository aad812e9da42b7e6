// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaeval // import "github.com/otelcol-aiops/otelcol-aiops/internal/rcaeval"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"
)

// Emission is one incident version as a sink received it, with the event time being played when
// it was delivered (how long after a fault an operator would have seen it).
type Emission struct {
	Incident incident.Incident
	At       time.Time
}

// Chain is the collector's pipelines in process, built from the components' factories with their
// default configurations: logs -> llm_anomaly -> logs2graph -> rca, traces -> logs2graph -> rca
// (the recommended layout: the graph links error records to their spans' edges). What the
// evaluation measures is therefore what users run, through the same pdata contract (annotation
// attributes, edge and progress records). Only the wall-clock timers are off (the processor's
// idle timeout, the connector's and the exporter's idle advance), since a replay drives event
// time itself; deliveries are synchronous (no sending queue), so every emission is tagged with
// the event time being played.
type Chain struct {
	proc   processor.Logs
	conns  []connector.Traces // one per replica
	lconns []connector.Logs   // the same replicas' logs inputs
	exp    exporter.Logs
	mexp   exporter.Metrics // the same exporter's metrics face
	srv    *httptest.Server

	api string // base URL of the exporter's RCA API ("" when off)

	mu    sync.Mutex
	now   time.Time
	got   []Emission
	bad   int
	close sync.Once
}

// ChainOptions adjusts the chain.
type ChainOptions struct {
	// Processor, Connector and Exporter, when set, change the default configurations.
	Processor func(component.Config)
	Connector func(component.Config)
	Exporter  func(component.Config)
	// API turns the exporter's HTTP API on (on a free loopback port) for Investigate.
	API bool
	// GraphReplicas runs that many logs2graph connectors (instance ids replica-1, replica-2, ...)
	// and spreads the traces over them by trace id, as a scaled-out analysis tier consuming a
	// topic partitioned by trace id would; 0 or 1: one connector.
	GraphReplicas int
}

// NewChain builds and starts the chain.
func NewChain(opts ChainOptions) (*Chain, error) {
	c := &Chain{}
	c.srv = httptest.NewServer(http.HandlerFunc(c.receive))
	ok := false
	defer func() {
		if !ok {
			c.srv.Close()
		}
	}()
	ctx := context.Background()
	host := componenttest.NewNopHost()

	ef := rcaexporter.NewFactory()
	ecfg := ef.CreateDefaultConfig()
	if err := setExporterDefaults(ecfg, c.srv.URL); err != nil {
		return nil, err
	}
	if opts.Exporter != nil {
		opts.Exporter(ecfg)
	}
	if opts.API {
		addr, err := freeLoopback()
		if err != nil {
			return nil, err
		}
		if err := patch(ecfg, map[string]any{"http": map[string]any{"endpoint": addr}}); err != nil {
			return nil, err
		}
		c.api = "http://" + addr
	}
	eset := exportertest.NewNopSettings(ef.Type())
	exp, err := ef.CreateLogs(ctx, eset, ecfg)
	if err != nil {
		return nil, err
	}
	mexp, err := ef.CreateMetrics(ctx, eset, ecfg)
	if err != nil {
		return nil, err
	}

	cf := logs2graph.NewFactory()
	ccfg := cf.CreateDefaultConfig()
	if err := setConnectorDefaults(ccfg); err != nil {
		return nil, err
	}
	if opts.Connector != nil {
		opts.Connector(ccfg)
	}
	var conns []connector.Traces
	var lconns []connector.Logs
	for i := range max(opts.GraphReplicas, 1) {
		rcfg := ccfg
		if opts.GraphReplicas > 1 {
			rcfg = cf.CreateDefaultConfig()
			if err := copyConfig(rcfg, ccfg); err != nil {
				return nil, err
			}
			if err := patch(rcfg, map[string]any{"instance_id": fmt.Sprintf("replica-%d", i+1)}); err != nil {
				return nil, err
			}
		}
		cset := connectortest.NewNopSettings(cf.Type())
		conn, err := cf.CreateTracesToLogs(ctx, cset, rcfg, exp)
		if err != nil {
			return nil, err
		}
		// The same connector ID in the logs pipeline: one graph, which links error records
		// to their spans' edges and passes every record on to the exporter.
		lconn, err := cf.CreateLogsToLogs(ctx, cset, rcfg, exp)
		if err != nil {
			return nil, err
		}
		conns = append(conns, conn)
		lconns = append(lconns, lconn)
	}

	pf := llmanomalyprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig()
	if err := setProcessorDefaults(pcfg); err != nil {
		return nil, err
	}
	if opts.Processor != nil {
		opts.Processor(pcfg)
	}
	next, err := byService(lconns)
	if err != nil {
		return nil, err
	}
	proc, err := pf.CreateLogs(ctx, processortest.NewNopSettings(pf.Type()), pcfg, next)
	if err != nil {
		return nil, err
	}
	// start in the collector's order: exporters, connectors, processors
	comps := []component.Component{exp, mexp}
	for i, conn := range conns {
		comps = append(comps, conn, lconns[i])
	}
	for _, comp := range append(comps, proc) {
		if err := comp.Start(ctx, host); err != nil {
			return nil, err
		}
	}
	c.proc, c.conns, c.lconns, c.exp, c.mexp = proc, conns, lconns, exp, mexp
	ok = true
	return c, nil
}

// setExporterDefaults points the webhook sink at the chain's capture server, delivers
// synchronously and turns the wall-clock idle advance off.
func setExporterDefaults(cfg component.Config, url string) error {
	return patch(cfg, map[string]any{
		"idle_advance":  "0s",
		"sending_queue": map[string]any{"enabled": false},
		"sinks":         map[string]any{"webhook": map[string]any{"endpoint": url}},
	})
}

func setConnectorDefaults(cfg component.Config) error {
	return patch(cfg, map[string]any{"idle_advance": "0s", "snapshot_interval": "0s"})
}

func setProcessorDefaults(cfg component.Config) error {
	return patch(cfg, map[string]any{"timeout": "24h"})
}

// Play feeds one chunk of telemetry of event time at: its logs to the logs pipeline, its traces
// to the traces pipeline (the data is consumed: do not reuse it).
func (c *Chain) Play(at time.Time, ld plog.Logs, td ptrace.Traces) error {
	c.mu.Lock()
	c.now = at
	c.mu.Unlock()
	ctx := context.Background()
	var errs []error
	if ld.LogRecordCount() > 0 {
		errs = append(errs, c.proc.ConsumeLogs(ctx, ld))
	}
	if td.SpanCount() > 0 {
		for i, part := range splitByTrace(td, len(c.conns)) {
			if part.SpanCount() > 0 {
				errs = append(errs, c.conns[i].ConsumeTraces(ctx, part))
			}
		}
	}
	return errors.Join(errs...)
}

// PlayMetrics feeds service and pod metrics of event time at to the exporter's metrics face, as
// a metrics pipeline ending in the same rca exporter would.
func (c *Chain) PlayMetrics(at time.Time, md pmetric.Metrics) error {
	if md.DataPointCount() == 0 {
		return nil
	}
	c.mu.Lock()
	c.now = at
	c.mu.Unlock()
	return c.mexp.ConsumeMetrics(context.Background(), md)
}

// Investigate asks the exporter's RCA API (POST /api/v1/rca) for the root causes of a moment,
// as an SRE given an alert would, and returns the ranked candidates.
func (c *Chain) Investigate(at time.Time, service string, window time.Duration) ([]string, error) {
	if c.api == "" {
		return nil, errors.New("the chain was built without its API")
	}
	body, err := json.Marshal(map[string]string{"time": at.UTC().Format(time.RFC3339Nano), "service": service, "window": window.String()})
	if err != nil {
		return nil, err
	}
	resp, err := http.Post(c.api+"/api/v1/rca", "application/json", bytes.NewReader(body)) //nolint:noctx // loopback, evaluation only
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /api/v1/rca: %s: %s", resp.Status, data)
	}
	var out incident.Incident
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	ranked := make([]string, len(out.Candidates))
	for i, cand := range out.Candidates {
		ranked[i] = cand.Service
	}
	return ranked, nil
}

// freeLoopback returns a loopback address with a port free right now.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// Settle waits until no incident has been delivered for quiet (wall clock), at most max.
func (c *Chain) Settle(quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	c.mu.Lock()
	n := len(c.got)
	c.mu.Unlock()
	last := time.Now()
	for time.Now().Before(deadline) && time.Since(last) < quiet {
		time.Sleep(quiet / 10)
		c.mu.Lock()
		if len(c.got) != n {
			n, last = len(c.got), time.Now()
		}
		c.mu.Unlock()
	}
}

// splitByTrace spreads the spans of td over n parts by a hash of their trace id (resource and
// scope copied into each part), as Kafka partitions traces by trace id.
func splitByTrace(td ptrace.Traces, n int) []ptrace.Traces {
	if n <= 1 {
		return []ptrace.Traces{td}
	}
	parts := make([]ptrace.Traces, n)
	for i := range parts {
		parts[i] = ptrace.NewTraces()
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		dst := make([]ptrace.ScopeSpansSlice, n) // per part, once the resource is copied there
		hasRes := make([]bool, n)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			scopes := make([]ptrace.SpanSlice, n)
			hasScope := make([]bool, n)
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				h := fnv.New32a()
				id := sp.TraceID()
				_, _ = h.Write(id[:])
				p := int(h.Sum32() % uint32(n))
				if !hasScope[p] {
					if !hasRes[p] {
						nrs := parts[p].ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(nrs.Resource())
						nrs.SetSchemaUrl(rs.SchemaUrl())
						dst[p], hasRes[p] = nrs.ScopeSpans(), true
					}
					nss := dst[p].AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					nss.SetSchemaUrl(ss.SchemaUrl())
					scopes[p], hasScope[p] = nss.Spans(), true
				}
				sp.CopyTo(scopes[p].AppendEmpty())
			}
		}
	}
	return parts
}

// byService is the processor's next consumer: with one replica its logs input; with several, the
// records of each service go to one replica (a topic partitioned by resource, as in the
// Kafka layout of deploy/README.md).
func byService(next []connector.Logs) (consumer.Logs, error) {
	if len(next) == 1 {
		return next[0], nil
	}
	return consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		parts := make([]plog.Logs, len(next))
		for i := range parts {
			parts[i] = plog.NewLogs()
		}
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			rl := rls.At(i)
			h := fnv.New32a()
			if v, ok := rl.Resource().Attributes().Get("service.name"); ok {
				_, _ = h.Write([]byte(v.AsString()))
			}
			rl.CopyTo(parts[h.Sum32()%uint32(len(next))].ResourceLogs().AppendEmpty())
		}
		var errs []error
		for i, part := range parts {
			if part.LogRecordCount() > 0 {
				errs = append(errs, next[i].ConsumeLogs(ctx, part))
			}
		}
		return errors.Join(errs...)
	})
}

// Close shuts the chain down in the collector's order (processors, connectors, exporters), which
// flushes what is held, and returns every emission.
func (c *Chain) Close(at time.Time) ([]Emission, error) {
	var errs []error
	c.close.Do(func() {
		c.mu.Lock()
		c.now = at
		c.mu.Unlock()
		ctx := context.Background()
		comps := []component.Component{c.proc}
		for i, conn := range c.conns {
			comps = append(comps, conn, c.lconns[i])
		}
		for _, comp := range append(comps, c.exp, c.mexp) {
			errs = append(errs, comp.Shutdown(ctx))
		}
		c.srv.Close()
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad > 0 {
		errs = append(errs, errors.New("the webhook received undecodable incidents"))
	}
	return append([]Emission(nil), c.got...), errors.Join(errs...)
}

func (c *Chain) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var inc incident.Incident
	if err == nil {
		err = json.Unmarshal(body, &inc)
	}
	c.mu.Lock()
	if err != nil {
		c.bad++
	} else {
		c.got = append(c.got, Emission{Incident: inc, At: c.now})
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// patch applies a YAML-like map to a component config, as the collector's config loader does.
// copyConfig copies the connector configuration src into dst.
func copyConfig(dst, src component.Config) error {
	d, ok1 := dst.(*logs2graph.Config)
	s, ok2 := src.(*logs2graph.Config)
	if !ok1 || !ok2 {
		return fmt.Errorf("rcaeval: unexpected connector config %T", src)
	}
	*d = *s
	return nil
}

func patch(cfg component.Config, m map[string]any) error {
	return confmap.NewFromStringMap(m).Unmarshal(cfg)
}

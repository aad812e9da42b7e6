// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package graphpdata reduces pdata traces and logs to the input types of internal/graph. It is
// shared by the logs2graph connector and the RCA evaluation, so both see the same graph.
package graphpdata // import "github.com/otelcol-aiops/otelcol-aiops/internal/graphpdata"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

// This file reduces pdata to the graph store's input types. It allocates nothing per span or
// record: strings are the pdata strings themselves (the store copies what it keeps), and
// attributes are read in one pass.

const AttrServiceName = "service.name"

// AppendSpans appends the spans of td to buf. Timestamps later than limit (unix nanoseconds,
// 0: no limit) are moved back to limit, keeping the span's duration.
func AppendSpans(buf []graph.Span, td ptrace.Traces, limit int64) []graph.Span {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		svc := serviceName(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				buf = append(buf, graph.Span{
					TraceID:      graph.TraceID(sp.TraceID()),
					SpanID:       graph.SpanID(sp.SpanID()),
					ParentSpanID: graph.SpanID(sp.ParentSpanID()),
					Service:      svc,
					Kind:         graph.SpanKind(sp.Kind()),
					Start:        toNanos(sp.StartTimestamp()),
					End:          toNanos(sp.EndTimestamp()),
					Error:        sp.Status().Code() == ptrace.StatusCodeError,
				})
				gs := &buf[len(buf)-1]
				switch gs.Kind {
				case graph.KindClient, graph.KindProducer, graph.KindServer:
					gs.Peer = PeerOf(sp.Attributes())
				}
				if limit > 0 && gs.End > limit {
					d := gs.End - limit
					gs.End = limit
					gs.Start -= d
				}
			}
		}
	}
	return buf
}

// AppendLogRefs appends one LogRef per record of ld to buf. The record's time is its
// timestamp, or its observed timestamp when the timestamp is 0; times later than limit (0: no
// limit) are clamped to limit.
func AppendLogRefs(buf []graph.LogRef, ld plog.Logs, limit int64) []graph.LogRef {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		svc := serviceName(rl.Resource())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				t := lr.Timestamp()
				if t == 0 {
					t = lr.ObservedTimestamp()
				}
				ref := graph.LogRef{
					Service: svc,
					TraceID: graph.TraceID(lr.TraceID()),
					SpanID:  graph.SpanID(lr.SpanID()),
					Time:    toNanos(t),
					Error:   isErrorSeverity(lr),
					Peer:    PeerOf(lr.Attributes()),
				}
				if limit > 0 && ref.Time > limit {
					ref.Time = limit
				}
				buf = append(buf, ref)
			}
		}
	}
	return buf
}

// toNanos converts a pdata timestamp; values beyond int64 become -1, which the store rejects
// as a missing time.
func toNanos(t pcommon.Timestamp) int64 {
	if uint64(t) > 1<<63-1 {
		return -1
	}
	return int64(t)
}

func serviceName(res pcommon.Resource) string {
	v, ok := res.Attributes().Get(AttrServiceName)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	return v.Str()
}

func isErrorSeverity(lr plog.LogRecord) bool {
	if n := lr.SeverityNumber(); n != plog.SeverityNumberUnspecified {
		return n >= plog.SeverityNumberError
	}
	switch t := lr.SeverityText(); {
	case t == "":
		return false
	case strings.EqualFold(t, "error"), strings.EqualFold(t, "err"), strings.EqualFold(t, "fatal"),
		strings.EqualFold(t, "critical"), strings.EqualFold(t, "crit"), strings.EqualFold(t, "alert"),
		strings.EqualFold(t, "emerg"), strings.EqualFold(t, "emergency"), strings.EqualFold(t, "panic"):
		return true
	}
	return false
}

// PeerOf reduces the peer attributes of a span or record (current and older semantic
// conventions) to a graph.Peer, in one pass over the attributes:
//   - Name: the first of peer.service, server.address (net.peer.name), db.namespace (db.name),
//     messaging.destination.name, the host of url.full (http.url), rpc.service.
//   - Kind and System: database if db.system.name or db.system is set, messaging if
//     messaging.system is set, rpc if rpc.system is set, http for any http.* or url.* key.
func PeerOf(attrs pcommon.Map) graph.Peer {
	if attrs.Len() == 0 {
		return graph.Peer{}
	}
	var (
		peerService, serverAddr, netPeer, dbNS, dbName, msgDest, urlFull, httpURL, rpcService string
		dbSystem, msgSystem, rpcSystem                                                        string
		httpHint                                                                              bool
	)
	for k, v := range attrs.All() {
		switch k {
		case "peer.service":
			peerService = str(v)
		case "server.address":
			serverAddr = str(v)
		case "net.peer.name":
			netPeer = str(v)
		case "db.namespace":
			dbNS = str(v)
		case "db.name":
			dbName = str(v)
		case "db.system.name":
			dbSystem = str(v)
		case "db.system":
			if dbSystem == "" {
				dbSystem = str(v)
			}
		case "messaging.system":
			msgSystem = str(v)
		case "messaging.destination.name":
			msgDest = str(v)
		case "rpc.system":
			rpcSystem = str(v)
		case "rpc.service":
			rpcService = str(v)
		case "url.full":
			urlFull = str(v)
			httpHint = true
		case "http.url":
			httpURL = str(v)
			httpHint = true
		default:
			if !httpHint && (strings.HasPrefix(k, "http.") || strings.HasPrefix(k, "url.")) {
				httpHint = true
			}
		}
	}
	var p graph.Peer
	switch {
	case peerService != "":
		p.Name = peerService
	case serverAddr != "":
		p.Name = serverAddr
	case netPeer != "":
		p.Name = netPeer
	case dbNS != "":
		p.Name = dbNS
	case dbName != "":
		p.Name = dbName
	case msgDest != "":
		p.Name = msgDest
	case urlFull != "":
		p.Name = URLHost(urlFull)
	case httpURL != "":
		p.Name = URLHost(httpURL)
	}
	if p.Name == "" && rpcService != "" {
		p.Name = rpcService
	}
	switch {
	case dbSystem != "":
		p.Kind, p.System = graph.PeerDatabase, dbSystem
	case msgSystem != "":
		p.Kind, p.System = graph.PeerMessaging, msgSystem
	case rpcSystem != "":
		p.Kind, p.System = graph.PeerRPC, rpcSystem
	case httpHint:
		p.Kind = graph.PeerHTTP
	}
	return p
}

func str(v pcommon.Value) string {
	if v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	return v.Str()
}

// URLHost returns the host of an absolute URL without allocating: no scheme, user info, port,
// path, query or fragment. It returns "" when the URL has no "scheme://" prefix.
func URLHost(u string) string {
	i := strings.Index(u, "://")
	if i <= 0 {
		return ""
	}
	h := u[i+3:]
	if j := strings.IndexAny(h, "/?#"); j >= 0 {
		h = h[:j]
	}
	if j := strings.LastIndexByte(h, '@'); j >= 0 {
		h = h[j+1:]
	}
	if strings.HasPrefix(h, "[") { // IPv6 literal
		if j := strings.IndexByte(h, ']'); j > 0 {
			return h[1:j]
		}
		return ""
	}
	if j := strings.LastIndexByte(h, ':'); j >= 0 {
		h = h[:j]
	}
	return h
}

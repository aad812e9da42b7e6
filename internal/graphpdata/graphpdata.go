// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package graphpdata reduces pdata traces and logs to the input types of internal/graph. It is
// shared by the logs2graph connector and the RCA evaluation, so both see the same graph.
package graphpdata // import "github.com/otelcol-aiops/otelcol-aiops/internal/graphpdata"

import (
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
)

// This file reduces pdata to the graph store's input types. It allocates nothing per span or
// record (except to copy the host out of a URL longer than maxSharedURL): strings are the pdata
// strings themselves (the store copies, or truncates into new strings, what it keeps), and
// attributes are read in one pass. Names are not bounded here: the store bounds every name it
// keeps to graph.MaxNameBytes and counts the truncations.

const AttrServiceName = "service.name"

// AppendSpans appends the spans of td to buf. Timestamps later than limit (unix nanoseconds,
// 0: no limit) are moved back to limit, keeping the span's duration; the connector passes 0 and
// re-stamps skewed spans with graph.Store.StampSpans instead.
//
// Span.Error is set when the span failed: status ERROR, an HTTP status code >= 500
// (http.response.status_code, or the legacy http.status_code), or a gRPC status code that is a
// server failure (rpc.grpc.status_code UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
// UNAVAILABLE, DATA_LOSS). A CLIENT span whose ERROR status comes with an HTTP 4xx or another gRPC
// code (which semantic conventions tell client instrumentations to mark as errors) is not failed:
// those are the caller's errors, not failures of the callee. Span.Peer is set on CLIENT,
// PRODUCER and SERVER spans, and on UNSPECIFIED and INTERNAL spans that carry database
// (db.system, db.system.name, db.name, db.namespace), peer.service, or messaging.system with
// messaging.destination.name attributes.
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
				})
				gs := &buf[len(buf)-1]
				var a attrInfo
				a.read(sp.Attributes())
				gs.Error = a.failed(gs.Kind, sp.Status().Code() == ptrace.StatusCodeError)
				switch gs.Kind {
				case graph.KindClient, graph.KindProducer, graph.KindServer:
					gs.Peer = a.peer()
				case graph.KindConsumer:
				default: // UNSPECIFIED, INTERNAL, or unknown kinds (read as UNSPECIFIED by the store)
					if a.kindlessClient() {
						gs.Peer = a.peer()
					}
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
					Service:  svc,
					TraceID:  graph.TraceID(lr.TraceID()),
					SpanID:   graph.SpanID(lr.SpanID()),
					Time:     toNanos(t),
					Observed: toNanos(lr.ObservedTimestamp()),
					Error:    isErrorSeverity(lr),
					Peer:     PeerOf(lr.Attributes()),
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
	return contract.IsError(int32(lr.SeverityNumber()), lr.SeverityText())
}

// PeerOf reduces the peer attributes of a span or record (current and older semantic
// conventions) to a graph.Peer, in one pass over the attributes:
//   - Name: the first of peer.service, server.address (net.peer.name), db.namespace (db.name),
//     messaging.destination.name, the host of url.full (http.url), rpc.service.
//   - Kind and System: database if db.system.name or db.system is set, messaging if
//     messaging.system is set, rpc if rpc.system is set, database if db.namespace or db.name is
//     set, http for any http.* or url.* key.
func PeerOf(attrs pcommon.Map) graph.Peer {
	var a attrInfo
	a.read(attrs)
	return a.peer()
}

// attrInfo is what the graph reads from a span's or record's attributes.
type attrInfo struct {
	peerService, serverAddr, netPeer, dbNS, dbName, msgDest, urlFull, httpURL, rpcService string
	dbSystem, msgSystem, rpcSystem                                                        string
	httpHint                                                                              bool
	httpStatus, grpcStatus                                                                int64 // -1: absent
}

// read fills a in one pass over attrs.
func (a *attrInfo) read(attrs pcommon.Map) {
	a.httpStatus, a.grpcStatus = -1, -1
	if attrs.Len() == 0 {
		return
	}
	for k, v := range attrs.All() {
		switch k {
		case "peer.service":
			a.peerService = str(v)
		case "server.address":
			a.serverAddr = str(v)
		case "net.peer.name":
			a.netPeer = str(v)
		case "db.namespace":
			a.dbNS = str(v)
		case "db.name":
			a.dbName = str(v)
		case "db.system.name":
			a.dbSystem = str(v)
		case "db.system":
			if a.dbSystem == "" {
				a.dbSystem = str(v)
			}
		case "messaging.system":
			a.msgSystem = str(v)
		case "messaging.destination.name":
			a.msgDest = str(v)
		case "rpc.system":
			a.rpcSystem = str(v)
		case "rpc.service":
			a.rpcService = str(v)
		case "rpc.grpc.status_code":
			a.grpcStatus = code(v)
		case "url.full":
			a.urlFull = str(v)
			a.httpHint = true
		case "http.url":
			a.httpURL = str(v)
			a.httpHint = true
		case "http.response.status_code":
			a.httpStatus = code(v)
			a.httpHint = true
		case "http.status_code":
			if a.httpStatus < 0 {
				a.httpStatus = code(v)
			}
			a.httpHint = true
		default:
			if !a.httpHint && (strings.HasPrefix(k, "http.") || strings.HasPrefix(k, "url.")) {
				a.httpHint = true
			}
		}
	}
}

func (a *attrInfo) peer() graph.Peer {
	var p graph.Peer
	switch {
	case a.peerService != "":
		p.Name = a.peerService
	case a.serverAddr != "":
		p.Name = a.serverAddr
	case a.netPeer != "":
		p.Name = a.netPeer
	case a.dbNS != "":
		p.Name = a.dbNS
	case a.dbName != "":
		p.Name = a.dbName
	case a.msgDest != "":
		p.Name = a.msgDest
	case a.urlFull != "":
		p.Name = hostOf(a.urlFull)
	case a.httpURL != "":
		p.Name = hostOf(a.httpURL)
	}
	if p.Name == "" && a.rpcService != "" {
		p.Name = a.rpcService
	}
	switch {
	case a.dbSystem != "":
		p.Kind, p.System = graph.PeerDatabase, a.dbSystem
	case a.msgSystem != "":
		p.Kind, p.System = graph.PeerMessaging, a.msgSystem
	case a.rpcSystem != "":
		p.Kind, p.System = graph.PeerRPC, a.rpcSystem
	case a.dbNS != "" || a.dbName != "":
		p.Kind = graph.PeerDatabase
	case a.httpHint:
		p.Kind = graph.PeerHTTP
	}
	return p
}

// maxSharedURL is the longest URL whose host is kept as a substring. The store keeps the peer
// names of pending spans for PendingTTL, and a substring keeps its whole URL alive: the host of
// a longer URL is copied (the store truncates names longer than graph.MaxNameBytes itself).
const maxSharedURL = 2 * graph.MaxNameBytes

// hostOf is URLHost, copying the host out of a long URL.
func hostOf(u string) string {
	h := URLHost(u)
	if len(u) > maxSharedURL && len(h) <= graph.MaxNameBytes {
		h = strings.Clone(h)
	}
	return h
}

// kindlessClient reports whether an UNSPECIFIED or INTERNAL span is a call to a peer: it carries
// database attributes, peer.service, or a messaging system with a destination.
func (a *attrInfo) kindlessClient() bool {
	return a.dbSystem != "" || a.dbNS != "" || a.dbName != "" || a.peerService != "" ||
		(a.msgSystem != "" && a.msgDest != "")
}

// failed applies the error rules of AppendSpans.
func (a *attrInfo) failed(kind graph.SpanKind, statusError bool) bool {
	if a.httpStatus >= 500 || grpcServerFailure(a.grpcStatus) {
		return true
	}
	if !statusError {
		return false
	}
	if kind == graph.KindClient && ((a.httpStatus >= 400 && a.httpStatus < 500) || a.grpcStatus >= 0) {
		return false // a caller-side error (HTTP 4xx, gRPC NOT_FOUND ...): not the callee's failure
	}
	return true
}

// grpcServerFailure reports whether a gRPC status code is a failure of the server: UNKNOWN (2),
// DEADLINE_EXCEEDED (4), UNIMPLEMENTED (12), INTERNAL (13), UNAVAILABLE (14), DATA_LOSS (15).
func grpcServerFailure(c int64) bool {
	switch c {
	case 2, 4, 12, 13, 14, 15:
		return true
	}
	return false
}

// code reads a status code attribute (int, or a number as a string or double); -1 when it is
// not one.
func code(v pcommon.Value) int64 {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if c := v.Int(); c >= 0 {
			return c
		}
	case pcommon.ValueTypeStr:
		if c, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64); err == nil && c >= 0 {
			return c
		}
	case pcommon.ValueTypeDouble:
		if d := v.Double(); d >= 0 && d < 1e9 {
			return int64(d)
		}
	}
	return -1
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

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	sevInfo  = plog.SeverityNumberInfo
	sevWarn  = plog.SeverityNumberWarn
	sevError = plog.SeverityNumberError
	sevFatal = plog.SeverityNumberFatal
)

// Fault timing.
const (
	dbRamp          = 3 * time.Second  // database faults reach full strength after this
	memCycle        = 35 * time.Second // memory pressure: one grow / OOM / restart cycle
	memCrashAt      = 22 * time.Second // OOM kill within a cycle
	memDown         = 6 * time.Second  // restart time
	poolSize        = 50
	defaultSvcTO    = 2 * time.Second
	defaultDBTO     = time.Second
	poolWaitTimeout = 800 * time.Millisecond
)

// result of serving or making a call.
type result struct {
	end    time.Time
	failed bool
	reason string // short error text for the caller
	code   int    // HTTP-like status of a failed call (500, 503, 504)
}

// request simulates one user request arriving at the entry at t.
func (s *Simulator) request(t time.Time) {
	s.stats.Requests++
	entry := s.byName[s.sc.Topology.Entry]
	tid := s.traceID()
	if s.downAt(entry.node.Name, t) {
		return // the load balancer has nothing to send to
	}
	s.serve(entry, t, tid, [8]byte{}, ptrace.SpanKindServer, ProtoHTTP, "", 0, 0)
}

// runJob simulates one run at t of a scheduled call (Edge.Every): the caller makes the call in a
// trace of its own (the CLIENT span is the root) and logs the job's outcome.
func (s *Simulator) runJob(j *job, t time.Time) {
	ns := j.from
	if s.downAt(ns.node.Name, t) || s.rng.Float64() >= j.edge.Probability {
		return
	}
	tid := s.traceID()
	var zs [8]byte
	cursor := t
	for range max(j.edge.Count, 1) {
		r := s.call(ns, j.edge, cursor, tid, zs, 0)
		cursor = r.end
		if r.failed {
			return // call logged the failure
		}
	}
	name := "sync-" + j.edge.To
	if d := cursor.Sub(t); d > time.Second {
		s.log(ns, cursor, sevWarn, tid, zs, "scheduled job %s took %dms, longer than its 1000ms budget", name, msDur(d))
	} else {
		s.log(ns, cursor, sevInfo, tid, zs, "scheduled job %s completed in %dms", name, msDur(d))
	}
}

// serve simulates ns handling one request starting at t, as a SERVER (or CONSUMER) span. The
// request first waits for wait in the service (queueing during a burst of the realistic mode).
func (s *Simulator) serve(ns *nodeState, t time.Time, tid [16]byte, parent [8]byte, kind ptrace.SpanKind, proto Protocol, queue string, depth int, wait time.Duration) result {
	name := ns.node.Name
	sid := s.spanID()
	self := s.lat(ns.node.Latency)
	if p := s.memPressure(name, t); p > 0 {
		self = time.Duration(float64(self) * (1 + 4*p*p))
	}
	if f := s.cpuFactor(name, t); f != 1 {
		self = time.Duration(float64(self) * f)
	}
	cursor := t.Add(wait + self/3)
	var res result
	if s.active(FaultDependencyTimeout, name, t) && s.rng.Float64() < 0.85 {
		cursor = cursor.Add(time.Duration(3000+s.rng.IntN(5000)) * time.Millisecond)
	}
	if s.active(FaultLowTrafficSlow, name, t) {
		cursor = cursor.Add(time.Duration(9500+s.rng.IntN(1000)) * time.Millisecond)
	}
	if s.active(FaultLowTrafficErrors, name, t) {
		res = result{failed: true, code: 500, reason: "rates unavailable"}
		s.log(ns, cursor, sevError, tid, sid, "failed to load rates: upstream feed returned 503 Service Unavailable request_id=%s", reqID(tid))
	}
	if !res.failed && s.active(FaultBadDeploy, name, t) && s.rng.Float64() < 0.5 {
		res = result{failed: true, code: 500, reason: "internal error"}
		s.log(ns, cursor, sevError, tid, sid,
			"handler panic: runtime error: invalid memory address or nil pointer dereference in %sHandler.Process (build %s) request_id=%s",
			strings.ToUpper(name[:1])+name[1:], s.versionAt(ns, t), reqID(tid))
	}
	if p := s.memPressure(name, t); !res.failed && p > 0 && s.rng.Float64() < 0.15*p*p {
		res = result{failed: true, code: 500, reason: "out of memory"}
		s.log(ns, cursor, sevError, tid, sid, "request_id=%s failed: cannot allocate %dKB response buffer (heap %dMB of limit 1024MB)",
			reqID(tid), 64<<s.rng.IntN(5), int(600+420*p))
	}
	if !res.failed && depth < maxDepth {
		for _, e := range ns.callees {
			if s.rng.Float64() >= e.Probability {
				continue
			}
			for range max(e.Count, 1) {
				r := s.call(ns, e, cursor, tid, sid, depth)
				cursor = r.end
				if r.failed {
					res = result{failed: true, code: 500, reason: fmt.Sprintf("%s: %s", e.To, r.reason)}
					if r.code == 504 {
						res.code = 504
					}
					break
				}
			}
			if res.failed {
				break
			}
		}
	}
	end := cursor.Add(self - self/3)
	dur := end.Sub(t)
	rid := reqID(tid)
	var attrs []kv
	if s.real != nil {
		attrs = s.statusAttrs(proto, res)
	} else {
		attrs = s.serverAttrs(ns, kind, proto, queue, res)
	}
	span := &event{
		at: end, node: ns.idx, isSpan: true, tid: tid, sid: sid, parent: parent, kind: kind,
		start: t, attrs: attrs, name: s.serverSpanName(ns, kind, proto, queue),
	}
	if res.failed {
		span.errMsg = res.reason
	}
	s.push(span)
	switch {
	case res.failed:
		s.log(ns, end, sevError, tid, sid, "request failed request_id=%s status=%d duration=%dms error=%q", rid, res.code, msDur(dur), res.reason)
	case kind == ptrace.SpanKindConsumer:
		s.log(ns, end, sevInfo, tid, sid, "processed message from %s partition=%d offset=%d in %dms", queue, s.rng.IntN(12), 100000+s.rng.IntN(900000), msDur(dur))
	case proto == ProtoRPC:
		s.log(ns, end, sevInfo, tid, sid, "rpc %s/%s completed code=OK duration=%dms request_id=%s", ns.rpcSvc, ns.rpcMeth, msDur(dur), rid)
	default:
		s.log(ns, end, sevInfo, tid, sid, "%s %s 200 %dms request_id=%s", ns.httpMeth, ns.route, msDur(dur), rid)
	}
	if !res.failed && dur > 20*ns.node.Latency+300*time.Millisecond && s.slowLogAllowed(ns, end) {
		s.log(ns, end, sevWarn, tid, sid, "slow request request_id=%s took %dms (threshold %dms)", rid, msDur(dur), msDur(20*ns.node.Latency+300*time.Millisecond))
	}
	if s.rng.Float64() < 0.0008 { // benign, unrelated to any fault
		s.log(ns, end, sevError, tid, sid, "client disconnected before the response was written request_id=%s", rid)
	}
	res.end = end
	return res
}

// call simulates ns calling e.To starting at t (the client half, and the server half for an
// instrumented callee).
func (s *Simulator) call(ns *nodeState, e Edge, t time.Time, tid [16]byte, parent [8]byte, depth int) result {
	callee := s.byName[e.To]
	sid := s.spanID()
	eg := s.egressDelay(ns.node.Name, t)
	switch callee.node.Kind {
	case KindQueue:
		end := t.Add(eg + time.Duration(500+s.rng.IntN(3000))*time.Microsecond)
		var attrs []kv
		if s.real == nil {
			attrs = []kv{
				str("messaging.system", callee.node.System), str("messaging.destination.name", callee.node.Name),
				str("messaging.operation.type", "send"), str("messaging.operation.name", "send"),
			}
		}
		s.push(&event{
			at: end, node: ns.idx, isSpan: true, tid: tid, sid: sid, parent: parent,
			kind: ptrace.SpanKindProducer, start: t, name: "send " + callee.node.Name, attrs: attrs,
		})
		for _, ce := range callee.callees {
			consumer := s.byName[ce.To]
			at := end.Add(time.Duration(5+s.rng.IntN(150)) * time.Millisecond)
			if !s.downAt(consumer.node.Name, at) {
				s.serve(consumer, at, tid, sid, ptrace.SpanKindConsumer, ProtoMessaging, callee.node.Name, depth+1, 0)
			}
		}
		return result{end: end}
	case KindDatabase:
		return s.query(ns, callee, e, t, tid, parent, sid, eg+s.spikeWait(e, t))
	}
	return s.callService(ns, callee, e, t, tid, parent, sid, depth, eg, 1)
}

// callService is one attempt (1, or 2 for the retry after a lost response) of ns calling the
// service callee at t, with the span id sid and an egress delay eg.
func (s *Simulator) callService(ns, callee *nodeState, e Edge, t time.Time, tid [16]byte, parent, sid [8]byte, depth int, eg time.Duration, attempt int) result {
	caller := ns.node.Name
	rid := reqID(tid)
	timeout := e.Timeout
	if timeout == 0 {
		timeout = defaultSvcTO
	}
	var attrs []kv
	if s.real == nil {
		attrs = s.clientAttrs(callee, e.Protocol)
	}
	span := &event{
		node: ns.idx, isSpan: true, tid: tid, sid: sid, parent: parent, kind: ptrace.SpanKindClient,
		start: t, attrs: attrs, name: s.clientSpanName(callee, e.Protocol),
	}
	var res result
	lost := false
	if s.partitioned(caller, callee.node.Name, t) || s.downAt(callee.node.Name, t) {
		res = result{end: t.Add(eg + time.Duration(300+s.rng.IntN(2500))*time.Microsecond), failed: true, code: 503, reason: "connection refused"}
		s.log(ns, res.end, sevError, tid, sid, "dial tcp %s:%d: connect: connection refused (calling %s) request_id=%s", callee.addr, port(e.Protocol), callee.node.Name, rid)
	} else {
		sr := s.serve(callee, t.Add(s.netDelay()+eg), tid, sid, ptrace.SpanKindServer, e.Protocol, "", depth+1, s.spikeWait(e, t))
		end := sr.end.Add(s.netDelay())
		lost = s.responseLost(callee.node.Name, t)
		switch {
		case lost:
			// The callee answered (its span and log are as usual); the answer never arrives.
			rt := timeout / 2
			res = result{end: t.Add(rt), failed: true, code: 504, reason: "read timeout"}
			if attempt == 1 {
				s.log(ns, res.end, sevWarn, tid, sid, "call to %s failed: timeout after %dms waiting for the response, retrying (attempt 1 of 2) request_id=%s", callee.node.Name, msDur(rt), rid)
			} else {
				s.log(ns, res.end, sevError, tid, sid, "call to %s failed: timeout after %dms waiting for the response (attempt 2 of 2), giving up request_id=%s", callee.node.Name, msDur(rt), rid)
			}
		case end.Sub(t) > timeout:
			res = result{end: t.Add(timeout), failed: true, code: 504, reason: "context deadline exceeded"}
			s.log(ns, res.end, sevError, tid, sid, "timeout calling %s after %dms: context deadline exceeded request_id=%s", callee.node.Name, msDur(timeout), rid)
		case sr.failed:
			res = result{end: end, failed: true, code: 500, reason: fmt.Sprintf("upstream status %d", sr.code)}
			s.log(ns, end, sevError, tid, sid, "call to %s failed: status=%d request_id=%s", callee.node.Name, sr.code, rid)
		default:
			res = result{end: end}
		}
	}
	span.at = res.end
	if res.failed {
		span.errMsg = res.reason
	}
	code := 200
	if res.failed {
		code = res.code
	}
	switch {
	case s.real != nil:
		span.attrs = s.statusAttrs(e.Protocol, res)
	case e.Protocol == ProtoHTTP:
		span.attrs = append(span.attrs, numi("http.response.status_code", code))
	default:
		span.attrs = append(span.attrs, numi("rpc.grpc.status_code", grpcCode(res)))
	}
	s.push(span)
	if lost && attempt == 1 {
		return s.callService(ns, callee, e, res.end, tid, parent, s.spanID(), depth, s.egressDelay(caller, res.end), 2)
	}
	return res
}

// query simulates one database call of ns (the database itself emits nothing), which takes
// extra longer than the database's own time (egress delay, queueing).
func (s *Simulator) query(ns *nodeState, db *nodeState, e Edge, t time.Time, tid [16]byte, parent, sid [8]byte, extra time.Duration) result {
	timeout := e.Timeout
	if timeout == 0 {
		timeout = defaultDBTO
	}
	table := strings.TrimSuffix(db.node.Name, "-db")
	op := "SELECT"
	if s.rng.IntN(4) == 0 {
		op = "UPDATE"
	}
	rid := reqID(tid)
	d := s.lat(db.node.Latency) + extra
	res := result{}
	dbName := db.node.Name
	switch {
	case s.faultIntensity(FaultDBPoolExhaustion, dbName, t) > s.rng.Float64()*1.15:
		res = result{end: t.Add(poolWaitTimeout), failed: true, code: 503, reason: "connection pool exhausted"}
		s.log(ns, res.end, sevError, tid, sid, "could not acquire connection from pool %s: timeout after %dms (active=%d idle=0 max=%d) request_id=%s",
			dbName, msDur(poolWaitTimeout), poolSize, poolSize, rid)
	case s.faultIntensity(FaultSlowQuery, dbName, t) > 0:
		f := s.faultIntensity(FaultSlowQuery, dbName, t)
		d += time.Duration(f * float64(150+s.rng.IntN(1400)) * float64(time.Millisecond))
	}
	if !res.failed {
		switch {
		case d > timeout:
			res = result{end: t.Add(timeout), failed: true, code: 504, reason: "statement timeout"}
			s.log(ns, res.end, sevError, tid, sid, "query on %s canceled after %dms: canceling statement due to statement timeout request_id=%s", dbName, msDur(timeout), rid)
		default:
			res.end = t.Add(d)
			if d > 250*time.Millisecond {
				s.log(ns, res.end, sevWarn, tid, sid, "slow query on %s took %dms: %s %s request_id=%s", dbName, msDur(d), op, table, rid)
			}
		}
	}
	span := &event{
		at: res.end, node: ns.idx, isSpan: true, tid: tid, sid: sid, parent: parent, kind: ptrace.SpanKindClient,
		start: t, name: op + " " + table,
	}
	if s.real == nil {
		span.attrs = []kv{
			str("db.system.name", db.node.System), str("db.namespace", dbName),
			str("db.operation.name", op), str("db.collection.name", table),
			str("server.address", dbName), numi("server.port", dbPort(db.node.System)),
		}
	}
	if res.failed {
		span.errMsg = res.reason
	}
	s.push(span)
	return res
}

// ---- faults ----

func (s *Simulator) active(k FaultKind, name string, t time.Time) bool {
	for _, f := range s.sc.Faults {
		if f.Kind == k && f.Service == name && f.Active(t) {
			return true
		}
	}
	return false
}

// faultIntensity is 0 outside the fault and ramps from 0 to 1 over dbRamp after its start.
func (s *Simulator) faultIntensity(k FaultKind, name string, t time.Time) float64 {
	for _, f := range s.sc.Faults {
		if f.Kind == k && f.Service == name && f.Active(t) {
			return min(1, 0.2+float64(t.Sub(f.Start))/float64(dbRamp))
		}
	}
	return 0
}

// responseLost reports whether the response of name to a call made at t is lost
// (caller_log_change).
func (s *Simulator) responseLost(name string, t time.Time) bool {
	return s.active(FaultCallerLogChange, name, t) && s.xr.Float64() < lossProbability
}

func (s *Simulator) partitioned(from, to string, t time.Time) bool {
	for _, f := range s.sc.Faults {
		if f.Kind == FaultNetworkPartition && f.Peer == from && f.Service == to && f.Active(t) {
			return true
		}
	}
	return false
}

// memPhase returns the offset of t in its memory-pressure cycle, and the cycle number.
func (s *Simulator) memPhase(name string, t time.Time) (time.Duration, int, bool) {
	for _, f := range s.sc.Faults {
		if f.Kind == FaultMemoryPressure && f.Service == name && f.Active(t) {
			d := t.Sub(f.Start)
			return d % memCycle, int(d / memCycle), true
		}
	}
	return 0, 0, false
}

// memPressure is 0..1 while memory grows towards the OOM kill, 0 otherwise.
func (s *Simulator) memPressure(name string, t time.Time) float64 {
	ph, _, ok := s.memPhase(name, t)
	if !ok || ph >= memCrashAt {
		return 0
	}
	return 0.3 + 0.7*float64(ph)/float64(memCrashAt)
}

// downAt reports whether the service is restarting after an OOM kill at t.
func (s *Simulator) downAt(name string, t time.Time) bool {
	ph, _, ok := s.memPhase(name, t)
	return ok && ph >= memCrashAt && ph < memCrashAt+memDown
}

// restartsAt counts the restarts of a service before t (its instance number).
func (s *Simulator) restartsAt(name string, t time.Time) int {
	for _, f := range s.sc.Faults {
		if f.Kind != FaultMemoryPressure || f.Service != name || t.Before(f.Start) {
			continue
		}
		if t.After(f.End) {
			t = f.End
		}
		d := t.Sub(f.Start)
		n := int(d / memCycle)
		if d%memCycle >= memCrashAt+memDown {
			n++
		}
		return n
	}
	return 0
}

// versionAt is the deployed version: a bad deploy bumps it, its end rolls it back.
func (s *Simulator) versionAt(ns *nodeState, t time.Time) string {
	if s.active(FaultBadDeploy, ns.node.Name, t) {
		return ns.version + "-rc1"
	}
	return ns.version
}

// timers emits background lines and fault lifecycle lines up to t.
func (s *Simulator) timers(t time.Time) {
	var zt [16]byte
	var zs [8]byte
	for i, ns := range s.nodes {
		for s.bgNext[i].Before(t) {
			at := s.bgNext[i]
			s.bgNext[i] = at.Add(8*time.Second + time.Duration(s.rng.Int64N(int64(4*time.Second))))
			if ns.node.Kind != KindService || s.downAt(ns.node.Name, at) || s.memPressure(ns.node.Name, at) > 0 {
				continue
			}
			switch s.rng.IntN(5) {
			case 0:
				s.log(ns, at, sevInfo, zt, zs, "health check passed status=UP uptime=%ds", int(at.Sub(s.sc.Start)/time.Second)+3600)
			case 1:
				s.log(ns, at, sevInfo, zt, zs, "gc cycle completed pause=%.1fms heap=%dMB", 0.5+3*s.rng.Float64(), 180+s.rng.IntN(120))
			case 2:
				s.log(ns, at, sevInfo, zt, zs, "cache stats hits=%d misses=%d hit_ratio=%.2f", 900+s.rng.IntN(400), 20+s.rng.IntN(80), 0.9+0.09*s.rng.Float64())
			case 3:
				s.log(ns, at, sevInfo, zt, zs, "flushed %d metrics to exporter", 40+s.rng.IntN(60))
			default:
				if s.rng.IntN(10) == 0 {
					s.log(ns, at, sevWarn, zt, zs, "config reload took %dms, longer than expected", 600+s.rng.IntN(900))
				} else {
					s.log(ns, at, sevInfo, zt, zs, "connection pool stats active=%d idle=%d max=%d", 2+s.rng.IntN(10), 5+s.rng.IntN(20), poolSize)
				}
			}
		}
	}
	if s.real != nil {
		s.realTimers(t)
	}
	for i, f := range s.sc.Faults {
		ns := s.byName[f.Service]
		if !s.ftStart[i] && f.Start.Before(t) {
			s.ftStart[i] = true
			if f.Kind == FaultBadDeploy {
				s.log(ns, f.Start, sevInfo, zt, zs, "deploying version %s (previous %s)", ns.version+"-rc1", ns.version)
				s.log(ns, f.Start.Add(40*time.Millisecond), sevInfo, zt, zs, "starting %s version=%s", f.Service, ns.version+"-rc1")
			}
		}
		if !s.ftEnd[i] && f.End.Before(t) && f.End.Before(s.end) {
			s.ftEnd[i] = true
			if f.Kind == FaultBadDeploy {
				s.log(ns, f.End, sevInfo, zt, zs, "rolled back to version %s", ns.version)
			}
		}
		for s.ftNext[i].Before(t) && s.ftNext[i].Before(f.End) {
			at := s.ftNext[i]
			s.ftNext[i] = at.Add(time.Duration(1500+s.rng.IntN(1500)) * time.Millisecond)
			switch f.Kind {
			case FaultDependencyTimeout:
				s.log(ns, at, sevWarn, zt, zs, "worker pool saturated: %d/%d busy, %d requests queued", 64, 64, 100+s.rng.IntN(400))
			case FaultMemoryPressure:
				s.memGC(ns, at)
			}
		}
		if f.Kind == FaultMemoryPressure {
			for {
				crash := f.Start.Add(time.Duration(s.ftCrashes[i])*memCycle + memCrashAt)
				if !crash.Before(t) || !crash.Before(f.End) {
					break
				}
				s.ftCrashes[i]++
				s.memCrash(ns, crash, s.ftCrashes[i])
			}
		}
	}
}

// memGC logs a GC warning of ns at at while its memory grows towards the OOM kill.
func (s *Simulator) memGC(ns *nodeState, at time.Time) {
	if p := s.memPressure(ns.node.Name, at); p > 0 {
		s.log(ns, at, sevWarn, [16]byte{}, [8]byte{}, "GC overhead high: pause=%dms heap=%dMB of limit 1024MB", int(20+400*p*p)+s.rng.IntN(20), int(600+420*p))
	}
}

// memCrash logs the OOM kill of ns at crash and its restart.
func (s *Simulator) memCrash(ns *nodeState, crash time.Time, restarts int) {
	var zt [16]byte
	var zs [8]byte
	s.log(ns, crash, sevFatal, zt, zs, "fatal error: runtime: out of memory: cannot allocate %d-byte block (1023MB in use)", 1<<(16+s.rng.IntN(6)))
	s.log(ns, crash.Add(memDown), sevInfo, zt, zs, "starting %s version=%s after restart (exit code 137, OOMKilled, restarts=%d)", ns.node.Name, ns.version, restarts)
	s.log(ns, crash.Add(memDown+200*time.Millisecond), sevInfo, zt, zs, "ready to accept connections on :%d", 8080)
}

// ---- attribute helpers ----

func (s *Simulator) serverAttrs(ns *nodeState, kind ptrace.SpanKind, proto Protocol, queue string, res result) []kv {
	name := ns.node.Name
	switch {
	case kind == ptrace.SpanKindConsumer:
		q := s.byName[queue]
		return []kv{
			str("messaging.system", q.node.System), str("messaging.destination.name", queue),
			str("messaging.operation.type", "process"), str("messaging.consumer.group.name", name),
		}
	case proto == ProtoRPC:
		return []kv{
			str("rpc.system", "grpc"), str("rpc.service", ns.rpcSvc), str("rpc.method", ns.rpcMeth),
			numi("rpc.grpc.status_code", grpcCode(res)),
		}
	}
	code := 200
	if res.failed {
		code = res.code
	}
	return []kv{
		str("http.request.method", ns.httpMeth), str("http.route", ns.route),
		str("url.path", ns.route), numi("http.response.status_code", code),
	}
}

func (s *Simulator) serverSpanName(ns *nodeState, kind ptrace.SpanKind, proto Protocol, queue string) string {
	switch {
	case kind == ptrace.SpanKindConsumer:
		return "process " + queue
	case proto == ProtoRPC:
		return ns.rpcSpan
	}
	return ns.httpSpan
}

func (s *Simulator) clientAttrs(callee *nodeState, proto Protocol) []kv {
	name := callee.node.Name
	if proto == ProtoRPC {
		return []kv{
			str("rpc.system", "grpc"), str("rpc.service", callee.rpcSvc), str("rpc.method", callee.rpcMeth),
			str("server.address", name), numi("server.port", port(proto)),
		}
	}
	return []kv{
		str("http.request.method", callee.httpMeth),
		str("url.full", callee.urlFull),
		str("server.address", name), numi("server.port", port(proto)),
	}
}

func (s *Simulator) clientSpanName(callee *nodeState, proto Protocol) string {
	if proto == ProtoRPC {
		return callee.rpcSpan
	}
	return callee.httpMeth
}

func grpcCode(r result) int {
	switch {
	case !r.failed:
		return 0
	case r.code == 504:
		return 4 // DEADLINE_EXCEEDED
	case r.code == 503:
		return 14 // UNAVAILABLE
	}
	return 13 // INTERNAL
}

func port(p Protocol) int {
	if p == ProtoRPC {
		return 9090
	}
	return 8080
}

func dbPort(system string) int {
	switch system {
	case "mysql":
		return 3306
	case "mongodb":
		return 27017
	case "redis":
		return 6379
	}
	return 5432
}

func httpMethod(name string) string {
	if len(name)%2 == 0 {
		return "POST"
	}
	return "GET"
}

func httpRoute(name string) string { return "/api/" + strings.ReplaceAll(name, "-", "/") }

func rpcService(name string) string {
	parts := strings.Split(name, "-")
	var b strings.Builder
	b.WriteString("shop.")
	for _, p := range parts {
		if p != "" {
			b.WriteString(strings.ToUpper(p[:1]) + p[1:])
		}
	}
	b.WriteString("Service")
	return b.String()
}

func rpcMethod(name string) string {
	methods := []string{"Get", "List", "Create", "Update", "Check"}
	h := 0
	for _, c := range name {
		h = h*31 + int(c)
	}
	return methods[(h%len(methods)+len(methods))%len(methods)]
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"

	"fmt"
	"math"
	"slices"
	"sort"
)

// edgeKey identifies an edge as logs2graph does.
type edgeKey struct{ client, server, conn string }

// baseline is a robust running estimate of one edge: EWMA of the value and of its absolute
// deviation. Anomalous windows move it only a tenth as fast, so a fault does not become normal
// within a few windows.
type baseline struct {
	n                int
	errRate, errDev  float64
	p95, p95Dev      float64
	latN             int
	logErr, logErrDv float64
	low              lowVolume
	// recent holds the p95 of the last latHistory judged windows, anomalous ones included, so
	// that periodic bursts (a load generator, a batch job) are part of what is usual.
	recent   [latHistory]float64
	recentN  int
	latRun   int   // consecutive busy windows with the p95 off
	latStart int64 // start of the first of them
	// runVals holds the p95s of the current run of off windows: they join recent only when the
	// run ends (a burst is then usual), so a lasting change does not raise its own bar.
	runVals     [8]float64
	latRunEnded int // length of the run that the current window ended
	// calls holds the calls of the last latHistory windows judged (callsN of them ever), so
	// that a young edge can tell a burst of requests from a change (see burstWhileYoung).
	calls  [latHistory]float64
	callsN int
	// bursts holds the p95 of the last burst windows (burstsN of them ever): windows with at
	// least burstCalls times the edge's median calls, judged against each other (see
	// burstLoad), since bursts can come less often than recent spans.
	bursts  [8]float64
	burstsN int
}

// burstLoad reports whether a window of n calls with the given p95 is a burst of requests whose
// latency is load: at least burstCalls times the edge's median calls, on an edge that has seen
// no burst before (the first is learned) or not slower than factor times the median p95 of its
// earlier bursts. It also reports whether the window is a burst at all. (A young edge's bursts
// are load anyway: burstWhileYoung.)
func (b *baseline) burstLoad(n int64, p95, factor float64) (load, burst bool) {
	usual, ok := b.medianCalls()
	if !ok || float64(n) < burstCalls*usual {
		return false, false
	}
	if b.burstsN == 0 {
		return true, true
	}
	var v [8]float64
	k := min(b.burstsN, len(b.bursts))
	copy(v[:], b.bursts[:k])
	s := v[:k]
	slices.Sort(s)
	return p95 < factor*s[len(s)/2], true
}

// burstWhileYoung reports whether a window of n calls on an edge whose latency history is
// shorter than latHistory windows is a burst of requests: at least burstCalls times the
// edge's median calls per window. Until the history spans its usual bursts, the latency of such a
// window is load, not a change: a burst seen once is learned, not alerted on.
func (b *baseline) burstWhileYoung(n int64) bool {
	if b.recentN >= latHistory {
		return false
	}
	usual, ok := b.medianCalls()
	return ok && float64(n) >= burstCalls*usual
}

// burstCalls is how many times its median calls per window make a young edge's window a burst.
const burstCalls = 1.5

// latHistory is the number of recent windows whose p95 latencies an edge keeps; latQuantile the
// quantile of them that a latency anomaly must exceed by LatencyFactor/2.
const (
	latHistory  = 40
	latQuantile = 0.9
)

// recentQuantile returns the latQuantile of the recent p95s (false before latHistory/4 windows).
func (b *baseline) recentQuantile() (float64, bool) {
	var v [latHistory]float64
	s, ok := sortedRing(&b.recent, b.recentN, &v)
	if !ok {
		return 0, false
	}
	return s[int(latQuantile*float64(len(s)-1))], true
}

// sortedRing copies the values of ring (n ever written) into v and returns them sorted; false
// before latHistory/4 of them.
func sortedRing(ring *[latHistory]float64, n int, v *[latHistory]float64) ([]float64, bool) {
	n = min(n, latHistory)
	if n < latHistory/4 {
		return nil, false
	}
	s := v[:n]
	copy(s, ring[:n])
	slices.Sort(s)
	return s, true
}

func (b *baseline) pushRecent(p95 float64) {
	b.recent[b.recentN%latHistory] = p95
	b.recentN++
}

// lowVolume judges the windows with too few calls for the baseline above (fewer than min_calls):
// a separate baseline that every window with calls feeds (busy ones too), and the runs of
// consecutive windows that are off by low_volume_factor or more. It never changes how a window
// with min_calls calls or more is judged.
type lowVolume struct {
	n                 int     // windows with calls
	errRate           float64 // EWMA of their error rate
	latN              int     // windows with calls and a latency
	logLat, logLatDev float64 // EWMA of ln(latency ms) and of its absolute deviation
	latRun, errRun    int     // consecutive windows with calls that are off (latency, errors)
	lastEnd           int64   // end of the last window with calls (0: none yet)
}

type edge struct {
	key      edgeKey
	lastSeen int64 // window end
	base     baseline
	// lastCalls is the end of its last window with calls, win that window's length; stopped
	// that its calls stopped after lastCalls and it was raised (stopped.go).
	lastCalls int64
	win       int64
	stopped   bool
}

type node struct {
	kind string
	out  map[string]int // callee -> number of edge keys
	in   map[string]int // caller -> number of edge keys
	// ends holds the distinct ends of its latest windows with calls (in or out), endsN of
	// them ever: whether it kept working while one of its edges went quiet (stopped.go).
	ends  [8]int64
	endsN int
}

// activeIn reports whether the node had a window with calls ending in (from, to].
func (n *node) activeIn(from, to int64) bool {
	for _, t := range n.ends[:min(n.endsN, len(n.ends))] {
		if t > from && t <= to {
			return true
		}
	}
	return false
}

func (n *node) noteEnd(t int64) {
	if n.endsN > 0 && n.ends[(n.endsN-1)%len(n.ends)] == t {
		return
	}
	n.ends[n.endsN%len(n.ends)] = t
	n.endsN++
}

type depGraph struct {
	edges map[edgeKey]*edge
	nodes map[string]*node
}

func newDepGraph() *depGraph {
	return &depGraph{edges: map[edgeKey]*edge{}, nodes: map[string]*node{}}
}

func (g *depGraph) node(name string) *node {
	n := g.nodes[name]
	if n == nil {
		n = &node{out: map[string]int{}, in: map[string]int{}}
		g.nodes[name] = n
	}
	return n
}

func setKind(n *node, kind string) {
	if kind != "" && (n.kind == "" || n.kind == "virtual" || kind == "service") {
		n.kind = kind
	}
}

// upsert returns the edge, creating it (nil when the bound is hit).
func (g *depGraph) upsert(w *EdgeWindow, maxEdges int) *edge {
	k := edgeKey{w.Client, w.Server, w.ConnType}
	e := g.edges[k]
	if e == nil {
		if len(g.edges) >= maxEdges {
			return nil
		}
		e = &edge{key: k}
		g.edges[k] = e
		c, s := g.node(w.Client), g.node(w.Server)
		c.out[w.Server]++
		s.in[w.Client]++
	}
	setKind(g.node(w.Client), w.ClientKind)
	setKind(g.node(w.Server), w.ServerKind)
	if w.WindowEnd > e.lastSeen {
		e.lastSeen = w.WindowEnd
	}
	if w.Calls > 0 {
		g.node(w.Client).noteEnd(w.WindowEnd)
		g.node(w.Server).noteEnd(w.WindowEnd)
	}
	return e
}

// expire removes edges last seen before cutoff and nodes left without edges.
func (g *depGraph) expire(cutoff int64, keep func(k edgeKey) bool) int {
	n := 0
	for k, e := range g.edges {
		if e.lastSeen >= cutoff || (keep != nil && keep(k)) {
			continue
		}
		delete(g.edges, k)
		n++
		if c := g.nodes[k.client]; c != nil {
			if c.out[k.server]--; c.out[k.server] <= 0 {
				delete(c.out, k.server)
			}
		}
		if s := g.nodes[k.server]; s != nil {
			if s.in[k.client]--; s.in[k.client] <= 0 {
				delete(s.in, k.client)
			}
		}
	}
	for name, nd := range g.nodes {
		if len(nd.in) == 0 && len(nd.out) == 0 {
			delete(g.nodes, name)
		}
	}
	return n
}

func (g *depGraph) kind(name string) string {
	if n := g.nodes[name]; n != nil && n.kind != "" {
		return n.kind
	}
	return "service"
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// within returns the undirected distance (<= maxHops) from the set src to every reached node.
func (g *depGraph) within(src []string, maxHops int) map[string]int {
	dist := make(map[string]int, len(src))
	frontier := make([]string, 0, len(src))
	for _, s := range src {
		if _, ok := dist[s]; !ok {
			dist[s] = 0
			frontier = append(frontier, s)
		}
	}
	for h := 1; h <= maxHops && len(frontier) > 0; h++ {
		var next []string
		for _, u := range frontier {
			nd := g.nodes[u]
			if nd == nil {
				continue
			}
			for _, m := range []map[string]int{nd.out, nd.in} {
				for v := range m {
					if _, ok := dist[v]; !ok {
						dist[v] = h
						next = append(next, v)
					}
				}
			}
		}
		frontier = next
	}
	return dist
}

// edgeSignal is an edge window judged anomalous, charged to the callee.
type edgeSignal struct {
	caller        string
	errRate, base float64 // error signal (errRate > 0)
	p95, baseP95  float64 // latency signal (p95 > 0)
	logErrors     int64
	score         float64
	kind          string // edge_errors, edge_latency, edge_log_errors
	calls, errs   int64
	since         int64 // start of the first window of a persistent signal (0: this window)
}

func (s *edgeSignal) describe(callee string) string {
	switch s.kind {
	case "edge_errors":
		return fmt.Sprintf("%.0f%% of %d calls from %s to %s fail (baseline %.1f%%)", 100*s.errRate, s.calls, s.caller, callee, 100*s.base)
	case "edge_latency":
		return fmt.Sprintf("p95 latency of calls from %s to %s is %.0f ms (baseline %.0f ms)", s.caller, callee, s.p95, s.baseP95)
	case contract.TypeEdgeStopped:
		return describeStopped(s, callee)
	default:
		if s.calls > 0 { // calls without status, failed by the error records linked to their spans
			return fmt.Sprintf("%.0f%% of %d calls from %s to %s log errors (baseline %.1f%%)", 100*s.errRate, s.calls, s.caller, callee, 100*s.base)
		}
		return fmt.Sprintf("%d error logs on calls from %s to %s", s.logErrors, s.caller, callee)
	}
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

func ewma(cur *float64, dev *float64, x, alpha float64, first bool) {
	if first {
		*cur, *dev = x, 0
		return
	}
	d := math.Abs(x - *cur)
	*dev += alpha * (d - *dev)
	*cur += alpha * (x - *cur)
}

// judge checks a window against the edge baseline, updates the baseline and returns the
// strongest signal (nil when normal).
func (c *Config) judge(e *edge, w *EdgeWindow) *edgeSignal {
	b := &e.base
	warm := b.n >= c.BaselineWarmup
	var best *edgeSignal
	consider := func(s *edgeSignal) {
		if best == nil || s.score > best.score {
			best = s
		}
	}
	var rate float64
	latOff := false
	judged := w.Calls >= c.MinCalls
	if judged {
		// Failures: failed calls, or, where spans say nothing (no status, no status attribute),
		// the error records linked to the edge's spans, capped at the calls (a failed call that
		// logs two error records counts twice; the baseline counts them the same way).
		errs, kind := w.Errors, "edge_errors"
		if lf := min(w.LogErrors, w.Calls); lf > errs {
			errs, kind = lf, "edge_log_errors"
		}
		rate = float64(errs) / float64(w.Calls)
		if rate > 1 {
			rate = 1
		}
		if errs >= c.MinErrors {
			if warm {
				excess := rate - b.errRate
				if excess >= c.ErrorRateDelta && excess >= 4*b.errDev {
					consider(&edgeSignal{caller: w.Client, errRate: rate, base: b.errRate, kind: kind,
						score: 0.5 + 0.5*clamp01(excess/0.5), calls: w.Calls, errs: errs})
				}
			} else if rate >= c.ColdErrorRate && kind == "edge_errors" {
				// Error records are circumstantial (every service logs some): they are judged
				// only against a warm baseline; failed spans also before.
				consider(&edgeSignal{caller: w.Client, errRate: rate, kind: kind,
					score: 0.5 + 0.5*clamp01(rate-c.ColdErrorRate)/(1-c.ColdErrorRate+1e-9), calls: w.Calls, errs: errs})
			}
		}
		if w.P95 > 0 && b.latN >= c.BaselineWarmup && b.latN > 0 {
			inc := w.P95 - b.p95
			ratio := w.P95 / math.Max(b.p95, 1)
			// Above the EWMA baseline, and above what recent windows (bursts included) reached.
			// Not before the edge's recent history is long enough to hold its usual bursts.
			usual, ok := b.recentQuantile()
			off := ok && ratio >= c.LatencyFactor && inc >= c.MinLatencyIncreaseMs && inc >= 4*b.p95Dev && w.P95 >= usual*c.LatencyFactor/2 &&
				!b.burstWhileYoung(w.Calls)
			if load, burst := b.burstLoad(w.Calls, w.P95, c.LatencyFactor); burst {
				off = off && !load
				if !off {
					b.bursts[b.burstsN%len(b.bursts)] = w.P95
					b.burstsN++
				}
			}
			latOff = off
			if off {
				if b.latRun == 0 {
					b.latStart = w.WindowStart
				}
				b.latRun++
			} else {
				b.latRunEnded, b.latRun = b.latRun, 0
			}
			if off && b.latRun >= c.LatencyPersistence {
				consider(&edgeSignal{caller: w.Client, p95: w.P95, baseP95: b.p95, kind: "edge_latency", since: b.latStart,
					score: 0.5 + 0.5*clamp01((ratio-c.LatencyFactor)/(3*c.LatencyFactor)), calls: w.Calls, errs: w.Errors})
			}
		}
	}
	if low := c.judgeLow(&b.low, w); low != nil && w.Calls < c.MinCalls {
		consider(low)
	}
	if w.Calls == 0 && w.LogErrors >= c.MinErrors {
		lim := 3*b.logErr + 4*b.logErrDv + float64(c.MinErrors)
		if float64(w.LogErrors) > lim {
			consider(&edgeSignal{caller: w.Client, logErrors: w.LogErrors, kind: "edge_log_errors",
				score: 0.5 + 0.5*clamp01((float64(w.LogErrors)-lim)/(lim+1))})
		}
	}
	alpha := c.BaselineAlpha
	if best != nil || latOff {
		if !warm {
			return best // a faulty start must not become the baseline
		}
		alpha /= 10 // an off window (persistent or not yet) moves the baseline ten times slower
	}
	if judged {
		b.calls[b.callsN%latHistory] = float64(w.Calls)
		b.callsN++
		ewma(&b.errRate, &b.errDev, rate, alpha, b.n == 0)
		if w.P95 > 0 {
			ewma(&b.p95, &b.p95Dev, w.P95, alpha, b.latN == 0)
			b.latN++
			if !warm {
				b.pushRecent(w.P95) // the first windows count towards the usual too
			} else {
				switch {
				case latOff:
					if k := b.latRun - 1; k >= 0 && k < len(b.runVals) {
						b.runVals[k] = w.P95
					}
				default:
					for k := range min(b.latRunEnded, len(b.runVals)) {
						b.pushRecent(b.runVals[k])
					}
					b.latRunEnded = 0
					b.pushRecent(w.P95)
				}
			}
		}
		b.n++
	}
	if w.Calls == 0 {
		ewma(&b.logErr, &b.logErrDv, float64(w.LogErrors), alpha, b.logErr == 0 && b.logErrDv == 0)
	}
	return best
}

// minLogLatencyMs floors latencies before their logarithm (sub-microsecond windows are noise).
const minLogLatencyMs = 1e-3

// Scores of low-volume signals: a window at exactly the factor scores lowVolumeScore (High), so
// that two of them within open_window reach the default open_threshold; larger changes score
// up to 1 (a latency change of the factor x 100, an error rate of 100 %).
const lowVolumeScore = 0.75

// judgeLow updates the low-volume baseline and runs with a window that has calls, and returns a
// signal when the window's latency or error run reached low_volume_persistence. The caller uses
// the signal only for windows with fewer than min_calls calls.
func (c *Config) judgeLow(l *lowVolume, w *EdgeWindow) *edgeSignal {
	if c.LowVolumePersistence <= 0 || w.Calls <= 0 {
		return nil
	}
	if l.lastEnd != 0 && w.WindowStart-l.lastEnd > int64(c.LowVolumeMaxGap) {
		l.latRun, l.errRun = 0, 0 // too long without calls: earlier evidence is not consecutive
	}
	l.lastEnd = max(l.lastEnd, w.WindowEnd)
	alpha := c.BaselineAlpha

	// Errors: a failing window where the baseline had (almost) no failures.
	rate := clamp01(float64(w.Errors) / float64(w.Calls))
	baseErr := l.errRate
	errOff := l.n >= c.BaselineWarmup && w.Errors > 0 && rate >= c.LowVolumeErrorRate && rate >= c.LowVolumeFactor*baseErr
	if errOff {
		l.errRun++
	} else {
		l.errRun = 0
	}
	if l.n == 0 {
		l.errRate = rate
	} else {
		a := alpha
		if errOff {
			a /= 10
		}
		l.errRate += a * (rate - l.errRate)
	}
	l.n++

	// Latency: the p95, which for one or two calls is their maximum.
	v := w.P95
	if w.Calls <= 2 {
		v = max(w.P95, w.P99)
	}
	var latOff bool
	var baseLat float64
	if v > 0 {
		x := math.Log(max(v, minLogLatencyMs))
		if l.latN >= c.BaselineWarmup {
			baseLat = math.Exp(l.logLat)
			latOff = v >= c.LowVolumeFactor*baseLat && v-baseLat >= c.MinLatencyIncreaseMs && x-l.logLat >= 4*l.logLatDev
		}
		if latOff {
			// The level moves ten times slower and the deviation not at all: an off window is
			// not normal spread, and a change must not hide itself within a few windows.
			l.latRun++
			l.logLat += alpha / 10 * (x - l.logLat)
		} else {
			l.latRun = 0
			ewma(&l.logLat, &l.logLatDev, x, alpha, l.latN == 0)
		}
		l.latN++
	}

	var best *edgeSignal
	if errOff && l.errRun >= c.LowVolumePersistence {
		best = &edgeSignal{caller: w.Client, errRate: rate, base: baseErr, kind: "edge_errors",
			score: lowVolumeScore + (1-lowVolumeScore)*clamp01((rate-c.LowVolumeErrorRate)/(1-c.LowVolumeErrorRate+1e-9)),
			calls: w.Calls, errs: w.Errors}
	}
	if latOff && l.latRun >= c.LowVolumePersistence {
		s := &edgeSignal{caller: w.Client, p95: v, baseP95: baseLat, kind: "edge_latency",
			score: lowVolumeScore + (1-lowVolumeScore)*clamp01(math.Log10(v/(c.LowVolumeFactor*baseLat))/2),
			calls: w.Calls, errs: w.Errors}
		if best == nil || s.score > best.score {
			best = s
		}
	}
	return best
}

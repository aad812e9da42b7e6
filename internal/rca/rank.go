// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rca

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// Ranking weights (sum 1); see docs/rca.md. wOwn weighs how far the candidate's own signals
// moved against its own history; the rest is shared by the graph and timing evidence.
const (
	wOwn     = 0.40
	wWalk    = 0.30 * (1 - wOwn)
	wOnset   = 0.25 * (1 - wOwn)
	wHealthy = 0.20 * (1 - wOwn)
	wEdge    = 0.15 * (1 - wOwn)
	wKind    = 0.10 * (1 - wOwn)

	walkRestart = 0.15
	walkIters   = 50
	maxHopsPath = 5
	maxSteps    = 20_000 // DFS expansion budget for dependency paths
)

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func cloneIncident(in *incident.Incident) incident.Incident { return in.Clone() }

func sevWeight(s incident.Severity) float64 { return float64(sevRank(s)) / 4 }

// ownSignal reports whether an anomaly type measures the service itself rather than its calls:
// its own time, its egress time, its resource metrics. (Error bursts in its logs are not: a
// caller logs the failures of its dependency.)
func ownSignal(t string) bool {
	switch t {
	case ownTimeType, egressType:
		return true
	}
	return strings.HasPrefix(t, contract.TypeMetricPrefix)
}

// typeWeight: how directly an anomaly kind points at a fault in the service itself.
func typeWeight(t string) float64 {
	switch t {
	case "edge_errors", "edge_latency", "error_burst", "new_template", ownTimeType, egressType:
		return 1
	case "edge_log_errors", "rare_template", "rate_spike":
		return 0.8
	case "session":
		return 0.7
	case "rate_drop":
		return 0.5 // a drop is usually a symptom of a problem upstream or downstream
	}
	return 0.7
}

func dominantType(sa *svcAgg) string {
	best, n := "", -1
	for _, t := range sortedKeys(sa.types) {
		if sa.types[t] > n {
			best, n = t, sa.types[t]
		}
	}
	return best
}

type cand struct {
	name                           string
	a                              float64 // anomaly weight
	hasOnset                       bool
	onsetAt                        int64 // first symptom (first anomaly when the incident has no symptoms)
	walk, onset, healthy, edge, kd float64
	own                            float64
	score                          float64
	sa                             *svcAgg
	reasons                        []string
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// rank recomputes inc.out from the incident's aggregates and the current graph.
func (e *Engine) rank(inc *openInc) {
	affected := serviceList(inc)
	// candidates: affected services and their graph neighbours (user nodes excluded)
	set := map[string]struct{}{}
	for _, s := range affected {
		set[s] = struct{}{}
		if nd := e.g.nodes[s]; nd != nil {
			for _, m := range []map[string]int{nd.out, nd.in} {
				for v := range m {
					if e.g.kind(v) != "user" {
						set[v] = struct{}{}
					}
				}
			}
		}
	}
	names := make([]string, 0, len(set))
	for s := range set {
		names = append(names, s)
	}
	sort.Strings(names)
	idx := make(map[string]int, len(names))
	cs := make([]*cand, len(names))
	// Onsets are those of the first symptom when the incident has symptoms (it normally has: one
	// opens only with one); a service with only supporting evidence (rare templates, new
	// warnings) then has no onset and half the anomaly weight.
	bySymptom := false
	for _, sa := range inc.services {
		bySymptom = bySymptom || sa.symptoms > 0
	}
	minOnset := int64(math.MaxInt64)
	for i, s := range names {
		idx[s] = i
		c := &cand{name: s, sa: inc.services[s]}
		if c.sa != nil {
			c.a = c.sa.maxScore
			if bySymptom && c.sa.symptoms == 0 {
				c.a *= 0.5
			} else {
				c.hasOnset = true
				c.onsetAt = c.sa.onset
				if bySymptom {
					c.onsetAt = c.sa.symOnset
				}
				minOnset = min(minOnset, c.onsetAt)
			}
		}
		cs[i] = c
	}
	// healthy dependencies: 1 - strongest anomaly among the node's callees. A callee whose first
	// symptom came more than laterThan after the node's cannot have caused the node's: it does
	// not count.
	laterThan := 4 * int64(e.cfg.OnsetScale)
	for _, c := range cs {
		if c.sa == nil {
			continue
		}
		worst := 0.0
		if nd := e.g.nodes[c.name]; nd != nil {
			for v := range nd.out {
				j, ok := idx[v]
				if !ok || (c.hasOnset && cs[j].hasOnset && cs[j].onsetAt > c.onsetAt+laterThan) {
					continue
				}
				worst = max(worst, cs[j].a)
			}
		}
		c.healthy = 1 - worst
	}
	e.walk(cs, idx)
	scale := float64(e.cfg.OnsetScale)
	best := 0.0
	for _, c := range cs {
		if c.hasOnset {
			c.onset = math.Exp(-float64(c.onsetAt-minOnset) / scale)
		}
		if c.sa != nil {
			c.edge = c.sa.edgeScore
			c.kd = sevWeight(c.sa.sev) * typeWeight(dominantType(c.sa))
			c.own = c.sa.ownScore
		}
		c.score = wOwn*c.own + wWalk*c.walk + wOnset*c.onset + wHealthy*c.healthy + wEdge*c.edge + wKind*c.kd
		best = max(best, c.score)
	}
	for _, c := range cs {
		if best > 0 {
			c.score /= best
		}
		c.score = max(round(c.score, 4), 1e-4)
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].score != cs[j].score {
			return cs[i].score > cs[j].score
		}
		oi, oj := onsetOf(cs[i]), onsetOf(cs[j])
		if oi != oj {
			return oi < oj
		}
		return cs[i].name < cs[j].name
	})
	root := cs[0]
	for _, c := range cs {
		c.reasons = e.reasons(c, minOnset)
	}

	out := &inc.out
	out.ID = inc.id
	out.Status = incident.StatusOpen
	out.Source = "statistical"
	// The incident started with its first symptom; unusual lines of its services from before
	// that (which joined it) are evidence, not the start.
	started := inc.start
	if bySymptom {
		started = minOnset
	}
	out.StartedAt = timeOf(started)
	out.UpdatedAt = timeOf(inc.last)
	out.ResolvedAt = nil
	out.AffectedServices = affected
	sev := incident.SeverityLow
	for _, s := range affected {
		if sevRank(inc.services[s].sev) > sevRank(sev) {
			sev = inc.services[s].sev
		}
	}
	out.Severity = sev
	out.RootCauseService = root.name
	out.RootCauseIssue = issueOf(root)
	out.Title = truncate(fmt.Sprintf("%s: %s", root.name, out.RootCauseIssue), 160)
	second := 0.0
	if len(cs) > 1 {
		second = cs[1].score
	}
	evidenceFactor := 0.6
	if root.sa != nil {
		evidenceFactor = math.Min(1, 0.6+0.1*float64(root.sa.count))
	}
	out.Confidence = round((0.5+0.5*(1-second))*evidenceFactor, 3)
	n := min(len(cs), e.cfg.MaxCandidates)
	out.Candidates = make([]incident.Candidate, n)
	for i := range n {
		out.Candidates[i] = incident.Candidate{Service: cs[i].name, Score: cs[i].score, Kind: e.g.kind(cs[i].name),
			Reasons: cs[i].reasons}
	}
	affSet := map[string]bool{}
	for _, s := range affected {
		affSet[s] = true
	}
	out.PropagationPath = e.propagation(root.name, affSet, inc)
	out.DependencyPaths = e.dependencyPaths(root.name, affected, inc)
	out.Evidence = e.evidence(cs)
	out.TopTemplates = e.topTemplates(cs)
	out.Explanation = explanation(inc, cs, out)
	out.SimilarIncidents = e.kb.Similar(inc.id, inc.start, affected, templateKeys(inc), e.cfg.MaxSimilar, e.cfg.MinSimilarity)
}

func onsetOf(c *cand) int64 {
	switch {
	case c.hasOnset:
		return c.onsetAt
	case c.sa != nil:
		return c.sa.onset
	}
	return math.MaxInt64
}

// walk runs a personalised random walk with restart over the candidate subgraph. From a node the
// walker moves to its callees in proportion to their anomaly (towards dependencies), back to
// anomalous callers with a small weight, and stays on an anomalous node whose callees are healthy.
// Restarts go to anomalous nodes in proportion to their anomaly weight.
func (e *Engine) walk(cs []*cand, idx map[string]int) {
	n := len(cs)
	type arc struct {
		to int
		w  float64
	}
	arcs := make([][]arc, n)
	tot := make([]float64, n)
	pers := make([]float64, n)
	ps := 0.0
	for i, c := range cs {
		pers[i] = c.a
		ps += c.a
		if nd := e.g.nodes[c.name]; nd != nil {
			for _, v := range sortedKeys(nd.out) {
				if j, ok := idx[v]; ok {
					arcs[i] = append(arcs[i], arc{j, 0.05 + cs[j].a})
				}
			}
			for _, v := range sortedKeys(nd.in) {
				if j, ok := idx[v]; ok && cs[j].a > 0 {
					arcs[i] = append(arcs[i], arc{j, 0.1 * cs[j].a})
				}
			}
		}
		if self := c.a * c.healthy; self > 0 {
			arcs[i] = append(arcs[i], arc{i, self})
		}
		for _, a := range arcs[i] {
			tot[i] += a.w
		}
	}
	for i := range pers {
		if ps > 0 {
			pers[i] /= ps
		} else {
			pers[i] = 1 / float64(n)
		}
	}
	p := append([]float64(nil), pers...)
	next := make([]float64, n)
	for range walkIters {
		dangling := 0.0
		for i := range next {
			next[i] = 0
		}
		for i := range p {
			if tot[i] == 0 {
				dangling += p[i]
				continue
			}
			for _, a := range arcs[i] {
				next[a.to] += p[i] * a.w / tot[i]
			}
		}
		for i := range next {
			next[i] = (1-walkRestart)*(next[i]+dangling*pers[i]) + walkRestart*pers[i]
		}
		p, next = next, p
	}
	mx := 0.0
	for _, v := range p {
		mx = max(mx, v)
	}
	for i, c := range cs {
		if mx > 0 {
			c.walk = p[i] / mx
		}
	}
}

func strongestEdge(sa *svcAgg) *edgeSignal {
	var best *edgeSignal
	for _, c := range sortedSigKeys(sa.edges) {
		if s := sa.edges[c]; best == nil || s.score > best.score {
			best = s
		}
	}
	return best
}

func sortedSigKeys(m map[string]*edgeSignal) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e *Engine) reasons(c *cand, minOnset int64) []string {
	var r []string
	if c.sa == nil {
		return []string{"graph neighbour without anomalies"}
	}
	switch {
	case !c.hasOnset:
		r = append(r, "no symptom of its own (only unusual lines)")
	case c.onsetAt == minOnset:
		r = append(r, "earliest symptom")
	default:
		r = append(r, fmt.Sprintf("first symptom %s after the earliest", time.Duration(c.onsetAt-minOnset).Round(time.Millisecond)))
	}
	if c.sa.ownLine != "" {
		r = append(r, c.sa.ownLine)
	}
	if c.healthy >= 0.5 {
		r = append(r, "its dependencies are healthy")
	} else {
		r = append(r, "one of its dependencies is anomalous")
	}
	for _, k := range sortedSigKeys(c.sa.edges) {
		s := c.sa.edges[k]
		switch s.kind {
		case "edge_errors":
			r = append(r, fmt.Sprintf("edge errors from %s (%.0f%%)", k, 100*s.errRate))
		case "edge_latency":
			r = append(r, fmt.Sprintf("edge latency from %s (p95 %.0f ms)", k, s.p95))
		case contract.TypeEdgeStopped:
			r = append(r, fmt.Sprintf("calls from %s stopped", k))
		default:
			r = append(r, fmt.Sprintf("error logs on calls from %s", k))
		}
		if len(r) >= 6 {
			break
		}
	}
	r = append(r, fmt.Sprintf("%s %s anomalies (%d)", c.sa.sev, dominantType(c.sa), c.sa.count))
	r = append(r, fmt.Sprintf("graph rank %.2f", c.walk))
	return r
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

func topTemplate(sa *svcAgg) *tplAgg {
	var best *tplAgg
	for _, k := range sortedTpl(sa.templates) {
		t := sa.templates[k]
		if best == nil || t.count > best.count || (t.count == best.count && t.first < best.first) {
			best = t
		}
	}
	return best
}

func issueOf(c *cand) string {
	sa := c.sa
	if sa == nil {
		return "no anomalies of its own; it is the common dependency of the affected services"
	}
	if s := strongestEdge(sa); s != nil && sa.edgeScore >= sa.logMax {
		return s.describe(c.name)
	}
	if t := topTemplate(sa); t != nil {
		text := t.text
		if text == "" {
			text = "template " + t.id
		}
		return truncate(fmt.Sprintf("%s (%s, %d anomalous records)", text, dominantType(sa), sa.count), 300)
	}
	if len(sa.exemplars) > 0 {
		return truncate(fmt.Sprintf("%s (%s)", sa.exemplars[0].Line, dominantType(sa)), 300)
	}
	return dominantType(sa) + " anomalies"
}

// propagation follows caller edges from the root through affected services to the most upstream
// one (the entry service), by BFS; ties prefer the earlier-affected, then the name.
func (e *Engine) propagation(root string, aff map[string]bool, inc *openInc) []string {
	prev := map[string]string{root: ""}
	dist := map[string]int{root: 0}
	frontier := []string{root}
	far := root
	better := func(v string) bool {
		if dist[v] != dist[far] {
			return dist[v] > dist[far]
		}
		ov, of := inc.services[v], inc.services[far]
		if ov != nil && of != nil && ov.onset != of.onset {
			return ov.onset < of.onset
		}
		return v < far
	}
	for len(frontier) > 0 {
		var next []string
		for _, u := range frontier {
			nd := e.g.nodes[u]
			if nd == nil {
				continue
			}
			for _, v := range sortedKeys(nd.in) {
				if _, seen := dist[v]; seen || !aff[v] {
					continue
				}
				dist[v] = dist[u] + 1
				prev[v] = u
				next = append(next, v)
				if better(v) {
					far = v
				}
			}
		}
		frontier = next
	}
	var path []string
	for v := far; v != ""; v = prev[v] {
		path = append(path, v)
	}
	// reverse: root first
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

// dependencyPaths lists simple paths of at most 5 hops from the root cause to each affected
// service along caller edges (the direction a fault propagates), falling back to undirected
// paths for services not reachable that way. Bounded by MaxDependencyPaths and a step budget.
func (e *Engine) dependencyPaths(root string, affected []string, inc *openInc) [][]string {
	targets := make([]string, 0, len(affected))
	for _, s := range affected {
		if s != root {
			targets = append(targets, s)
		}
	}
	sort.SliceStable(targets, func(i, j int) bool {
		a, b := inc.services[targets[i]], inc.services[targets[j]]
		if a.onset != b.onset {
			return a.onset < b.onset
		}
		return targets[i] < targets[j]
	})
	out := [][]string{}
	if len(targets) == 0 {
		return append(out, []string{root})
	}
	const perTarget = 2
	f := &pathFinder{g: e.g, adjIn: map[string][]string{}, adjBoth: map[string][]string{}, distTo: map[string]int{}}
	for _, t := range targets {
		if len(out) >= e.cfg.MaxDependencyPaths {
			break
		}
		found := e.paths(f, root, t, false, perTarget)
		if len(found) == 0 {
			found = e.paths(f, root, t, true, 1)
		}
		for _, p := range found {
			if len(out) < e.cfg.MaxDependencyPaths {
				out = append(out, p)
			}
		}
	}
	return out
}

// pathFinder enumerates simple paths with sorted, cached adjacency and distance pruning.
type pathFinder struct {
	g       *depGraph
	adjIn   map[string][]string // callers
	adjBoth map[string][]string // callers then callees
	distTo  map[string]int
}

func (f *pathFinder) next(u string, undirected bool) []string {
	m := f.adjIn
	if undirected {
		m = f.adjBoth
	}
	if l, ok := m[u]; ok {
		return l
	}
	nd := f.g.nodes[u]
	var l []string
	if nd != nil {
		l = sortedKeys(nd.in)
		if undirected {
			l = append(l, sortedKeys(nd.out)...)
		}
	}
	m[u] = l
	return l
}

// distances computes the hop distance of every node to target (against the walk direction),
// up to maxHopsPath, so that the DFS only expands nodes from which the target is reachable in time.
func (f *pathFinder) distances(target string, undirected bool) {
	clear(f.distTo)
	f.distTo[target] = 0
	frontier := []string{target}
	for h := 1; h <= maxHopsPath && len(frontier) > 0; h++ {
		var next []string
		for _, u := range frontier {
			nd := f.g.nodes[u]
			if nd == nil {
				continue
			}
			// the walk moves u -> caller; backwards that is u -> callee
			for v := range nd.out {
				if _, ok := f.distTo[v]; !ok {
					f.distTo[v] = h
					next = append(next, v)
				}
			}
			if undirected {
				for v := range nd.in {
					if _, ok := f.distTo[v]; !ok {
						f.distTo[v] = h
						next = append(next, v)
					}
				}
			}
		}
		frontier = next
	}
}

func (e *Engine) paths(f *pathFinder, from, to string, undirected bool, limit int) [][]string {
	f.distances(to, undirected)
	if _, ok := f.distTo[from]; !ok {
		return nil
	}
	var out [][]string
	steps := 0
	path := []string{from}
	on := map[string]bool{from: true}
	var dfs func(u string)
	dfs = func(u string) {
		if len(out) >= limit || steps > maxSteps {
			return
		}
		steps++
		if u == to {
			out = append(out, append([]string(nil), path...))
			return
		}
		left := maxHopsPath - (len(path) - 1)
		for _, v := range f.next(u, undirected) {
			if on[v] {
				continue
			}
			if d, ok := f.distTo[v]; !ok || d > left-1 {
				continue
			}
			on[v] = true
			path = append(path, v)
			dfs(v)
			path = path[:len(path)-1]
			on[v] = false
		}
	}
	dfs(from)
	// shortest first
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) < len(out[j]) })
	return out
}

func evidenceLine(a *Anomaly) string {
	return fmt.Sprintf("[%s] %s %s: %s", strings.ToUpper(string(a.Severity)), timeOf(a.Time).Format(time.RFC3339Nano),
		a.Service, truncate(a.Line, 500))
}

// evidence takes up to two exemplars of each anomalous candidate in rank order, then keeps the
// earliest MaxEvidence of them, earliest first.
func (e *Engine) evidence(cs []*cand) []string {
	var pool []Anomaly
	for _, c := range cs {
		if c.sa == nil {
			continue
		}
		for i, a := range c.sa.exemplars {
			if i == 2 {
				break
			}
			pool = append(pool, a)
		}
		if len(pool) >= 4*e.cfg.MaxEvidence {
			break
		}
	}
	sort.SliceStable(pool, func(i, j int) bool {
		if pool[i].Time != pool[j].Time {
			return pool[i].Time < pool[j].Time
		}
		return pool[i].Service < pool[j].Service
	})
	if len(pool) > e.cfg.MaxEvidence {
		pool = pool[:e.cfg.MaxEvidence]
	}
	out := make([]string, len(pool))
	for i := range pool {
		out[i] = evidenceLine(&pool[i])
	}
	return out
}

func (e *Engine) topTemplates(cs []*cand) []incident.TemplateRef {
	var out []incident.TemplateRef
	for _, c := range cs {
		if c.sa == nil {
			continue
		}
		keys := sortedTpl(c.sa.templates)
		sort.SliceStable(keys, func(i, j int) bool {
			a, b := c.sa.templates[keys[i]], c.sa.templates[keys[j]]
			if a.count != b.count {
				return a.count > b.count
			}
			return a.first < b.first
		})
		for i, k := range keys {
			if i == e.cfg.TopTemplates {
				break
			}
			t := c.sa.templates[k]
			out = append(out, incident.TemplateRef{Service: c.name, TemplateID: t.id, Template: t.text, Count: t.count})
		}
	}
	return out
}

func explanation(inc *openInc, cs []*cand, out *incident.Incident) string {
	type ev struct {
		t    int64
		name string
		sa   *svcAgg
	}
	var evs []ev
	for _, c := range cs {
		if c.sa == nil {
			continue
		}
		t := c.sa.onset
		if c.hasOnset {
			t = c.onsetAt
		}
		evs = append(evs, ev{t, c.name, c.sa})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].t != evs[j].t {
			return evs[i].t < evs[j].t
		}
		return evs[i].name < evs[j].name
	})
	var b strings.Builder
	b.WriteString("Timeline: ")
	for i, x := range evs {
		if i == 8 {
			fmt.Fprintf(&b, "; and %d more services", len(evs)-8)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		what := "first symptom"
		if x.sa.symptoms == 0 {
			what = "unusual lines only, first"
		}
		fmt.Fprintf(&b, "%s %s %s (%s, %s, %d records)", timeOf(x.t).Format("15:04:05"), x.name, what,
			dominantType(x.sa), x.sa.sev, x.sa.count)
	}
	fmt.Fprintf(&b, ". Root cause: %s (score %.2f", cs[0].name, cs[0].score)
	if len(cs) > 1 {
		fmt.Fprintf(&b, ", next %s %.2f", cs[1].name, cs[1].score)
	}
	b.WriteString(")")
	if len(out.PropagationPath) > 1 {
		fmt.Fprintf(&b, "; propagation %s", strings.Join(out.PropagationPath, " -> "))
	}
	b.WriteString(".")
	return b.String()
}

func templateKeys(inc *openInc) []string {
	var out []string
	for _, s := range serviceList(inc) {
		for _, k := range sortedTpl(inc.services[s].templates) {
			out = append(out, s+"/"+k)
		}
	}
	return out
}

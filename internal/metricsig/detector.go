// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricsig // import "github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

// Evidence is one piece of anomaly evidence of a service. It maps one to one onto rca.Anomaly:
//
//	rca.Anomaly{Service: e.Service, Time: e.Time, Score: e.Score, Type: e.Type, Line: e.Reason}
//
// (Severity is left to the engine, which derives it from Score.)
type Evidence struct {
	Service string
	Signal  Signal
	// Type is the anomaly type: Signal.Kind().Type() (metric_cpu, metric_memory, metric_restarts,
	// metric_latency or metric_errors).
	Type string
	// Time is the event time of the point: the earliest sample of its window (unix nanoseconds).
	Time int64
	// Score in (0, 1]: 0.5*z/Threshold for baseline signals (0.5 at the threshold, 1 at twice
	// it); RestartScore (+0.05 per further restart) for restarts.
	Score float64
	// Reason is a short human text, e.g. "cpu 3.2x its baseline (median 120m, now 384m, z 14)".
	Reason string
	// Value and Baseline are the window's value and the baseline median in the signal's unit
	// (Baseline 0 for restarts); Z is the robust z after the fleet-wide shift is discounted.
	Value, Baseline, Z float64
	// Pod and Container name the instance that carried the value (CPU, memory, restarts).
	Pod, Container string
}

// Stats are cumulative counters.
type Stats struct {
	Samples          uint64 // samples given to Add
	Invalid          uint64 // samples without a service, with an unknown signal, a bad time, value or count
	Late             uint64 // samples of windows already judged
	Future           uint64 // samples more than aheadWindows windows ahead of the watermark
	DroppedSeries    uint64 // samples of new series beyond MaxSeries
	DroppedInstances uint64 // samples of pods or containers beyond MaxInstances in one window
	SeriesEvicted    uint64 // idle series forgotten to make room
	Points           uint64 // windows judged or learned (one per series and window)
	LowVolume        uint64 // latency and error-rate points with fewer than MinRequests requests
	Off              uint64 // points off their own baseline after the fleet-wide shift (before persistence)
	FleetDiscounted  uint64 // points off their own baseline, but not once the fleet-wide shift is discounted
	// Anomalies counts the evidence emitted, by Kind (index 0 unused).
	Anomalies [numKinds]uint64
}

const noBucket = math.MinInt64

// aheadWindows is how many windows past the watermark's a sample may be (a service whose clock
// runs ahead, or that reports before the quorum); samples further ahead are dropped (Stats.Future).
const aheadWindows = 3

type seriesKey struct {
	service string
	sig     Signal
}

// instance accumulates the samples of one pod or container in one window.
type instance struct {
	pod, container string
	sum            float64
	n              int
}

// window accumulates the samples of one series in one Period-aligned window.
type window struct {
	b       int64 // window index (time / Period); noBucket when free
	t       int64 // earliest sample time
	sum     float64
	weight  float64
	count   float64 // known request counts
	unknown bool    // a sample without a request count
	inst    []instance
}

func (w *window) reset() {
	w.b = noBucket
	w.t, w.sum, w.weight, w.count, w.unknown = 0, 0, 0, 0, false
	for i := range w.inst {
		w.inst[i].sum, w.inst[i].n = 0, 0
	}
}

// instance returns the accumulator of a pod and container, reusing the slot (and its copy of
// the names) of an earlier window; nil when the window already holds max instances.
func (w *window) instance(pod, container string, limit int) *instance {
	free := -1
	for i := range w.inst {
		in := &w.inst[i]
		if in.pod == pod && in.container == container {
			return in
		}
		if in.n == 0 && free < 0 {
			free = i
		}
	}
	if free < 0 {
		if len(w.inst) >= limit {
			return nil
		}
		w.inst = append(w.inst, instance{})
		free = len(w.inst) - 1
	}
	in := &w.inst[free]
	in.pod, in.container = strings.Clone(pod), strings.Clone(container)
	return in
}

// hit is an off point waiting for persistence, or being emitted.
type hit struct {
	time           int64
	z              float64
	value, base    float64 // window value and baseline median, in the signal's unit
	fleet          float64 // fleet-wide factor discounted (1: none)
	pod, container string  // the worst instance (CPU and memory)
	count          float64 // requests (errors, latency), when known
	known          bool
}

type series struct {
	key      seriesKey
	info     *signalInfo
	win      []window
	open     int       // windows holding samples
	hist     []float64 // baseline points, oldest overwritten first
	sorted   []float64 // the same points, sorted
	hn, hp   int       // baseline points held, next position
	lastSeen int64
	run      int   // consecutive off points
	runAt    int64 // window of the last off point
	held     []hit
}

// push adds a point to the baseline, forgetting the oldest one when the window is full. The
// sorted copy is kept in step, so that the median, quantiles and MAD need no sorting.
func (s *series) push(tv float64, size int) {
	if s.hist == nil {
		s.hist = make([]float64, size)
		s.sorted = make([]float64, 0, size)
	}
	if s.hn == size {
		if i := search(s.sorted, s.hist[s.hp]); i < len(s.sorted) {
			s.sorted = slices.Delete(s.sorted, i, i+1)
		}
	} else {
		s.hn++
	}
	s.hist[s.hp] = tv
	s.hp = (s.hp + 1) % size
	s.sorted = slices.Insert(s.sorted, search(s.sorted, tv), tv)
}

type pending struct {
	b  int64
	ss []*series
}

// point is one series' window being judged.
type point struct {
	s          *series
	w          *window
	value      float64
	worst      *instance
	count      float64
	known      bool
	tv         float64 // value on the judging scale (log for CPU, memory, latency)
	med, scale float64 // baseline on the judging scale
	warm, skip bool
}

// Detector judges metric samples against each series' own history. Not goroutine-safe.
type Detector struct {
	cfg       Config
	period    int64
	lateness  int64
	ring      int
	maxGap    int64 // in windows
	clock     *eventtime.Clock
	series    map[seriesKey]*series
	last      *series
	pend      []pending // windows with samples, ascending
	free      [][]*series
	closed    int64 // last judged window (noBucket before any sample)
	lastSweep int64
	stats     Stats
	fleet     []float64
	pts       []point
}

// New returns a detector, or an error for an invalid config.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := int64(cfg.Period)
	ring := int((int64(cfg.Lateness)+p-1)/p) + 1 + aheadWindows
	return &Detector{
		cfg:       cfg,
		period:    p,
		lateness:  int64(cfg.Lateness),
		ring:      ring,
		maxGap:    int64(cfg.MaxGap) / p,
		clock:     eventtime.New(eventtime.Config{Quorum: cfg.Quorum, MaxSources: cfg.MaxSeries}),
		series:    make(map[seriesKey]*series),
		closed:    noBucket,
		lastSweep: noBucket,
	}, nil
}

// Stats returns the counters.
func (d *Detector) Stats() Stats { return d.stats }

// Series returns the number of (service, signal) series held.
func (d *Detector) Series() int { return len(d.series) }

// Watermark returns the detector's event time (unix nanoseconds; 0 before any sample).
func (d *Detector) Watermark() int64 { return d.clock.Now() }

// Add feeds samples in order and returns the evidence of the windows the watermark has passed
// meanwhile (nil when none), ordered by window, then by time, service and type. The result is the
// same however a stream of samples is split into calls.
func (d *Detector) Add(samples []Sample) []Evidence {
	var out []Evidence
	for i := range samples {
		out = d.add(&samples[i], out)
	}
	return out
}

// Advance raises the watermark to now (unix nanoseconds; for example when the input has been idle,
// or at the end of a replay) and returns the evidence of the windows it passes.
func (d *Detector) Advance(now int64) []Evidence {
	d.clock.AdvanceTo(now)
	return d.closeWindows(nil)
}

func (d *Detector) add(s *Sample, out []Evidence) []Evidence {
	d.stats.Samples++
	if s.Service == "" || !s.Signal.Valid() || s.Time < eventtime.MinPlausible ||
		!(s.Value >= 0) || math.IsInf(s.Value, 0) || !(s.Count >= 0) || math.IsInf(s.Count, 0) {
		d.stats.Invalid++
		return out
	}
	d.clock.Observe(s.Service, s.Time)
	out = d.closeWindows(out)
	b := eventtime.FloorDiv(s.Time, d.period)
	if b <= d.closed {
		d.stats.Late++
		return out
	}
	if b > d.closed+int64(d.ring) {
		d.stats.Future++
		return out
	}
	sr := d.lookup(s)
	if sr == nil {
		d.stats.DroppedSeries++
		return out
	}
	sr.lastSeen = max(sr.lastSeen, s.Time)
	w := &sr.win[eventtime.Mod(b, int64(d.ring))]
	if w.b != b {
		w.b, w.t = b, s.Time
		sr.open++
		d.enqueue(b, sr)
	}
	w.t = min(w.t, s.Time)
	if sr.info.instances {
		in := w.instance(s.Pod, s.Container, d.cfg.MaxInstances)
		if in == nil {
			d.stats.DroppedInstances++
			return out
		}
		in.sum += s.Value
		in.n++
		return out
	}
	wt := s.Count
	if wt <= 0 {
		wt = 1
		w.unknown = true
	}
	w.sum += s.Value * wt
	w.weight += wt
	w.count += s.Count
	return out
}

// lookup returns the series of a sample, creating it; nil when MaxSeries is reached.
func (d *Detector) lookup(s *Sample) *series {
	if l := d.last; l != nil && l.key.sig == s.Signal && l.key.service == s.Service {
		return l
	}
	k := seriesKey{service: s.Service, sig: s.Signal}
	if sr := d.series[k]; sr != nil {
		d.last = sr
		return sr
	}
	if len(d.series) >= d.cfg.MaxSeries {
		d.sweep()
		if len(d.series) >= d.cfg.MaxSeries {
			return nil
		}
	}
	k.service = strings.Clone(k.service)
	sr := &series{key: k, info: &signals[k.sig], win: make([]window, d.ring)}
	for i := range sr.win {
		sr.win[i].b = noBucket
	}
	d.series[k] = sr
	d.last = sr
	return sr
}

// sweep evicts series without open windows that have been idle for StaleAfter; at most once a
// period of event time.
func (d *Detector) sweep() {
	wm := d.clock.Now()
	if d.lastSweep != noBucket && wm-d.lastSweep < d.period {
		return
	}
	d.lastSweep = wm
	cut := wm - int64(d.cfg.StaleAfter)
	for k, sr := range d.series {
		if sr.open == 0 && sr.lastSeen < cut {
			delete(d.series, k)
			d.stats.SeriesEvicted++
		}
	}
	d.last = nil
}

func (d *Detector) enqueue(b int64, sr *series) {
	i := len(d.pend)
	for i > 0 && d.pend[i-1].b > b {
		i--
	}
	if i > 0 && d.pend[i-1].b == b {
		d.pend[i-1].ss = append(d.pend[i-1].ss, sr)
		return
	}
	var ss []*series
	if n := len(d.free); n > 0 {
		ss = d.free[n-1]
		d.free = d.free[:n-1]
	}
	d.pend = slices.Insert(d.pend, i, pending{b: b, ss: append(ss, sr)})
}

// closeWindows judges the windows that ended at least Lateness before the watermark.
func (d *Detector) closeWindows(out []Evidence) []Evidence {
	wm := d.clock.Now()
	if wm <= 0 {
		return out
	}
	target := eventtime.FloorDiv(wm-d.lateness, d.period) - 1
	if d.closed == noBucket {
		d.closed = target
		return out
	}
	if target <= d.closed {
		return out
	}
	for len(d.pend) > 0 && d.pend[0].b <= target {
		p := d.pend[0]
		copy(d.pend, d.pend[1:])
		d.pend[len(d.pend)-1] = pending{}
		d.pend = d.pend[:len(d.pend)-1]
		out = d.judgeWindow(p.b, p.ss, out)
		clear(p.ss)
		d.free = append(d.free, p.ss[:0])
	}
	d.closed = target
	return out
}

// fleetKinds are the kinds whose fleet-wide shifts are load rather than faults.
var fleetKinds = [...]Kind{KindCPU, KindLatency}

func (d *Detector) judgeWindow(b int64, ss []*series, out []Evidence) []Evidence {
	pts := d.pts[:0]
	for _, sr := range ss {
		w := &sr.win[eventtime.Mod(b, int64(d.ring))]
		if w.b != b {
			continue
		}
		pts = append(pts, point{s: sr, w: w})
		d.measure(&pts[len(pts)-1])
	}
	var shift [numKinds]float64
	if d.cfg.FleetMinSeries > 0 {
		for _, k := range fleetKinds {
			shift[k] = d.fleetShift(pts, k)
		}
	}
	mark := len(out)
	for i := range pts {
		p := &pts[i]
		out = d.judge(p, b, shift[p.s.info.kind], out)
		p.w.reset()
		p.s.open--
	}
	slices.SortStableFunc(out[mark:], func(a, b Evidence) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), strings.Compare(a.Service, b.Service),
			strings.Compare(a.Type, b.Type), strings.Compare(a.Reason, b.Reason))
	})
	clear(pts)
	d.pts = pts[:0]
	return out
}

// measure computes a window's value and the series' baseline.
func (d *Detector) measure(p *point) {
	sr, w, info := p.s, p.w, p.s.info
	switch {
	case info.kind == KindRestarts:
		for i := range w.inst {
			p.value += w.inst[i].sum
			if w.inst[i].n > 0 && (p.worst == nil || w.inst[i].sum > p.worst.sum) {
				p.worst = &w.inst[i]
			}
		}
		return
	case info.instances:
		for i := range w.inst {
			in := &w.inst[i]
			if in.n == 0 {
				continue
			}
			if v := in.sum / float64(in.n); p.worst == nil || v > p.value {
				p.value, p.worst = v, in
			}
		}
	default:
		if w.weight > 0 {
			p.value = w.sum / w.weight
		}
		p.count, p.known = w.count, !w.unknown
		if p.known && p.count < d.cfg.MinRequests {
			p.skip = true
			d.stats.LowVolume++
			return
		}
	}
	if info.kind == KindErrors {
		p.value = min(p.value, 1)
	}
	p.tv = judgingScale(info.unit, p.value)
	if sr.hn < d.cfg.Warmup {
		return
	}
	p.warm = true
	xs := sr.sorted
	p.med = median(xs)
	upper := (quantile(xs, 0.9) - p.med) / 1.2816
	p.scale = max(1.4826*mad(xs, p.med), upper, d.minScale(info.unit, p))
}

// judgingScale maps a value to the scale it is judged on: log(v + eps) for CPU, memory and
// latency, the value itself for error rates.
func judgingScale(u unit, v float64) float64 {
	if u.logSpace() {
		return math.Log(v + u.eps())
	}
	return v
}

// unscale is the inverse of judgingScale.
func unscale(u unit, tv float64) float64 {
	if u.logSpace() {
		return max(math.Exp(tv)-u.eps(), 0)
	}
	return tv
}

// minScale is the least baseline scale: series that hardly vary (memory, a steady error rate)
// must not turn small moves into large z. On the log scale it is 0.05 (noise of about 5 %), and
// 0.15 for latency: a p95 estimated from the histogram of one window's requests has a sampling
// error of that order, and coarse buckets make it move in steps.
func (d *Detector) minScale(u unit, p *point) float64 {
	if u == unitSeconds {
		return 0.15
	}
	if u.logSpace() {
		return 0.05
	}
	s := 0.01
	if p.known && p.count > 0 {
		q := min(max(p.med, 0.01), 0.99)
		s = max(s, math.Sqrt(q*(1-q)/p.count))
	}
	return s
}

// fleetShift returns the rise (on the log scale) that more than half of the warm series of a kind
// share in this window: the lower median of their distances from their own baselines. It is 0
// unless at least FleetMinSeries series are warm and more than half of them are at least
// Threshold/2 robust z above their baselines (a shared rise, not noise).
func (d *Detector) fleetShift(pts []point, k Kind) float64 {
	rs := d.fleet[:0]
	n := 0
	for i := range pts {
		p := &pts[i]
		if p.warm && !p.skip && p.s.info.kind == k && p.s.info.unit.logSpace() {
			rs = append(rs, p.tv-p.med)
			n++
		}
	}
	for i := range pts {
		p := &pts[i]
		if p.warm && !p.skip && p.s.info.kind == k && p.s.info.unit.logSpace() {
			rs = append(rs, (p.tv-p.med)/p.scale)
		}
	}
	d.fleet = rs[:0]
	if n < d.cfg.FleetMinSeries {
		return 0
	}
	shifts, zs := rs[:n], rs[n:]
	slices.Sort(zs)
	if zs[(n-1)/2] < d.cfg.Threshold/2 {
		return 0
	}
	slices.Sort(shifts)
	return max(shifts[(n-1)/2], 0)
}

func (d *Detector) minRatio(k Kind) float64 {
	switch k {
	case KindCPU:
		return d.cfg.CPUMinRatio
	case KindMemory:
		return d.cfg.MemoryMinRatio
	case KindLatency:
		return d.cfg.LatencyMinRatio
	}
	return 1
}

// off reports whether a point with judging-scale value tv is off its baseline, and its robust z.
func (d *Detector) off(p *point, tv float64) (bool, float64) {
	z := (tv - p.med) / p.scale
	if !(z >= d.cfg.Threshold) {
		return false, z
	}
	info := p.s.info
	if info.unit.logSpace() {
		if math.Exp(tv-p.med) < d.minRatio(info.kind) {
			return false, z
		}
		if unscale(info.unit, tv)-unscale(info.unit, p.med) < info.unit.minIncrease() {
			return false, z
		}
		return true, z
	}
	if tv-p.med < d.cfg.ErrorMinIncrease {
		return false, z
	}
	if p.known && tv*p.count < d.cfg.MinErrors {
		return false, z
	}
	return true, z
}

// judge decides one point, updates the series' run and baseline and appends evidence to out.
func (d *Detector) judge(p *point, b int64, shift float64, out []Evidence) []Evidence {
	sr := p.s
	if p.skip {
		return out // too few requests: neither judged nor learned, the run goes on
	}
	d.stats.Points++
	if sr.info.kind == KindRestarts {
		if p.value > 0 {
			ev := hit{time: p.w.t, value: p.value, fleet: 1}
			if p.worst != nil {
				ev.pod, ev.container = p.worst.pod, p.worst.container
			}
			out = d.emit(sr, &ev, out)
		}
		return out
	}
	if !p.warm {
		sr.push(p.tv, d.cfg.Window)
		sr.run, sr.held = 0, sr.held[:0]
		return out
	}
	rawOff, _ := d.off(p, p.tv)
	isOff, z := d.off(p, p.tv-shift)
	if !isOff {
		if rawOff {
			d.stats.FleetDiscounted++
		}
		sr.push(p.tv, d.cfg.Window)
		sr.run, sr.held = 0, sr.held[:0]
		return out
	}
	d.stats.Off++
	ev := hit{time: p.w.t, z: z, value: p.value, base: unscale(sr.info.unit, p.med),
		fleet: math.Exp(shift), count: p.count, known: p.known}
	if p.worst != nil {
		ev.pod, ev.container = p.worst.pod, p.worst.container
	}
	if sr.run == 0 || b-sr.runAt > d.maxGap {
		sr.run, sr.held = 0, sr.held[:0]
	}
	sr.run++
	sr.runAt = b
	switch {
	case sr.run < d.cfg.Persistence:
		sr.held = append(sr.held, ev)
	case sr.run == d.cfg.Persistence:
		for i := range sr.held {
			out = d.emit(sr, &sr.held[i], out)
		}
		sr.held = sr.held[:0]
		out = d.emit(sr, &ev, out)
	default:
		out = d.emit(sr, &ev, out)
	}
	if sr.run > d.cfg.MaxHold {
		sr.push(p.tv, d.cfg.Window) // a lasting change: learn it
	}
	return out
}

func (d *Detector) emit(sr *series, ev *hit, out []Evidence) []Evidence {
	k := sr.info.kind
	score := 0.0
	if k == KindRestarts {
		score = min(d.cfg.RestartScore+0.05*(ev.value-1), 1)
	} else {
		score = min(max(0.5*ev.z/d.cfg.Threshold, 0), 1)
	}
	d.stats.Anomalies[k]++
	return append(out, Evidence{
		Service:   sr.key.service,
		Signal:    sr.key.sig,
		Type:      k.Type(),
		Time:      ev.time,
		Score:     score,
		Reason:    reason(sr.info, ev),
		Value:     ev.value,
		Baseline:  ev.base,
		Z:         ev.z,
		Pod:       ev.pod,
		Container: ev.container,
	})
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// mad returns the median absolute deviation of sorted values from their median med in
// O(log n): the deviations below med (read downwards) and above it (read upwards) are two sorted
// sequences, and the median of their union is found by binary search.
func mad(sorted []float64, med float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	split := search(sorted, med)
	below := func(t int) float64 { return med - sorted[split-1-t] }
	above := func(t int) float64 { return sorted[split+t] - med }
	na, nb := split, n-split
	// kth returns the k-th smallest (1-based) deviation.
	kth := func(k int) float64 {
		lo, hi := max(0, k-nb), min(k, na)
		for lo < hi {
			a := int(uint(lo+hi) >> 1)
			if b := k - a; a < na && b > 0 && above(b-1) > below(a) {
				lo = a + 1
			} else {
				hi = a
			}
		}
		v := math.Inf(-1)
		if lo > 0 {
			v = below(lo - 1)
		}
		if b := k - lo; b > 0 {
			v = max(v, above(b-1))
		}
		return v
	}
	if n%2 == 1 {
		return kth(n/2 + 1)
	}
	return (kth(n/2) + kth(n/2+1)) / 2
}

// search returns the first index of sorted whose value is at least v.
func search(sorted []float64, v float64) int {
	lo, hi := 0, len(sorted)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sorted[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// quantile returns the q-quantile of sorted values (linear interpolation).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	x := q * float64(len(sorted)-1)
	i := int(x)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (sorted[i+1]-sorted[i])*(x-float64(i))
}

package detect

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

// advanceRing moves a bucket ring whose newest bucket is *head forward to
// bucket bi, zeroing the buckets in between. It reports false when bi is
// older than the ring covers.
func advanceRing(ring []uint32, head *int64, bi int64) bool {
	n := int64(len(ring))
	switch {
	case *head == noBucket:
		clear(ring)
		*head = bi
	case bi > *head:
		gap := bi - *head
		if gap >= n {
			clear(ring)
		} else {
			for i := int64(0); i < gap; i++ {
				ring[eventtime.Mod(bi-i, n)] = 0
			}
		}
		*head = bi
	case *head-bi >= n:
		return false
	}
	return true
}

func incSat(ring []uint32, i int64) uint32 {
	v := ring[i]
	if v < math.MaxUint32 {
		v++
		ring[i] = v
	}
	return v
}

// baseline computes the median, the scaled MAD (1.4826*MAD), the sum and
// the maximum of the h buckets before bucket bi.
func (d *Detector) baseline(ring []uint32, bi int64, h int) (med, mad, sum, hi float64) {
	n := int64(len(ring))
	xs := d.scratch[:h]
	for i := 0; i < h; i++ {
		xs[i] = float64(ring[eventtime.Mod(bi-1-int64(i), n)])
		sum += xs[i]
	}
	slices.Sort(xs)
	med = median(xs)
	hi = xs[len(xs)-1]
	for i := range xs {
		xs[i] = math.Abs(xs[i] - med)
	}
	slices.Sort(xs)
	return med, 1.4826 * median(xs), sum, hi
}

// svcBaseline returns the service's record count in the rate.history
// buckets before bucket bi.
func (d *Detector) svcBaseline(bi int64) float64 {
	if d.svcBaseAt != bi {
		n := int64(len(d.svcRing))
		var s uint64
		for i := int64(1); i <= int64(d.cfg.Rate.History); i++ {
			s += uint64(d.svcRing[eventtime.Mod(bi-i, n)])
		}
		d.svcBaseSum = s
		d.svcBaseAt = bi
	}
	return float64(d.svcBaseSum)
}

// countService counts an on-time record in the service's rate bucket.
func (d *Detector) countService(t int64) {
	bi := eventtime.FloorDiv(t, d.rateBucket)
	if d.svcRing == nil {
		d.svcRing = make([]uint32, d.rateRing)
		d.svcHead = noBucket
	}
	if advanceRing(d.svcRing, &d.svcHead, bi) {
		incSat(d.svcRing, eventtime.Mod(bi, int64(len(d.svcRing))))
	}
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

// observeRate counts the record in its template's event-time bucket and
// judges spikes (the record whose count first crosses the threshold in a
// bucket) and drops (the first record of a template in a new bucket, when
// the previous bucket was far below the baseline).
func (d *Detector) observeRate(p *tpl, t int64, boost float64, c *candidate) {
	cfg := &d.cfg.Rate
	bi := eventtime.FloorDiv(t, d.rateBucket)
	if p.ring == nil {
		p.ring = make([]uint32, d.rateRing)
		p.head = noBucket
		p.first = bi
		p.baseAt = noBucket
	}
	prevHead := p.head
	if !advanceRing(p.ring, &p.head, bi) {
		return
	}
	if bi < p.first {
		p.first = bi
	}
	n := int64(len(p.ring))
	cnt := float64(incSat(p.ring, eventtime.Mod(bi, n)))
	h := cfg.History

	// Drop: judged once per bucket, on the first record of a later bucket.
	if cfg.DropEnabled && prevHead != noBucket && bi > prevHead {
		pb := bi - 1
		if pb-p.first >= int64(cfg.MinHistory) && p.dropAlerted != pb {
			med, mad, _, _ := d.baseline(p.ring, pb, h)
			prev := float64(p.ring[eventtime.Mod(pb, n)])
			// For drops the Poisson term is left out of the scale: a
			// fall to a fifth of a rate of at least 10 per bucket is
			// already very unlikely under Poisson noise; only the
			// template's own variability (MAD) widens the band.
			if med >= cfg.DropMinBaseline && prev <= med*cfg.DropFraction && prev <= med-cfg.Threshold*math.Max(mad, 1) {
				p.dropAlerted = pb
				lim := med * cfg.DropFraction
				score := 0.5
				if lim > 0 {
					score += 0.2 * (1 - prev/lim)
				}
				c.offer(KindRateDrop, score, prev, med, 0)
			}
		}
	}

	if !cfg.SpikeEnabled || bi-p.first < int64(cfg.MinHistory) || p.spikeAlerted == bi {
		return
	}
	if p.baseAt != bi {
		med, mad, sum, hi := d.baseline(p.ring, bi, h)
		p.baseMed = med
		p.baseScale = math.Max(mad, math.Max(math.Sqrt(med), 1))
		p.baseSum = sum
		p.baseMax = hi
		p.baseAt = bi
	}
	med := p.baseMed
	if med < cfg.SpikeMinBaseline {
		return
	}
	// A spike must be a new high for the history window, well above the
	// median in robust and in relative terms.
	thr := max(med+cfg.Threshold*p.baseScale, cfg.SpikeFactor*med, p.baseMax+1)
	if cnt < thr {
		return
	}
	// Is the increase explained by the rest of the service growing too
	// (more traffic, a new job)? Expected count of this template given
	// the other templates' volume in this bucket and the template's
	// baseline share; a spike must exceed it by spike_factor as well.
	if d.svcRing != nil {
		if others := d.svcBaseline(bi) - p.baseSum; others > 0 {
			cur := float64(d.svcRing[eventtime.Mod(bi, int64(len(d.svcRing)))]) - cnt
			if expected := p.baseSum / others * cur; cnt < cfg.SpikeFactor*expected {
				return
			}
		}
	}
	p.spikeAlerted = bi
	score := 0.5 + 0.1*math.Log2(cnt/math.Max(med, 1)/cfg.SpikeFactor)
	c.offer(KindRateSpike, clamp(score, 0.5, 0.9)+boost, cnt, med, thr)
}

// observeErrorBurst counts an error record in its sub-bucket and judges the
// counts of the short and the long window, each against the Poisson
// expectation from the baseline period before that window.
func (d *Detector) observeErrorBurst(t int64, c *candidate) {
	cfg := &d.cfg.ErrorBurst
	bi := eventtime.FloorDiv(t, d.ebSub)
	if d.ebRing == nil {
		d.ebRing = make([]uint32, d.ebRingLen())
		d.ebHead = noBucket
		d.ebBaseAt = noBucket
	}
	if !advanceRing(d.ebRing, &d.ebHead, bi) || d.ebHead-bi >= d.ebOpen {
		return
	}
	n := int64(len(d.ebRing))
	incSat(d.ebRing, eventtime.Mod(bi, n))

	var kShort, kLong uint64
	span := max(d.ebWin, d.ebLong)
	for i := int64(0); i < span; i++ {
		v := uint64(d.ebRing[eventtime.Mod(bi-i, n)])
		if i < d.ebWin {
			kShort += v
		}
		kLong += v
	}
	if kLong < uint64(cfg.MinCount) {
		return
	}
	if d.ebBaseAt != bi {
		d.ebBaseShort, d.ebCovShort, d.ebPhiShort = d.ebBaseline(bi - d.ebWin)
		d.ebBaseLong, d.ebCovLong, d.ebPhiLong = d.ebBaseline(bi - span)
		d.ebBaseAt = bi
	}
	best := candidate{}
	judge := func(k uint64, w int64, base uint64, covered int64, phi float64, long bool) {
		if covered < w || k < uint64(cfg.MinCount) {
			return // less than one window of history
		}
		// The window's exposure: its length, times how much busier the service was in it
		// (errors that follow the traffic rise with it; see loadFactor).
		exp := float64(w)
		if !long {
			exp *= d.loadFactor(t, bi-w+1, k)
		}
		// Expected errors in the window at the baseline rate (for the
		// reason text and the direction; burstPValue judges significance).
		lambda := float64(base) / float64(covered) * exp
		if float64(k) <= lambda {
			return
		}
		pv := burstPValue(float64(k)/phi, float64(base)/phi, exp, float64(covered))
		// Until the baseline is long enough to estimate how clustered the errors are
		// (dispMinBuckets sub-buckets), they are taken as random, and random they may not be:
		// the test asks ten times more then.
		maxP := cfg.MaxPValue
		if covered < dispMinBuckets {
			maxP /= 10
		}
		if pv > maxP {
			return
		}
		score := clamp(0.55+0.05*math.Log10(cfg.MaxPValue/math.Max(pv, 1e-300)), 0.55, 0.95)
		if score > best.score {
			best = candidate{kind: KindErrorBurst, score: score, a: float64(k), b: lambda, c: pv, long: long}
		}
	}
	judge(kShort, d.ebWin, d.ebBaseShort, d.ebCovShort, d.ebPhiShort, false)
	if d.ebLong > 0 {
		judge(kLong, d.ebLong, d.ebBaseLong, d.ebCovLong, d.ebPhiLong, true)
	}
	if best.kind != KindNone && (best.score > c.score || (best.score == c.score && c.kind > KindErrorBurst)) {
		*c = best
	}
}

// ebBaseline sums the error counts of the error_burst.baseline sub-buckets
// ending at bucket end, limited to the time the service has been observed;
// it returns the sum and the number of buckets covered.
func (d *Detector) ebBaseline(end int64) (uint64, int64, float64) {
	covered := end - eventtime.FloorDiv(d.firstTime, d.ebSub) + 1
	covered = min(covered, d.ebBase)
	if covered <= 0 {
		return 0, 0, 1
	}
	n := int64(len(d.ebRing))
	var s, sq uint64
	// The largest counts (one in dispTrim of the sub-buckets, at least one) are left out of
	// the dispersion: an earlier fault's storm is not the errors' usual variation.
	var top [maxDispTrim]uint64
	nTop := int(min(max(1, covered/dispTrim), maxDispTrim))
	for i := int64(0); i < covered; i++ {
		v := uint64(d.ebRing[eventtime.Mod(end-i, n)])
		s += v
		if v > top[nTop-1] {
			j := nTop - 1
			v, top[j] = top[j], v
			for ; j > 0 && top[j] > top[j-1]; j-- {
				top[j], top[j-1] = top[j-1], top[j]
			}
		}
		sq += v * v
	}
	var trimmed uint64
	for _, v := range top[:nTop] {
		trimmed += v
	}
	return s, covered, dispersion(s-trimmed, sq, covered-int64(nTop))
}

// dispMinBuckets is how many baseline sub-buckets estimate the errors' dispersion; one in
// dispTrim of them (at most maxDispTrim) with the most errors are left out of it.
const (
	dispMinBuckets = 30
	dispTrim       = 40
	maxDispTrim    = 40
)

// dispersion is the variance-to-mean ratio of the per-sub-bucket error counts (sum s, sum of
// squares sq over m sub-buckets), at least 1: 1 for errors as random as a Poisson process,
// more where they cluster (stack-trace bursts, errors that follow bursts of requests). The
// burst test divides its counts by it (a quasi-Poisson test), so clustered background errors
// need a larger rise. 1 with fewer than dispMinBuckets sub-buckets or no errors.
func dispersion(s, sq uint64, m int64) float64 {
	if m < dispMinBuckets || s == 0 {
		return 1
	}
	mean := float64(s) / float64(m)
	v := (float64(sq) - float64(m)*mean*mean) / float64(m-1)
	return max(1, v/mean)
}

// burstPValue is the p-value of k errors in a window of w sub-buckets after base errors in the
// covered sub-buckets before it, under the hypothesis that the error rate did not change. The
// baseline rate is itself an estimate, so this is the conditional test for two Poisson counts:
// given k+base errors in all, the window's share is Binomial(k+base, w/(w+covered)), and the
// p-value is its upper tail P(X >= k) = I_q(k, base+1) (regularised incomplete beta). With a
// short history (just after warm-up) a handful of errors is not significant; with a long one the
// test approaches a Poisson test against the baseline rate.
func burstPValue(k, base, w, covered float64) float64 {
	if k <= 0 {
		return 1
	}
	q := w / (w + covered)
	return mathext.RegIncBeta(k, base+1, q)
}

// loadMinBuckets is how many rate buckets before an error_burst window the service's record
// counts must hold for its load to be compared (loadFactor).
const loadMinBuckets = 10

// loadFactor is how many times busier the service was, in records per unit of event time (the
// window's k errors not counted), from the start of sub-bucket from (the short window) to t
// than in the rate buckets before it that its record counts still hold (rate.history); 1
// when it was not busier or that is not known (rate spikes off, less than loadMinBuckets of
// history). Errors that follow the traffic (timeouts, disconnected clients) rise with a burst
// of requests; the window's expected errors rise with it, so a burst of load is not a burst of
// errors, while errors that rise against the traffic are judged as before.
func (d *Detector) loadFactor(t, from int64, k uint64) float64 {
	if d.svcRing == nil || d.rateBucket <= 0 {
		return 1
	}
	rb := d.rateBucket
	start := from * d.ebSub
	cur, ws := eventtime.FloorDiv(t, rb), eventtime.FloorDiv(start, rb)
	lo := max(cur-int64(d.cfg.Rate.History)+1, eventtime.FloorDiv(d.firstTime, rb))
	if ws-lo < loadMinBuckets || cur < ws || cur != d.svcHead {
		return 1
	}
	n := int64(len(d.svcRing))
	var win, base uint64
	for b := lo; b <= cur; b++ {
		v := uint64(d.svcRing[eventtime.Mod(b, n)])
		if b < ws {
			base += v
		} else {
			win += v
		}
	}
	// The window's own errors are taken out (a storm of them is no load); the baseline's are
	// few, and leaving them in only brings the factor closer to 1.
	okWin := float64(win) - float64(k)
	okBase := float64(base)
	durWin := float64(t - ws*rb + 1)
	durBase := float64((ws - lo) * rb)
	if okWin <= 0 || okBase <= 0 {
		return 1
	}
	return max(1, (okWin/durWin)/(okBase/durBase))
}

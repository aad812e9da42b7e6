package detect

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
)

// Event is one record as seen by the detectors.
type Event struct {
	// Time is the event time in unix nanoseconds; 0 means unknown and the
	// service's watermark is used instead (counted in Stats.ZeroTime).
	Time int64
	// TemplateKey is the stable identity of the record's template ("" when
	// the miner produced none).
	TemplateKey string
	// NewTemplate is true when the miner created the template for this
	// record.
	NewTemplate bool
	// SeverityNumber is the OpenTelemetry severity number (0 = unknown).
	SeverityNumber int32
	// SessionKey groups records into sessions ("" = no session).
	SessionKey string
}

// Stats are cumulative counters of one Detector (or a sum of several).
type Stats struct {
	Lines           uint64
	Late            uint64 // records older than watermark - allowed_lateness
	ZeroTime        uint64 // records without event time
	WatermarkResets uint64

	TemplatesTracked int // gauge
	TemplatesEvicted uint64

	SessionsStarted        uint64
	SessionsExpired        uint64
	SessionsEvicted        uint64
	SessionsLive           int // gauge
	SessionTemplatesCapped uint64

	// Anomalies counts detected records by Kind (index 0 unused).
	Anomalies [NumKinds]uint64
}

// Add adds o's counters and gauges to s.
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Late += o.Late
	s.ZeroTime += o.ZeroTime
	s.WatermarkResets += o.WatermarkResets
	s.TemplatesTracked += o.TemplatesTracked
	s.TemplatesEvicted += o.TemplatesEvicted
	s.SessionsStarted += o.SessionsStarted
	s.SessionsExpired += o.SessionsExpired
	s.SessionsEvicted += o.SessionsEvicted
	s.SessionsLive += o.SessionsLive
	s.SessionTemplatesCapped += o.SessionTemplatesCapped
	for i := range s.Anomalies {
		s.Anomalies[i] += o.Anomalies[i]
	}
}

// noBucket marks an unset bucket index.
const noBucket = math.MinInt64

// tpl is the per-template state.
type tpl struct {
	key    string
	serial uint64
	prev   *tpl // LRU, towards most recently seen
	next   *tpl // LRU, towards least recently seen

	// rate state
	ring         []uint32 // bucket counts indexed by bucket mod len(ring)
	first        int64    // first bucket with data
	head         int64    // latest bucket with data
	baseAt       int64    // bucket whose baseline is cached
	baseMed      float64
	baseScale    float64
	baseSum      float64
	baseMax      float64
	spikeAlerted int64
	dropAlerted  int64

	// sessions that contained this template
	sessions uint64

	// regularity: distinct event-time buckets (rate.bucket long) the template appeared in
	activeBuckets uint32
	lastActive    int64

	// records of this template since it was first tracked, and the
	// service line number at that time
	count     int64
	firstLine int64
}

// Detector holds the detector state of one service. Not goroutine-safe.
type Detector struct {
	cfg Config

	lines      int64
	haveTime   bool
	warm       bool
	firstTime  int64
	watermark  int64
	consecLate int

	stats Stats

	// templates
	tpls       map[string]*tpl
	tplHead    *tpl
	tplTail    *tpl
	nextSerial uint64

	// rate
	rateBucket int64
	rateRing   int
	scratch    []float64
	svcRing    []uint32 // all on-time records per rate bucket
	svcHead    int64
	svcBaseAt  int64
	svcBaseSum uint64

	// error burst
	ebSub       int64
	ebWin       int64
	ebLong      int64 // 0 = disabled
	ebBase      int64
	ebRing      []uint32
	ebHead      int64
	ebBaseAt    int64
	ebBaseShort uint64
	ebCovShort  int64
	ebBaseLong  uint64
	ebCovLong   int64
	ebPhiShort  float64
	ebPhiLong   float64
	ebOpen      int64

	// sessions
	sessions        map[string]*session
	sesHead         *session
	sesTail         *session
	sessionsStarted int64
}

// New returns a Detector for one service.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg}
	d.init()
	return d, nil
}

func (d *Detector) init() {
	cfg := &d.cfg
	d.tpls = make(map[string]*tpl)
	d.sessions = make(map[string]*session)
	d.rateBucket = int64(cfg.Rate.Bucket)
	d.rateRing = cfg.Rate.History + int(cfg.AllowedLateness/cfg.Rate.Bucket) + 2
	d.scratch = make([]float64, cfg.Rate.History)
	d.svcHead = noBucket
	d.svcBaseAt = noBucket
	d.ebSub = int64(cfg.ErrorBurst.Window / 10)
	if d.ebSub < 1 {
		d.ebSub = 1
	}
	d.ebWin = int64(cfg.ErrorBurst.Window) / d.ebSub
	if d.ebWin < 1 {
		d.ebWin = 1
	}
	d.ebLong = int64(cfg.ErrorBurst.LongWindow) / d.ebSub
	d.ebBase = int64(cfg.ErrorBurst.Baseline) / d.ebSub
	if d.ebBase < max(d.ebWin, d.ebLong) {
		d.ebBase = max(d.ebWin, d.ebLong)
	}
	d.ebOpen = int64(cfg.AllowedLateness)/d.ebSub + 2
	if d.ebOpen > 1000 {
		d.ebOpen = 1000
	}
	d.ebRing = nil // allocated on the first error record
	d.ebHead = noBucket
	d.ebBaseAt = noBucket
}

func (d *Detector) ebRingLen() int64 {
	return max(d.ebWin, d.ebLong) + d.ebBase + d.ebOpen
}

// Stats returns the detector's counters.
func (d *Detector) Stats() Stats {
	s := d.stats
	s.TemplatesTracked = len(d.tpls)
	s.SessionsLive = len(d.sessions)
	return s
}

// Watermark returns the largest event time seen (0 before any).
func (d *Detector) Watermark() int64 { return d.watermark }

// Observe judges one record and updates the state. Reason strings are
// built only for detected records.
func (d *Detector) Observe(ev *Event) Verdict {
	cfg := &d.cfg
	d.stats.Lines++
	d.lines++

	t := ev.Time
	if t == 0 {
		d.stats.ZeroTime++
		t = d.watermark
	}
	onTime := true
	switch {
	case !d.haveTime:
		// Before the first record with a time, zero-time records sit at
		// time 0 and do not start the event-time clock.
		if ev.Time != 0 {
			d.haveTime = true
			d.firstTime = t
			d.watermark = t
		}
	case t > d.watermark:
		d.watermark = t
		d.consecLate = 0
	case subSat(d.watermark, t) > int64(cfg.AllowedLateness):
		d.stats.Late++
		d.consecLate++
		onTime = false
		if d.consecLate >= cfg.WatermarkResetAfter {
			d.resetTime(t)
			onTime = true
		}
	default:
		d.consecLate = 0
	}
	if onTime && d.haveTime && t < d.firstTime {
		d.firstTime = t
	}

	var tp *tpl
	if ev.TemplateKey != "" {
		tp = d.touchTemplate(ev.TemplateKey)
		if tp.count < math.MaxInt64 {
			tp.count++
		}
		if d.haveTime && cfg.Rate.Bucket > 0 {
			if b := eventtime.FloorDiv(t, int64(cfg.Rate.Bucket)); tp.activeBuckets == 0 || b != tp.lastActive {
				tp.lastActive = b
				if tp.activeBuckets < math.MaxUint32 {
					tp.activeBuckets++
				}
			}
		}
	}

	var c candidate
	boost := severityBoost(ev.SeverityNumber)
	// A service that never carries event times warms up by lines only.
	// Once warm, a service stays warm (also across a watermark reset).
	if !d.warm {
		d.warm = d.lines-1 >= cfg.Warmup.Lines && (!d.haveTime || subSat(d.watermark, d.firstTime) >= int64(cfg.Warmup.Duration))
	}
	warm := d.warm

	if cfg.NewTemplate.Enabled && warm && ev.NewTemplate && tp != nil {
		c.offer(KindNewTemplate, 0.6+boost, float64(d.lines), 0, 0)
	}
	regular := tp != nil && cfg.RareTemplate.MaxActiveBuckets > 0 && int(tp.activeBuckets) > cfg.RareTemplate.MaxActiveBuckets
	if cfg.RareTemplate.Enabled && warm && tp != nil && !ev.NewTemplate && tp.count <= cfg.RareTemplate.MaxCount && !regular {
		// Rarity is measured over the lines since the template was first
		// seen (at least 1/max_ratio lines), so a template that appears
		// with a new workload phase and is frequent from then on is not
		// rare; its first record is still a new template.
		span := float64(d.lines - tp.firstLine + 1)
		span = math.Max(span, 1/cfg.RareTemplate.MaxRatio)
		p := float64(tp.count) / span
		if p <= cfg.RareTemplate.MaxRatio {
			c.offer(KindRareTemplate, rarityScore(p, cfg.RareTemplate.MaxRatio)+boost, float64(tp.count), span, 0)
		}
		// Errors: rare over the whole history of the service is enough.
		if ev.SeverityNumber >= cfg.ErrorBurst.MinSeverity && cfg.RareTemplate.ErrorMaxRatio > 0 {
			pe := float64(tp.count) / float64(d.lines)
			if pe <= cfg.RareTemplate.ErrorMaxRatio {
				c.offer(KindRareTemplate, rarityScore(pe, cfg.RareTemplate.ErrorMaxRatio)+boost, float64(tp.count), float64(d.lines), 1)
			}
		}
	}
	if onTime && cfg.Rate.SpikeEnabled {
		d.countService(t)
	}
	if tp != nil && onTime && (cfg.Rate.SpikeEnabled || cfg.Rate.DropEnabled) {
		d.observeRate(tp, t, boost, &c)
	}
	if cfg.ErrorBurst.Enabled && onTime && ev.SeverityNumber >= cfg.ErrorBurst.MinSeverity {
		d.observeErrorBurst(t, &c)
	}
	var ses *session
	if cfg.Session.Enabled && ev.SessionKey != "" {
		ses = d.observeSession(ev.SessionKey, tp, t, boost, &c)
	}

	if c.kind == KindNone || !(c.score > 0) {
		return Verdict{}
	}
	d.stats.Anomalies[c.kind]++
	return Verdict{
		Detected: true,
		Score:    c.score,
		Kind:     c.kind,
		Severity: SeverityOf(c.score),
		Reason:   d.reason(&c, ev, ses),
	}
}

func (d *Detector) reason(c *candidate, ev *Event, ses *session) string {
	cfg := &d.cfg
	switch c.kind {
	case KindNewTemplate:
		return fmt.Sprintf("new template %s after %d lines of the service", ev.TemplateKey, int64(c.a))
	case KindRareTemplate:
		if c.c == 1 {
			return fmt.Sprintf("rare error template %s: %d records in %d lines of the service (ratio %.2g <= %.2g)", ev.TemplateKey, int64(c.a), int64(c.b), c.a/c.b, cfg.RareTemplate.ErrorMaxRatio)
		}
		return fmt.Sprintf("rare template %s: %d records in %d lines since first seen (ratio %.2g <= %.2g)", ev.TemplateKey, int64(c.a), int64(c.b), c.a/c.b, cfg.RareTemplate.MaxRatio)
	case KindRateSpike:
		return fmt.Sprintf("rate spike of template %s: %d records in %s bucket vs median %.1f (threshold %.1f)", ev.TemplateKey, int64(c.a), shortDur(cfg.Rate.Bucket), c.b, c.c)
	case KindRateDrop:
		return fmt.Sprintf("rate drop of template %s: %d records in previous %s bucket vs median %.1f", ev.TemplateKey, int64(c.a), shortDur(cfg.Rate.Bucket), c.b)
	case KindErrorBurst:
		win := cfg.ErrorBurst.Window
		if c.long {
			win = cfg.ErrorBurst.LongWindow
		}
		return fmt.Sprintf("error burst: %d records of severity >= %d in last %s vs %.2f expected (p=%.2g)", int64(c.a), cfg.ErrorBurst.MinSeverity, shortDur(win), c.b, c.c)
	case KindSession:
		key := ""
		if ses != nil {
			key = ses.key
			if ses.tplKey != "" {
				return fmt.Sprintf("session %q: template %s seen in %.2g%% of %d sessions", key, ses.tplKey, 100*ses.ratio, ses.started)
			}
		}
		return fmt.Sprintf("session %q anomalous", key)
	}
	return ""
}

func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// resetTime clears all event-time state after the watermark was found to be
// wrong.
func (d *Detector) resetTime(t int64) {
	d.stats.WatermarkResets++
	d.consecLate = 0
	d.watermark = t
	d.firstTime = t
	for p := d.tplHead; p != nil; p = p.next {
		p.ring = nil
		p.baseAt = noBucket
	}
	d.ebRing = nil
	d.ebHead = noBucket
	d.ebBaseAt = noBucket
	d.svcRing = nil
	d.svcHead = noBucket
	d.svcBaseAt = noBucket
	for s := d.sesHead; s != nil; s = s.next {
		s.last = t
	}
}

// touchTemplate returns the state of key, creating it (and evicting the
// least recently seen template beyond MaxTemplates) as needed.
func (d *Detector) touchTemplate(key string) *tpl {
	if p, ok := d.tpls[key]; ok {
		d.tplMoveFront(p)
		return p
	}
	if len(d.tpls) >= d.cfg.MaxTemplates && d.tplTail != nil {
		old := d.tplTail
		d.tplUnlink(old)
		delete(d.tpls, old.key)
		d.stats.TemplatesEvicted++
	}
	d.nextSerial++
	p := &tpl{key: strings.Clone(key), serial: d.nextSerial, baseAt: noBucket, spikeAlerted: noBucket, dropAlerted: noBucket, firstLine: d.lines}
	d.tpls[p.key] = p
	d.tplPushFront(p)
	return p
}

func (d *Detector) tplPushFront(p *tpl) {
	p.prev = nil
	p.next = d.tplHead
	if d.tplHead != nil {
		d.tplHead.prev = p
	}
	d.tplHead = p
	if d.tplTail == nil {
		d.tplTail = p
	}
}

func (d *Detector) tplUnlink(p *tpl) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		d.tplHead = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		d.tplTail = p.prev
	}
	p.prev, p.next = nil, nil
}

func (d *Detector) tplMoveFront(p *tpl) {
	if d.tplHead == p {
		return
	}
	d.tplUnlink(p)
	d.tplPushFront(p)
}

// subSat returns a-b saturated to the int64 range.
func subSat(a, b int64) int64 {
	r := a - b
	if (b < 0 && r < a) || (b > 0 && r > a) {
		if b < 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return r
}

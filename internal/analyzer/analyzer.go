// Package analyzer glues the template miner and the anomaly detectors per
// service: each service (service.name) gets its own Miner and its own
// detect.Detector. It is pure Go and knows nothing about pdata.
package analyzer

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/otelcol-aiops/otelcol-aiops/internal/detect"
	"github.com/otelcol-aiops/otelcol-aiops/internal/miner"
)

// UnknownService is the service key used for records without a service
// name (the OpenTelemetry SDK default service.name).
const UnknownService = "unknown_service"

// Config configures an Analyzer.
type Config struct {
	Miner     miner.Config  `mapstructure:"miner"`
	Detectors detect.Config `mapstructure:"detectors"`
	// MaxServices bounds the services (miner + detector sets) kept; the
	// least recently used one is evicted beyond it (Stats.ServicesEvicted).
	MaxServices int `mapstructure:"max_services"`
	// SessionRegex is optional: when Record.SessionKey is empty, the first
	// match of this expression in the message (its first capture group if
	// it has one) is the session key.
	SessionRegex string `mapstructure:"session_regex"`
}

// DefaultConfig returns defaults that work on any log source.
func DefaultConfig() Config {
	return Config{
		Miner:       miner.DefaultConfig(),
		Detectors:   detect.DefaultConfig(),
		MaxServices: 100,
	}
}

// Validate reports configuration errors using YAML key names.
func (c Config) Validate() error {
	var errs []error
	if err := c.Miner.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("miner: %w", err))
	}
	if err := c.Detectors.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("detectors: %w", err))
	}
	if c.MaxServices < 1 {
		errs = append(errs, errors.New("max_services must be positive"))
	}
	if c.SessionRegex != "" {
		if _, err := regexp.Compile(c.SessionRegex); err != nil {
			errs = append(errs, fmt.Errorf("session_regex is not a valid regular expression: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Record is one log record to analyse.
type Record struct {
	Service        string // "" allowed (UnknownService is used)
	Message        string
	Time           int64 // event time, unix nanos; 0 = unknown (the service's watermark is used, counted)
	SeverityNumber int32 // OpenTelemetry severity number (1-24; 17+ = ERROR/FATAL; 0 = unknown)
	SessionKey     string
}

// Verdict is the anomaly verdict of one record.
type Verdict struct {
	Detected bool
	Score    float64 // 0..1
	Severity string  // "Critical" | "High" | "Medium" | "Low" ("" when not detected)
	Type     string  // "new_template" | "rare_template" | "rate_spike" | "rate_drop" | "error_burst" | "session"
	Reason   string  // built only for detected records
}

// Result is the outcome of Analyze.
type Result struct {
	TemplateID  string // "" when the miner produced no template
	Template    string
	Verdict     Verdict
	MinerStatus miner.Status
	Truncated   bool
}

// Stats are cumulative counters over all services, including evicted ones,
// plus gauges (Services, TemplatesLive, Detectors.TemplatesTracked,
// Detectors.SessionsLive) over the live services.
type Stats struct {
	Records         uint64
	Late            uint64 // records older than the service watermark minus allowed lateness
	ZeroTime        uint64 // records without event time
	ServicesEvicted uint64
	// TemplatesDroppedWithServices counts the live miner templates that
	// were dropped together with evicted services.
	TemplatesDroppedWithServices uint64

	// Anomalies by type and in total.
	Anomalies    uint64
	NewTemplate  uint64
	RareTemplate uint64
	RateSpike    uint64
	RateDrop     uint64
	ErrorBurst   uint64
	Session      uint64

	Services      int // gauge
	TemplatesLive int // gauge: live miner templates

	Miner     miner.Stats  // summed; Live is the gauge over live services
	Detectors detect.Stats // summed
}

type service struct {
	name  string
	miner *miner.Miner
	// minerBase holds the miner counters restored from a snapshot (the
	// miner's own snapshot carries templates, not counters).
	minerBase miner.Stats
	det       *detect.Detector
	prev      *service // towards most recently used
	next      *service // towards least recently used
}

// Analyzer keeps one miner and detector set per service. It is NOT
// goroutine-safe; callers serialise access.
type Analyzer struct {
	cfg Config
	re  *regexp.Regexp

	services map[string]*service
	head     *service
	tail     *service

	records         uint64
	servicesEvicted uint64
	tplsDropped     uint64 // live templates of evicted services
	retiredMiner    miner.Stats
	retiredDet      detect.Stats

	// the record analysed last, for Params
	lastSvc *service
	lastTpl *miner.Template
	lastMsg string
}

// New returns an Analyzer.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Analyzer{cfg: cfg, services: make(map[string]*service)}
	if cfg.SessionRegex != "" {
		a.re = regexp.MustCompile(cfg.SessionRegex) // validated above
	}
	return a, nil
}

// Analyze mines the record's template and runs the detectors of its
// service. out is overwritten.
func (a *Analyzer) Analyze(rec *Record, out *Result) {
	*out = Result{}
	a.records++
	svc := a.service(rec.Service)
	r := svc.miner.Train(rec.Message)
	out.MinerStatus = r.Status
	out.Truncated = r.Truncated

	ev := detect.Event{Time: rec.Time, SeverityNumber: rec.SeverityNumber, SessionKey: rec.SessionKey}
	if r.Template != nil {
		out.TemplateID = r.Template.ID()
		out.Template = r.Template.String()
		ev.TemplateKey = out.TemplateID
		ev.NewTemplate = r.Status == miner.StatusCreated
	}
	if ev.SessionKey == "" && a.re != nil {
		ev.SessionKey = a.sessionKey(rec.Message)
	}
	v := svc.det.Observe(&ev)
	if v.Detected {
		out.Verdict = Verdict{Detected: true, Score: v.Score, Severity: v.Severity, Type: v.Kind.String(), Reason: v.Reason}
	}
	a.lastSvc, a.lastTpl, a.lastMsg = svc, r.Template, rec.Message
}

// sessionKey extracts the session key with the configured expression.
func (a *Analyzer) sessionKey(msg string) string {
	loc := a.re.FindStringSubmatchIndex(msg)
	switch {
	case loc == nil:
		return ""
	case len(loc) >= 4 && loc[2] >= 0:
		return msg[loc[2]:loc[3]]
	default:
		return msg[loc[0]:loc[1]]
	}
}

// Params appends the template parameters of the record just analysed (or,
// for another record, of its service's matching template) to dst.
func (a *Analyzer) Params(rec *Record, res *Result, dst []string) []string {
	if rec == nil || res == nil || res.TemplateID == "" {
		return dst
	}
	if a.lastTpl != nil && a.lastSvc != nil && a.lastTpl.ID() == res.TemplateID && a.lastMsg == rec.Message {
		return a.lastSvc.miner.Params(a.lastTpl, rec.Message, dst)
	}
	svc := a.services[serviceKey(rec.Service)]
	if svc == nil {
		return dst
	}
	t := svc.miner.Match(rec.Message)
	if t == nil || t.ID() != res.TemplateID {
		return dst
	}
	return svc.miner.Params(t, rec.Message, dst)
}

func serviceKey(name string) string {
	if name == "" {
		return UnknownService
	}
	return name
}

// service returns the state of a service, creating it (and evicting the
// least recently used one beyond MaxServices) as needed.
func (a *Analyzer) service(name string) *service {
	key := serviceKey(name)
	if s := a.services[key]; s != nil {
		a.moveFront(s)
		return s
	}
	if len(a.services) >= a.cfg.MaxServices && a.tail != nil {
		a.evict(a.tail)
	}
	m, err := miner.New(a.cfg.Miner)
	if err != nil {
		// Unreachable: the configuration was validated in New.
		panic(fmt.Sprintf("analyzer: miner.New: %v", err))
	}
	d, err := detect.New(a.cfg.Detectors)
	if err != nil {
		panic(fmt.Sprintf("analyzer: detect.New: %v", err))
	}
	s := &service{name: strings.Clone(key), miner: m, det: d}
	a.services[s.name] = s
	a.pushFront(s)
	return s
}

func (a *Analyzer) evict(s *service) {
	a.unlink(s)
	delete(a.services, s.name)
	a.servicesEvicted++
	ms := s.minerStats()
	a.tplsDropped += uint64(ms.Live)
	ms.Live = 0
	addMinerStats(&a.retiredMiner, ms)
	ds := s.det.Stats()
	ds.TemplatesTracked, ds.SessionsLive = 0, 0
	a.retiredDet.Add(ds)
	if a.lastSvc == s {
		a.lastSvc, a.lastTpl, a.lastMsg = nil, nil, ""
	}
}

func (a *Analyzer) pushFront(s *service) {
	s.prev = nil
	s.next = a.head
	if a.head != nil {
		a.head.prev = s
	}
	a.head = s
	if a.tail == nil {
		a.tail = s
	}
}

func (a *Analyzer) unlink(s *service) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		a.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		a.tail = s.prev
	}
	s.prev, s.next = nil, nil
}

func (a *Analyzer) moveFront(s *service) {
	if a.head == s {
		return
	}
	a.unlink(s)
	a.pushFront(s)
}

// minerStats returns the service's cumulative miner counters.
func (s *service) minerStats() miner.Stats {
	st := s.minerBase
	addMinerStats(&st, s.miner.Stats())
	return st
}

func addMinerStats(dst *miner.Stats, s miner.Stats) {
	dst.Lines += s.Lines
	dst.Created += s.Created
	dst.Generalized += s.Generalized
	dst.Evicted += s.Evicted
	dst.ChurnBlocked += s.ChurnBlocked
	dst.Truncated += s.Truncated
	dst.TokensCapped += s.TokensCapped
	dst.Empty += s.Empty
	dst.Merged += s.Merged
	dst.Live += s.Live
}

// Stats returns cumulative counters (including evicted services) and gauges.
func (a *Analyzer) Stats() Stats {
	st := Stats{
		Records:                      a.records,
		ServicesEvicted:              a.servicesEvicted,
		TemplatesDroppedWithServices: a.tplsDropped,
		Services:                     len(a.services),
		Miner:                        a.retiredMiner,
		Detectors:                    a.retiredDet,
	}
	for s := a.head; s != nil; s = s.next {
		ms := s.minerStats()
		addMinerStats(&st.Miner, ms)
		st.TemplatesLive += ms.Live
		st.Detectors.Add(s.det.Stats())
	}
	d := &st.Detectors
	st.Late = d.Late
	st.ZeroTime = d.ZeroTime
	st.NewTemplate = d.Anomalies[detect.KindNewTemplate]
	st.RareTemplate = d.Anomalies[detect.KindRareTemplate]
	st.RateSpike = d.Anomalies[detect.KindRateSpike]
	st.RateDrop = d.Anomalies[detect.KindRateDrop]
	st.ErrorBurst = d.Anomalies[detect.KindErrorBurst]
	st.Session = d.Anomalies[detect.KindSession]
	for _, n := range d.Anomalies {
		st.Anomalies += n
	}
	return st
}

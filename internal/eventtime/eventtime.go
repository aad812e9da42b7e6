// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package eventtime is the event-time clock shared by the processor, the connector and the
// exporter. It is pure Go and knows nothing about pdata.
//
// A Clock follows the progress (largest event time seen) of several sources, typically one per
// service. Its time, Now, is the progress of the Quorum-th most advanced source, so no single
// source can move event time: a record or span stamped minutes or years ahead raises only its
// own source's progress, and event time moves only as far as Quorum-1 other sources confirm.
// A source that lags or falls silent does not hold event time back either, because only the
// most advanced sources count; records that arrive after event time has passed them by more
// than a component's allowed lateness are late and counted by the caller.
//
// Stamp guards single records against impossible or skewed timestamps. It judges skew against
// the wall clock only while event time is live (within MaxSkew of the wall clock): replays of
// past data are never re-stamped, so replaying a recording gives the same answer at any speed.
//
// Now is a function of the sequence of Observe and AdvanceTo calls only, never of wall-clock
// timing, except through AdvanceTo, which callers use when their input has been idle.
package eventtime // import "github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"

import (
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// MinPlausible is the earliest plausible event time: 1971-01-01T00:00:00Z. Earlier timestamps
// (zero, or Go's zero time as a large negative number) are impossible.
const MinPlausible = int64(31536000) * int64(time.Second)

// MaxFuture is how far ahead of the wall clock a timestamp may be before it is impossible.
const MaxFuture = 24 * time.Hour

// Fix tells how Stamp changed a timestamp.
type Fix uint8

const (
	// FixNone: the timestamp was kept.
	FixNone Fix = iota
	// FixImpossible: the timestamp was before 1971 or more than a day ahead of the wall clock.
	FixImpossible
	// FixAhead: live event time, and the timestamp was more than MaxSkew ahead of the wall clock.
	FixAhead
)

// String returns the reason label of the fix ("" for FixNone).
func (f Fix) String() string {
	switch f {
	case FixImpossible:
		return "impossible_timestamp"
	case FixAhead:
		return "clock_ahead"
	}
	return ""
}

// Config configures a Clock.
type Config struct {
	// Quorum is the number of sources that must have reached an event time before the clock
	// does (the clock's time is the Quorum-th largest source progress). With fewer sources the
	// least advanced one counts. 1 makes the clock the largest progress of any source.
	Quorum int
	// MaxSkew bounds clock skew while event time is live: a timestamp more than MaxSkew ahead of
	// the wall clock is re-stamped. 0 disables the check (impossible timestamps are still
	// re-stamped). Timestamps behind are never moved: they are late data for the caller.
	MaxSkew time.Duration
	// MaxSources bounds the sources followed; beyond it the least advanced one is forgotten.
	MaxSources int
}

// DefaultConfig returns the defaults: a quorum of two sources, one minute of skew, 10 000 sources.
func DefaultConfig() Config {
	return Config{Quorum: 2, MaxSkew: time.Minute, MaxSources: 10_000}
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	var errs []error
	if c.Quorum < 1 || c.Quorum > 16 {
		errs = append(errs, errors.New("quorum must be between 1 and 16"))
	}
	if c.MaxSkew < 0 {
		errs = append(errs, errors.New("max_clock_skew must not be negative"))
	}
	if c.MaxSources < 1 {
		errs = append(errs, errors.New("max_sources must be positive"))
	}
	return errors.Join(errs...)
}

// Stats are cumulative counters.
type Stats struct {
	Impossible     uint64 // timestamps re-stamped by FixImpossible
	Ahead          uint64 // timestamps re-stamped by FixAhead
	SourcesEvicted uint64 // sources forgotten at MaxSources
}

type source struct {
	name     string
	progress int64
	top      bool
}

// Clock is a robust event-time clock over several sources. Not goroutine-safe.
type Clock struct {
	cfg     Config
	sources map[string]*source
	top     []*source // the Quorum most advanced sources, most advanced first
	floor   int64
	last    *source // the source observed last (a cache for runs of one source)
	stats   Stats
}

// New returns a clock; an invalid config is replaced field by field with defaults.
func New(cfg Config) *Clock {
	def := DefaultConfig()
	if cfg.Quorum < 1 || cfg.Quorum > 16 {
		cfg.Quorum = def.Quorum
	}
	if cfg.MaxSkew < 0 {
		cfg.MaxSkew = def.MaxSkew
	}
	if cfg.MaxSources < 1 {
		cfg.MaxSources = def.MaxSources
	}
	return &Clock{cfg: cfg, sources: make(map[string]*source), top: make([]*source, 0, cfg.Quorum)}
}

// Stats returns the counters.
func (c *Clock) Stats() Stats { return c.stats }

// Quorum returns the number of sources that must confirm an event time.
func (c *Clock) Quorum() int { return c.cfg.Quorum }

// Sources returns the number of sources followed.
func (c *Clock) Sources() int { return len(c.sources) }

// Now returns the clock's event time (unix nanoseconds; 0 before any source): the progress of
// the Quorum-th most advanced source (of the least advanced one when there are fewer), or the
// time given to AdvanceTo if later.
func (c *Clock) Now() int64 {
	if len(c.top) == 0 {
		return c.floor
	}
	return max(c.floor, c.top[len(c.top)-1].progress)
}

// Max returns the largest progress of any source (or the AdvanceTo floor). It is not robust:
// use it only to bound what has been seen.
func (c *Clock) Max() int64 {
	if len(c.top) == 0 {
		return c.floor
	}
	return max(c.floor, c.top[0].progress)
}

// Progress returns a source's progress (0 when unknown).
func (c *Clock) Progress(name string) int64 {
	if s := c.sources[name]; s != nil {
		return s.progress
	}
	return 0
}

// AdvanceTo raises the clock's time to at least t (for example from the wall clock while the
// input is idle, or a watermark restored from storage). Sources are unchanged.
func (c *Clock) AdvanceTo(t int64) {
	if t > c.floor {
		c.floor = t
	}
}

// Live reports whether event time follows the wall clock (unix nanoseconds): the clock's time
// is within MaxSkew of it. Before any input, event time is live.
func (c *Clock) Live(wall int64) bool {
	now := c.Now()
	return now == 0 || now >= wall-int64(c.cfg.MaxSkew)
}

// Stamp returns the event time to use for a timestamp t with observed timestamp observed (0 when
// unknown) at wall-clock time wall (unix nanoseconds), and how it was fixed:
//   - t before 1971 or more than a day ahead of the wall clock is impossible: observed is used
//     when it is plausible, else the clock's time, else the wall clock;
//   - while event time is live and MaxSkew > 0, t more than MaxSkew ahead of the wall clock is
//     skewed: observed is used when it is within bounds, else the wall clock.
//
// Timestamps behind event time are kept: they are late data, which each caller counts.
//
// Stamp does not change the clock's time; call Observe with the result.
func (c *Clock) Stamp(t, observed, wall int64) (int64, Fix) {
	if t < MinPlausible || t > wall+int64(MaxFuture) {
		c.stats.Impossible++
		switch {
		case observed >= MinPlausible && observed <= wall+int64(MaxFuture):
			return observed, FixImpossible
		case c.Now() > 0:
			return c.Now(), FixImpossible
		}
		return wall, FixImpossible
	}
	skew := int64(c.cfg.MaxSkew)
	if skew <= 0 || t <= wall+skew {
		return t, FixNone
	}
	if now := c.Now(); now != 0 && now < wall-skew {
		return t, FixNone // a replay of past data: never re-stamped
	}
	c.stats.Ahead++
	if observed >= MinPlausible && observed <= wall+skew {
		return observed, FixAhead
	}
	return wall, FixAhead
}

// Observe raises the progress of source name to t (no-op when t is not later). Sources beyond
// MaxSources evict the least advanced one (counted in Stats.SourcesEvicted).
func (c *Clock) Observe(name string, t int64) {
	s := c.last
	if s == nil || s.name != name {
		s = c.sources[name]
		if s == nil {
			if t <= 0 {
				return
			}
			if len(c.sources) >= c.cfg.MaxSources {
				c.evictLeast()
			}
			s = &source{name: strings.Clone(name)}
			c.sources[s.name] = s
		}
		c.last = s
	}
	if t <= s.progress {
		return
	}
	s.progress = t
	c.raise(s)
}

// raise keeps top the Quorum most advanced sources after s advanced.
func (c *Clock) raise(s *source) {
	switch {
	case s.top:
	case len(c.top) < c.cfg.Quorum:
		s.top = true
		c.top = append(c.top, s)
	case s.progress > c.top[len(c.top)-1].progress:
		c.top[len(c.top)-1].top = false
		s.top = true
		c.top[len(c.top)-1] = s
	default:
		return
	}
	// insertion step: s moved up, the rest is sorted
	i := slices.Index(c.top, s)
	for ; i > 0 && c.top[i-1].progress < c.top[i].progress; i-- {
		c.top[i-1], c.top[i] = c.top[i], c.top[i-1]
	}
}

func (c *Clock) evictLeast() {
	var least *source
	for _, s := range c.sources {
		if least == nil || s.progress < least.progress || (s.progress == least.progress && s.name < least.name) {
			least = s
		}
	}
	if least == nil {
		return
	}
	delete(c.sources, least.name)
	c.stats.SourcesEvicted++
	if c.last == least {
		c.last = nil
	}
	if least.top {
		c.rebuildTop()
	}
}

func (c *Clock) rebuildTop() {
	for _, s := range c.top {
		s.top = false
	}
	c.top = c.top[:0]
	for _, s := range c.sources {
		c.top = append(c.top, s)
	}
	slices.SortFunc(c.top, func(a, b *source) int {
		if a.progress != b.progress {
			if a.progress > b.progress {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	if len(c.top) > c.cfg.Quorum {
		c.top = c.top[:c.cfg.Quorum]
	}
	for _, s := range c.top {
		s.top = true
	}
}

// SaneRestore returns t when it is a plausible watermark to restore at wall-clock time wall
// (after 1971 and not ahead of the wall clock by more than skew), else 0: a snapshot must not
// carry a poisoned clock into the next run.
func SaneRestore(t, wall int64, skew time.Duration) int64 {
	if t < MinPlausible || t > wall+int64(skew) || t == math.MaxInt64 {
		return 0
	}
	return t
}

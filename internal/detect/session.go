package detect

import (
	"slices"
	"strings"
)

// session is one open session of a service.
type session struct {
	key  string
	last int64 // largest event time of its records
	prev *session
	next *session
	tpls []uint64 // serials of the distinct templates seen

	flagged bool
	score   float64
	tplKey  string  // template that made the session anomalous
	ratio   float64 // its share of sessions at that time
	started int64   // sessions started at that time
}

// observeSession adds the record to its session and judges the session: a
// session becomes anomalous at the first record whose template has been
// seen in at most MaxRatio of the service's sessions (after MinSessions
// sessions); that record and every later record of the session are flagged.
func (d *Detector) observeSession(key string, p *tpl, t int64, boost float64, c *candidate) *session {
	cfg := &d.cfg.Session
	ttl := int64(cfg.TTL)
	d.expireSessions()

	s := d.sessions[key]
	if s != nil && subSat(d.watermark, s.last) > ttl {
		// Expired but not reached by the LRU sweep: close it.
		d.sesRemove(s)
		d.stats.SessionsExpired++
		s = nil
	}
	if s == nil {
		if len(d.sessions) >= cfg.MaxSessions && d.sesTail != nil {
			d.sesRemove(d.sesTail)
			d.stats.SessionsEvicted++
		}
		s = &session{key: strings.Clone(key), last: t}
		d.sessions[s.key] = s
		d.sesPushFront(s)
		d.sessionsStarted++
		d.stats.SessionsStarted++
	} else {
		d.sesMoveFront(s)
	}
	if t > s.last {
		s.last = t
	}

	newInSession := false
	if p != nil && !slices.Contains(s.tpls, p.serial) {
		if len(s.tpls) < cfg.MaxTemplatesPerSession {
			s.tpls = append(s.tpls, p.serial)
			p.sessions++
			newInSession = true
		} else {
			d.stats.SessionTemplatesCapped++
		}
	}

	if s.flagged {
		c.offer(KindSession, s.score, 0, 0, 0)
		return s
	}
	if newInSession && d.sessionsStarted >= cfg.MinSessions && d.sessionsStarted > 0 {
		q := float64(p.sessions) / float64(d.sessionsStarted)
		if q <= cfg.MaxRatio {
			s.flagged = true
			s.score = clamp01(rarityScore(q, cfg.MaxRatio) + boost)
			s.tplKey = p.key
			s.ratio = q
			s.started = d.sessionsStarted
			c.offer(KindSession, s.score, 0, 0, 0)
		}
	}
	return s
}

// expireSessions closes sessions idle for longer than the TTL, oldest
// touched first.
func (d *Detector) expireSessions() {
	ttl := int64(d.cfg.Session.TTL)
	for s := d.sesTail; s != nil && subSat(d.watermark, s.last) > ttl; s = d.sesTail {
		d.sesRemove(s)
		d.stats.SessionsExpired++
	}
}

func (d *Detector) sesRemove(s *session) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		d.sesHead = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		d.sesTail = s.prev
	}
	s.prev, s.next = nil, nil
	delete(d.sessions, s.key)
}

func (d *Detector) sesPushFront(s *session) {
	s.prev = nil
	s.next = d.sesHead
	if d.sesHead != nil {
		d.sesHead.prev = s
	}
	d.sesHead = s
	if d.sesTail == nil {
		d.sesTail = s
	}
}

func (d *Detector) sesMoveFront(s *session) {
	if d.sesHead == s {
		return
	}
	if s.prev != nil {
		s.prev.next = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		d.sesTail = s.prev
	}
	d.sesPushFront(s)
}

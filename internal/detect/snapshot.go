package detect

import (
	"errors"
	"fmt"
	"math"
)

// snapshotVersion is the version of the Detector snapshot format.
const snapshotVersion = 2

// Limits applied when decoding, independent of the configuration.
const (
	maxSnapTemplates = 1 << 20
	maxSnapSessions  = 1 << 22
	maxSnapRing      = 1 << 20
)

// AppendBinary appends a snapshot of the detector state to b. Event-time
// ring buffers are included together with the geometry they were built
// with; a detector restored under a configuration with a different
// geometry keeps its counters but restarts its rate and error-burst history.
func (d *Detector) AppendBinary(b []byte) ([]byte, error) {
	e := encoder{b: b}
	e.u64(snapshotVersion)
	// geometry
	e.i64(d.rateBucket)
	e.u64(uint64(d.rateRing))
	e.i64(d.ebSub)
	e.i64(d.ebWin)
	e.i64(d.ebLong)
	e.i64(d.ebBase)
	e.i64(d.ebOpen)

	e.i64(d.lines)
	e.bool(d.haveTime)
	e.bool(d.warm)
	e.i64(d.firstTime)
	e.i64(d.watermark)
	e.u64(uint64(d.consecLate))
	e.u64(d.nextSerial)
	e.i64(d.sessionsStarted)

	st := &d.stats
	for _, v := range []uint64{st.Lines, st.Late, st.ZeroTime, st.WatermarkResets, st.TemplatesEvicted,
		st.SessionsStarted, st.SessionsExpired, st.SessionsEvicted, st.SessionTemplatesCapped} {
		e.u64(v)
	}
	e.u64(uint64(len(st.Anomalies)))
	for _, v := range st.Anomalies {
		e.u64(v)
	}

	// templates, least recently seen first
	e.u64(uint64(len(d.tpls)))
	for p := d.tplTail; p != nil; p = p.prev {
		e.str(p.key)
		e.u64(p.serial)
		e.u64(p.sessions)
		e.i64(p.count)
		e.i64(p.firstLine)
		e.u64(uint64(p.activeBuckets))
		e.i64(p.lastActive)
		e.i64(p.first)
		e.i64(p.head)
		e.i64(p.spikeAlerted)
		e.i64(p.dropAlerted)
		e.u64(uint64(len(p.ring)))
		for _, v := range p.ring {
			e.u64(uint64(v))
		}
	}

	// service volume ring
	e.i64(d.svcHead)
	e.u64(uint64(len(d.svcRing)))
	for _, v := range d.svcRing {
		e.u64(uint64(v))
	}

	// error burst ring
	e.i64(d.ebHead)
	e.u64(uint64(len(d.ebRing)))
	for _, v := range d.ebRing {
		e.u64(uint64(v))
	}

	// sessions, least recently used first
	e.u64(uint64(len(d.sessions)))
	for s := d.sesTail; s != nil; s = s.prev {
		e.str(s.key)
		e.i64(s.last)
		e.bool(s.flagged)
		e.f64(s.score)
		e.str(s.tplKey)
		e.f64(s.ratio)
		e.i64(s.started)
		e.u64(uint64(len(s.tpls)))
		for _, v := range s.tpls {
			e.u64(v)
		}
	}
	return e.b, nil
}

// MarshalBinary returns a snapshot of the detector state.
func (d *Detector) MarshalBinary() ([]byte, error) { return d.AppendBinary(nil) }

// UnmarshalBinary restores a snapshot taken by MarshalBinary. On error the
// detector is unchanged. The detector's own configuration is kept; state
// beyond its bounds is trimmed (oldest first).
func (d *Detector) UnmarshalBinary(b []byte) error {
	nd, rest, err := decodeDetector(d.cfg, b)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errCorrupt
	}
	*d = *nd
	return nil
}

// DecodeBinary decodes a snapshot produced by AppendBinary from the start of
// b into a new detector with configuration cfg and returns the remaining
// bytes.
func DecodeBinary(cfg Config, b []byte) (*Detector, []byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	return decodeDetector(cfg, b)
}

func decodeDetector(cfg Config, b []byte) (*Detector, []byte, error) {
	dec := &decoder{b: b}
	ver := dec.u64()
	if dec.err != nil {
		return nil, nil, errCorrupt
	}
	if ver != snapshotVersion {
		return nil, nil, fmt.Errorf("detect: unsupported snapshot version %d", ver)
	}
	nd := &Detector{cfg: cfg}
	nd.init()

	rateBucket := dec.i64()
	rateRing := dec.u64()
	ebSub, ebWin, ebLong, ebBase, ebOpen := dec.i64(), dec.i64(), dec.i64(), dec.i64(), dec.i64()
	rateGeomOK := rateBucket == nd.rateBucket && rateRing == uint64(nd.rateRing)
	ebGeomOK := ebSub == nd.ebSub && ebWin == nd.ebWin && ebLong == nd.ebLong && ebBase == nd.ebBase && ebOpen == nd.ebOpen

	nd.lines = dec.i64()
	nd.haveTime = dec.bool()
	nd.warm = dec.bool()
	nd.firstTime = dec.i64()
	nd.watermark = dec.i64()
	consec := dec.u64()
	nd.nextSerial = dec.u64()
	nd.sessionsStarted = dec.i64()
	if consec > 1<<31 || nd.lines < 0 || nd.sessionsStarted < 0 {
		dec.fail()
	}
	nd.consecLate = int(consec)

	st := &nd.stats
	for _, p := range []*uint64{&st.Lines, &st.Late, &st.ZeroTime, &st.WatermarkResets, &st.TemplatesEvicted,
		&st.SessionsStarted, &st.SessionsExpired, &st.SessionsEvicted, &st.SessionTemplatesCapped} {
		*p = dec.u64()
	}
	na := dec.count(64, 1)
	for i := 0; i < na; i++ {
		v := dec.u64()
		if i < len(st.Anomalies) {
			st.Anomalies[i] = v
		}
	}

	nt := dec.count(maxSnapTemplates, 8)
	for i := 0; i < nt && dec.err == nil; i++ {
		p := &tpl{baseAt: noBucket}
		p.key = dec.str()
		p.serial = dec.u64()
		p.sessions = dec.u64()
		p.count = dec.i64()
		p.firstLine = dec.i64()
		if ab := dec.u64(); ab <= math.MaxUint32 {
			p.activeBuckets = uint32(ab)
		} else {
			dec.fail()
		}
		p.lastActive = dec.i64()
		p.first = dec.i64()
		p.head = dec.i64()
		p.spikeAlerted = dec.i64()
		p.dropAlerted = dec.i64()
		rl := dec.count(maxSnapRing, 1)
		var ring []uint32
		if rl > 0 {
			ring = make([]uint32, rl)
			for j := range ring {
				ring[j] = dec.u32()
			}
		}
		if dec.err != nil {
			break
		}
		if p.key == "" || p.serial == 0 || p.serial > nd.nextSerial {
			dec.fail()
			break
		}
		if _, dup := nd.tpls[p.key]; dup {
			dec.fail()
			break
		}
		if rl > 0 && rateGeomOK && rl == nd.rateRing && p.head != noBucket {
			p.ring = ring
		} else {
			p.ring = nil
			p.spikeAlerted, p.dropAlerted = noBucket, noBucket
		}
		nd.tpls[p.key] = p
		nd.tplPushFront(p)
	}
	for len(nd.tpls) > cfg.MaxTemplates {
		old := nd.tplTail
		nd.tplUnlink(old)
		delete(nd.tpls, old.key)
	}

	svcHead := dec.i64()
	sl := dec.count(maxSnapRing, 1)
	var svcRing []uint32
	if sl > 0 {
		svcRing = make([]uint32, sl)
		for j := range svcRing {
			svcRing[j] = dec.u32()
		}
	}
	if sl > 0 && rateGeomOK && sl == nd.rateRing && svcHead != noBucket {
		nd.svcRing = svcRing
		nd.svcHead = svcHead
	}

	ebHead := dec.i64()
	el := dec.count(maxSnapRing, 1)
	var ebRing []uint32
	if el > 0 {
		ebRing = make([]uint32, el)
		for j := range ebRing {
			ebRing[j] = dec.u32()
		}
	}
	if el > 0 && ebGeomOK && int64(el) == nd.ebRingLen() && ebHead != noBucket {
		nd.ebRing = ebRing
		nd.ebHead = ebHead
	}

	ns := dec.count(maxSnapSessions, 8)
	for i := 0; i < ns && dec.err == nil; i++ {
		s := &session{}
		s.key = dec.str()
		s.last = dec.i64()
		s.flagged = dec.bool()
		s.score = dec.f64()
		s.tplKey = dec.str()
		s.ratio = dec.f64()
		s.started = dec.i64()
		nt := dec.count(1024, 1)
		if nt > 0 {
			s.tpls = make([]uint64, nt)
			for j := range s.tpls {
				s.tpls[j] = dec.u64()
			}
		}
		if dec.err != nil {
			break
		}
		if s.key == "" || s.score < 0 || s.score > 1 {
			dec.fail()
			break
		}
		if _, dup := nd.sessions[s.key]; dup {
			dec.fail()
			break
		}
		if len(s.tpls) > cfg.Session.MaxTemplatesPerSession {
			s.tpls = s.tpls[:cfg.Session.MaxTemplatesPerSession]
		}
		nd.sessions[s.key] = s
		nd.sesPushFront(s)
	}
	for len(nd.sessions) > cfg.Session.MaxSessions {
		nd.sesRemove(nd.sesTail)
	}
	if dec.err != nil {
		return nil, nil, dec.err
	}
	return nd, dec.b, nil
}

// IsCorrupt reports whether err is the corrupt-snapshot error.
func IsCorrupt(err error) bool { return errors.Is(err, errCorrupt) }

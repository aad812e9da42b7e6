package analyzer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/otelcol-aiops/otelcol-aiops/internal/detect"
	"github.com/otelcol-aiops/otelcol-aiops/internal/miner"
)

// Snapshot format (version 1):
//
//	magic "OTAIAN" | version byte | payload | CRC-32 (IEEE, little endian) of all before
//
// payload: records, services evicted, templates dropped with services,
// retired miner stats, retired detector stats, then the services from least
// to most recently used, each as name, cumulative miner counters, miner
// snapshot (length-prefixed) and detector snapshot (length-prefixed).
const (
	snapMagic   = "OTAIAN"
	snapVersion = 1
	maxServices = 1 << 20
)

// ErrCorruptSnapshot is returned (wrapped) for malformed snapshots.
var ErrCorruptSnapshot = errors.New("analyzer: corrupt snapshot")

// MarshalBinary returns a versioned snapshot of all services: miner state
// and detector state (baselines, counts, open sessions).
func (a *Analyzer) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 4096)
	b = append(b, snapMagic...)
	b = append(b, snapVersion)
	b = binary.AppendUvarint(b, a.records)
	b = binary.AppendUvarint(b, a.servicesEvicted)
	b = binary.AppendUvarint(b, a.tplsDropped)
	b = appendMinerStats(b, a.retiredMiner)
	b = appendDetStats(b, a.retiredDet)
	b = binary.AppendUvarint(b, uint64(len(a.services)))
	for s := a.tail; s != nil; s = s.prev {
		b = appendString(b, s.name)
		b = appendMinerStats(b, s.minerStats())
		mb, err := s.miner.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("analyzer: service %q: %w", s.name, err)
		}
		b = binary.AppendUvarint(b, uint64(len(mb)))
		b = append(b, mb...)
		db, err := s.det.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("analyzer: service %q: %w", s.name, err)
		}
		b = binary.AppendUvarint(b, uint64(len(db)))
		b = append(b, db...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

// UnmarshalBinary replaces the analyzer state with a snapshot taken by
// MarshalBinary. The analyzer's own configuration is kept. On any error
// (corrupt data, unknown version) the analyzer is unchanged.
func (a *Analyzer) UnmarshalBinary(b []byte) (err error) {
	defer func() {
		// Defensive: a decoding bug must not take the collector down.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorruptSnapshot, r)
		}
	}()
	if len(b) < len(snapMagic)+1+4 || string(b[:len(snapMagic)]) != snapMagic {
		return fmt.Errorf("%w: bad header", ErrCorruptSnapshot)
	}
	if v := b[len(snapMagic)]; v != snapVersion {
		return fmt.Errorf("analyzer: unsupported snapshot version %d", v)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	d := &dec{b: body[len(snapMagic)+1:]}
	records := d.u64()
	evicted := d.u64()
	dropped := d.u64()
	retiredMiner := readMinerStats(d)
	retiredDet := readDetStats(d)
	n := d.u64()
	if d.err != nil || n > maxServices || n > uint64(len(d.b)) {
		return fmt.Errorf("%w: header", ErrCorruptSnapshot)
	}
	na := &Analyzer{cfg: a.cfg, re: a.re, services: make(map[string]*service, n)}
	na.records = records
	na.servicesEvicted = evicted
	na.tplsDropped = dropped
	na.retiredMiner = retiredMiner
	na.retiredDet = retiredDet
	for i := uint64(0); i < n; i++ {
		name := d.str()
		ms := readMinerStats(d)
		mb := d.bytes()
		db := d.bytes()
		if d.err != nil {
			return fmt.Errorf("%w: service %d", ErrCorruptSnapshot, i)
		}
		if name == "" {
			return fmt.Errorf("%w: empty service name", ErrCorruptSnapshot)
		}
		if _, dup := na.services[name]; dup {
			return fmt.Errorf("%w: duplicate service %q", ErrCorruptSnapshot, name)
		}
		m, err := miner.New(a.cfg.Miner)
		if err != nil {
			return err
		}
		if err := m.UnmarshalBinary(mb); err != nil {
			return fmt.Errorf("%w: service %q: miner: %w", ErrCorruptSnapshot, name, err)
		}
		det, rest, err := detect.DecodeBinary(a.cfg.Detectors, db)
		if err != nil {
			return fmt.Errorf("%w: service %q: detectors: %w", ErrCorruptSnapshot, name, err)
		}
		if len(rest) != 0 {
			return fmt.Errorf("%w: service %q: trailing detector bytes", ErrCorruptSnapshot, name)
		}
		s := &service{name: name, miner: m, det: det, minerBase: subMinerStats(ms, m.Stats())}
		na.services[name] = s
		na.pushFront(s)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: trailing bytes", ErrCorruptSnapshot)
	}
	for len(na.services) > na.cfg.MaxServices {
		na.evict(na.tail)
	}
	*a = *na
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// minerCounters lists the cumulative counters of miner.Stats (not Live).
func minerCounters(s *miner.Stats) []*uint64 {
	return []*uint64{&s.Lines, &s.Created, &s.Generalized, &s.Evicted, &s.ChurnBlocked, &s.Truncated, &s.TokensCapped, &s.Empty, &s.Merged}
}

func appendMinerStats(b []byte, s miner.Stats) []byte {
	for _, p := range minerCounters(&s) {
		b = binary.AppendUvarint(b, *p)
	}
	return b
}

func readMinerStats(d *dec) miner.Stats {
	var s miner.Stats
	for _, p := range minerCounters(&s) {
		*p = d.u64()
	}
	return s
}

// subMinerStats returns the counters of a minus those of b (at least 0).
func subMinerStats(a, b miner.Stats) miner.Stats {
	pa, pb := minerCounters(&a), minerCounters(&b)
	for i := range pa {
		if *pa[i] >= *pb[i] {
			*pa[i] -= *pb[i]
		} else {
			*pa[i] = 0
		}
	}
	a.Live = 0
	return a
}

func appendDetStats(b []byte, s detect.Stats) []byte {
	for _, v := range []uint64{s.Lines, s.Late, s.ZeroTime, s.WatermarkResets, s.TemplatesEvicted,
		s.SessionsStarted, s.SessionsExpired, s.SessionsEvicted, s.SessionTemplatesCapped} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Anomalies)))
	for _, v := range s.Anomalies {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func readDetStats(d *dec) detect.Stats {
	var s detect.Stats
	for _, p := range []*uint64{&s.Lines, &s.Late, &s.ZeroTime, &s.WatermarkResets, &s.TemplatesEvicted,
		&s.SessionsStarted, &s.SessionsExpired, &s.SessionsEvicted, &s.SessionTemplatesCapped} {
		*p = d.u64()
	}
	n := d.u64()
	if n > 64 {
		d.fail()
		return s
	}
	for i := uint64(0); i < n; i++ {
		v := d.u64()
		if i < uint64(len(s.Anomalies)) {
			s.Anomalies[i] = v
		}
	}
	return s
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = ErrCorruptSnapshot
	}
	d.b = nil
}

func (d *dec) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) bytes() []byte {
	n := d.u64()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) || n > math.MaxInt32 {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string { return string(d.bytes()) }

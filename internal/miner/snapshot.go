package miner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Snapshot format (all integers unsigned varints unless noted):
//
//	magic    8 bytes "AIOPSMNR"
//	version  uint16 little endian (snapshotVersion)
//	seq      creation sequence counter (id state)
//	names    count, then each user mask name (length, bytes) in kind order
//	templates count, then per template from least to most recently used:
//	         id (length, bytes), seq, count, token count, then per token
//	         whitespace (length, bytes), pattern (length, bytes) and a flags byte
//	         (bit tGen: generalised by merging)
//	crc32    IEEE checksum of everything before it, uint32 little endian
//
// Patterns keep the internal wildcard encoding (wcByte, kind); kinds of user masks are
// remapped by name when the snapshot is restored.

const snapshotMagic = "AIOPSMNR"

const snapshotVersion = 1

var (
	errSnapshotTruncated = errors.New("miner snapshot: truncated")
	errSnapshotCorrupt   = errors.New("miner snapshot: corrupt")
)

// MarshalBinary encodes the templates (ids, tokens, counts, LRU order) and the id state.
func (m *Miner) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+m.live*128)
	b = append(b, snapshotMagic...)
	b = binary.LittleEndian.AppendUint16(b, snapshotVersion)
	b = binary.AppendUvarint(b, m.seq)
	b = binary.AppendUvarint(b, uint64(len(m.names)))
	for _, n := range m.names {
		b = appendStr(b, n)
	}
	b = binary.AppendUvarint(b, uint64(m.live))
	for t := m.tail; t != nil; t = t.prev {
		b = appendStr(b, t.id)
		b = binary.AppendUvarint(b, t.seq)
		b = binary.AppendUvarint(b, uint64(t.count))
		b = binary.AppendUvarint(b, uint64(len(t.toks)))
		for i := range t.toks {
			b = appendStr(b, t.toks[i].ws)
			b = appendStr(b, t.toks[i].pat)
			b = append(b, t.toks[i].flags&tGen)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return b, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		if n == 0 {
			r.err = errSnapshotTruncated
		} else {
			r.err = errSnapshotCorrupt
		}
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errSnapshotTruncated
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) str(max int) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(max) {
		r.err = errSnapshotCorrupt
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errSnapshotTruncated
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// UnmarshalBinary restores templates from a MarshalBinary snapshot, replacing the current
// ones. A corrupt, truncated or unknown-version snapshot returns an error and leaves the
// Miner unchanged. Counters other than Live are kept; templates beyond MaxTemplates (least
// recently used first) are dropped and counted as evicted.
func (m *Miner) UnmarshalBinary(data []byte) error {
	hdr := len(snapshotMagic) + 2
	if len(data) < hdr+4 {
		return errSnapshotTruncated
	}
	if string(data[:len(snapshotMagic)]) != snapshotMagic {
		return errors.New("miner snapshot: bad magic")
	}
	if v := binary.LittleEndian.Uint16(data[len(snapshotMagic):]); v != snapshotVersion {
		return fmt.Errorf("miner snapshot: unsupported version %d", v)
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return errors.New("miner snapshot: checksum mismatch (corrupt or truncated)")
	}
	r := &reader{b: body[hdr:]}
	seq := r.uvarint()
	nNames := r.uvarint()
	if r.err == nil && nNames > maxUserMasks {
		return errSnapshotCorrupt
	}
	// kind remapping: stored kind kindBuiltin+1+i -> current kind of the same name
	remap := make([]byte, 0, nNames)
	for i := uint64(0); i < nNames && r.err == nil; i++ {
		name := r.str(64)
		k := -1
		for j, n := range m.names {
			if n == name {
				k = j
				break
			}
		}
		if r.err == nil && k < 0 {
			return fmt.Errorf("miner snapshot: uses mask %q which is not configured", name)
		}
		remap = append(remap, byte(kindBuiltin+1+k))
	}
	nT := r.uvarint()
	if r.err != nil {
		return r.err
	}
	if nT > uint64(len(r.b)) { // every template takes several bytes
		return errSnapshotCorrupt
	}
	ts := make([]*Template, 0, nT)
	ids := make(map[string]bool, nT)
	for i := uint64(0); i < nT; i++ {
		t := &Template{alive: true}
		t.id = r.str(64)
		t.seq = r.uvarint()
		cnt := r.uvarint()
		nk := r.uvarint()
		if r.err != nil {
			return r.err
		}
		if t.id == "" || ids[t.id] || t.seq == 0 || t.seq > seq || cnt > math.MaxInt64 {
			return errSnapshotCorrupt
		}
		if nk == 0 || nk > uint64(m.cfg.MaxTokens) {
			return fmt.Errorf("miner snapshot: template with %d tokens (max_tokens is %d)", nk, m.cfg.MaxTokens)
		}
		if nk > uint64(len(r.b)) {
			return errSnapshotCorrupt
		}
		ids[t.id] = true
		t.count = int64(cnt)
		t.toks = make([]ttok, nk)
		for k := range t.toks {
			tt := &t.toks[k]
			tt.ws = r.str(math.MaxInt32)
			p := r.str(math.MaxInt32)
			fl := r.byte()
			if r.err != nil {
				return r.err
			}
			if fl&^tGen != 0 {
				return errSnapshotCorrupt
			}
			if !allSpace(tt.ws) {
				return errSnapshotCorrupt
			}
			var ok bool
			if tt.pat, ok = remapPattern(p, remap); !ok {
				return errSnapshotCorrupt
			}
			tt.hash = hashString(tt.pat, m.tok.seed)
			tt.flags = patFlags(tt.pat) | fl
		}
		ts = append(ts, t)
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return errSnapshotCorrupt
	}
	// commit
	for t := m.head; t != nil; t = t.next {
		t.alive = false
	}
	clear(m.cache)
	clear(m.shapes)
	m.reset()
	m.seq = seq
	dropped := 0
	if len(ts) > m.cfg.MaxTemplates {
		dropped = len(ts) - m.cfg.MaxTemplates
		ts = ts[dropped:]
	}
	for _, t := range ts {
		t.str = render(t.toks, m.names)
		m.ids[t.id] = t
		m.pushFront(t)
		m.live++
		m.insert(t)
	}
	m.stats.Evicted += uint64(dropped)
	return nil
}

func allSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			return false
		}
	}
	return true
}

// remapPattern validates the wildcard encoding of p and remaps user mask kinds.
func remapPattern(p string, remap []byte) (string, bool) {
	if p == "" {
		return "", false
	}
	var out []byte
	for i := 0; i < len(p); i++ {
		if p[i] != wcByte {
			continue
		}
		if i+1 >= len(p) {
			return "", false
		}
		k := p[i+1]
		switch {
		case k == kindBuiltin:
		case k > kindBuiltin && int(k-kindBuiltin-1) < len(remap):
			nk := remap[k-kindBuiltin-1]
			if nk != k {
				if out == nil {
					out = []byte(p)
				}
				out[i+1] = nk
			}
		default:
			return "", false
		}
		i++
	}
	if out != nil {
		return string(out), true
	}
	return p, true
}

package miner

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var snapshotLines = []string{
	"Accepted password for alice from 10.0.0.1 port 22 ssh2",
	"session opened for user cyrus by (uid=0)",
	"session opened for user news by (uid=0)",
	"session opened for user test by (uid=0)",
	"Received block blk_123 of size 67108864 from /10.0.0.1",
	"login user bob from 10.1.1.1:2222 ok",
	"VM Paused (Lifecycle Event)",
	"VM Resumed (Lifecycle Event)",
	"a b c d e f g h",
}

func trainedMiner(t *testing.T, cfg Config) *Miner {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	for _, l := range snapshotLines {
		m.Train(l)
	}
	return m
}

type tview struct {
	id, str string
	count   int64
}

func view(m *Miner) []tview {
	var out []tview
	for _, t := range m.Templates() {
		out = append(out, tview{t.ID(), t.String(), t.Count()})
	}
	return out
}

func maskedConfig() Config {
	cfg := DefaultConfig()
	cfg.Masks = []Mask{{Name: "USER", Regex: `user [a-z]+`}}
	return cfg
}

func TestSnapshotRoundTrip(t *testing.T) {
	cfg := maskedConfig()
	m := trainedMiner(t, cfg)
	b, err := m.MarshalBinary()
	require.NoError(t, err)

	r, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, r.UnmarshalBinary(b))
	assert.Equal(t, view(m), view(r))
	assert.Equal(t, m.Stats().Live, r.Stats().Live)

	// same matching after restore, and the same evolution when training continues
	more := []string{
		"Accepted password for alice from 10.9.9.9 port 1 ssh2",
		"session opened for user guest by (uid=0)",
		"VM Started (Lifecycle Event)",
		"login user carol from 10.2.2.2:22 ok",
		"brand new line",
	}
	for _, l := range more {
		a, b := m.Match(l), r.Match(l)
		if a == nil {
			assert.Nil(t, b, l)
		} else {
			require.NotNil(t, b, l)
			assert.Equal(t, a.ID(), b.ID(), l)
		}
		ra, rb := m.Train(l), r.Train(l)
		assert.Equal(t, ra.Status, rb.Status, l)
		assert.Equal(t, ra.Template.ID(), rb.Template.ID(), l)
		assert.Equal(t, ra.Template.String(), rb.Template.String(), l)
	}
	assert.Equal(t, view(m), view(r))

	// snapshots of equal states are equal
	b1, _ := m.MarshalBinary()
	b2, _ := r.MarshalBinary()
	assert.Equal(t, b1, b2)
}

func TestSnapshotLRUOrderAndIDState(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTemplates = 3
	cfg.ChurnGuardRatio = 0
	m, _ := New(cfg)
	m.Train("one")
	m.Train("two two")
	m.Train("three three three")
	m.Train("one") // most recent
	b, err := m.MarshalBinary()
	require.NoError(t, err)
	r, _ := New(cfg)
	require.NoError(t, r.UnmarshalBinary(b))
	// the least recently used ("two two") is evicted first in both
	m.Train("four four four four")
	r.Train("four four four four")
	assert.Equal(t, view(m), view(r))
	assert.Nil(t, r.Match("two two"))

	// a smaller MaxTemplates drops the least recently used on restore
	small := DefaultConfig()
	small.MaxTemplates = 1
	s, _ := New(small)
	require.NoError(t, s.UnmarshalBinary(b))
	require.Len(t, s.Templates(), 1)
	assert.Equal(t, "one", s.Templates()[0].String())
	assert.EqualValues(t, 2, s.Stats().Evicted)
}

func TestSnapshotErrorsLeaveStateUnchanged(t *testing.T) {
	cfg := maskedConfig()
	m := trainedMiner(t, cfg)
	good, err := m.MarshalBinary()
	require.NoError(t, err)

	target := trainedMiner(t, cfg)
	target.Train("extra line only in target")
	before := view(target)

	fixCRC := func(b []byte) []byte {
		body := b[:len(b)-4]
		return binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.ChecksumIEEE(body))
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x55
		return b
	}
	version := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(version[len(snapshotMagic):], 99)
	version = fixCRC(version)
	cases := map[string][]byte{
		"empty":         nil,
		"short":         good[:5],
		"bad magic":     append([]byte("NOTMAGIC"), good[8:]...),
		"version":       version,
		"flipped body":  flip(len(good) / 2),
		"flipped crc":   flip(len(good) - 1),
		"truncated":     good[:len(good)-7],
		"truncated+crc": fixCRC(good[:len(good)-9]),
		"trailing+crc":  fixCRC(append(append([]byte(nil), good[:len(good)-4]...), 0, 0, 0, 0, 0)),
	}
	for name, b := range cases {
		err := target.UnmarshalBinary(b)
		require.Error(t, err, name)
		assert.Equal(t, before, view(target), name)
	}

	// a snapshot using a mask the miner does not have
	plain, _ := New(DefaultConfig())
	err = plain.UnmarshalBinary(good)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "USER")
	assert.Empty(t, plain.Templates())

	// corrupt content with a valid checksum is still rejected or restored without panicking
	for i := len(snapshotMagic) + 2; i < len(good)-4; i++ {
		b := append([]byte(nil), good...)
		b[i] ^= 0xff
		b = fixCRC(b)
		tm, _ := New(cfg)
		_ = tm.UnmarshalBinary(b)
		for _, tt := range tm.Templates() {
			_ = tt.String()
			tm.Match(tt.String())
		}
	}
}

func TestSnapshotEmptyMiner(t *testing.T) {
	m, _ := New(DefaultConfig())
	b, err := m.MarshalBinary()
	require.NoError(t, err)
	r := trainedMiner(t, DefaultConfig())
	require.NoError(t, r.UnmarshalBinary(b))
	assert.Empty(t, r.Templates())
	assert.Zero(t, r.Stats().Live)
	assert.Equal(t, StatusCreated, r.Train("after restore").Status)
}

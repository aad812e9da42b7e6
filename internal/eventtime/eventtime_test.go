// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package eventtime

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixNano()

func sec(n int) int64 { return int64(n) * int64(time.Second) }

func TestNowIsTheQuorumthSource(t *testing.T) {
	c := New(DefaultConfig())
	assert.Zero(t, c.Now())
	c.Observe("a", t0)
	assert.Equal(t, t0, c.Now(), "one source: its own progress")
	c.Observe("b", t0+sec(5))
	assert.Equal(t, t0, c.Now(), "two sources: the less advanced one")
	c.Observe("a", t0+sec(10))
	assert.Equal(t, t0+sec(5), c.Now())
	c.Observe("c", t0+sec(7))
	assert.Equal(t, t0+sec(7), c.Now(), "second of three")
	assert.Equal(t, t0+sec(10), c.Max())
	c.Observe("c", t0+sec(3)) // going back is a no-op
	assert.Equal(t, t0+sec(7), c.Progress("c"))
}

// One source stamped ahead (minutes or years) cannot move event time; a second one confirming
// it does.
func TestSingleSourceCannotMoveTime(t *testing.T) {
	for _, ahead := range []time.Duration{10 * time.Minute, 2 * time.Hour, 80 * 365 * 24 * time.Hour} {
		t.Run(ahead.String(), func(t *testing.T) {
			c := New(DefaultConfig())
			for i := range 5 {
				c.Observe(fmt.Sprintf("svc%d", i), t0)
			}
			c.Observe("svc3", t0+int64(ahead))
			assert.Equal(t, t0, c.Now())
			for i := range 5 {
				c.Observe(fmt.Sprintf("svc%d", i), t0+sec(1))
			}
			assert.Equal(t, t0+sec(1), c.Now(), "the others keep moving event time")
		})
	}
	c := New(DefaultConfig())
	c.Observe("a", t0)
	c.Observe("b", t0)
	c.Observe("a", t0+sec(60))
	c.Observe("b", t0+sec(60))
	assert.Equal(t, t0+sec(60), c.Now(), "a jump that two sources make together is real")
}

func TestQuorumOne(t *testing.T) {
	c := New(Config{Quorum: 1, MaxSkew: time.Minute, MaxSources: 10})
	c.Observe("a", t0)
	c.Observe("b", t0+sec(3))
	assert.Equal(t, t0+sec(3), c.Now())
}

func TestAdvanceToIsAFloor(t *testing.T) {
	c := New(DefaultConfig())
	c.AdvanceTo(t0)
	assert.Equal(t, t0, c.Now())
	c.Observe("a", t0-sec(10))
	c.Observe("b", t0-sec(10))
	assert.Equal(t, t0, c.Now())
	c.Observe("a", t0+sec(10))
	c.Observe("b", t0+sec(10))
	assert.Equal(t, t0+sec(10), c.Now())
	c.AdvanceTo(t0) // never backwards
	assert.Equal(t, t0+sec(10), c.Now())
}

func TestStampImpossible(t *testing.T) {
	wall := t0 + sec(30)
	c := New(DefaultConfig())
	goZero := time.Time{}.UnixNano()
	for _, bad := range []int64{0, -1, goZero, MinPlausible - 1, wall + int64(25*time.Hour)} {
		got, fix := c.Stamp(bad, t0, wall)
		assert.Equal(t, FixImpossible, fix, "%d", bad)
		assert.Equal(t, t0, got, "observed time used")
	}
	got, fix := c.Stamp(0, 0, wall)
	assert.Equal(t, FixImpossible, fix)
	assert.Equal(t, wall, got, "no observed time and no event time yet: the wall clock")
	c.Observe("a", t0-sec(5))
	got, _ = c.Stamp(goZero, 0, wall)
	assert.Equal(t, t0-sec(5), got, "else the clock's time")
	assert.Equal(t, uint64(7), c.Stats().Impossible)
	assert.Equal(t, "impossible_timestamp", FixImpossible.String())
}

func TestStampAheadOnlyWhileLive(t *testing.T) {
	wall := t0
	c := New(DefaultConfig())
	c.Observe("a", t0-sec(2))
	c.Observe("b", t0-sec(1))
	got, fix := c.Stamp(t0+sec(30), 0, wall)
	assert.Equal(t, FixNone, fix, "within max_clock_skew")
	assert.Equal(t, t0+sec(30), got)

	got, fix = c.Stamp(t0+int64(10*time.Minute), 0, wall)
	assert.Equal(t, FixAhead, fix)
	assert.Equal(t, wall, got, "no observed time: the wall clock")
	got, fix = c.Stamp(t0+int64(10*time.Minute), t0+sec(1), wall)
	assert.Equal(t, FixAhead, fix)
	assert.Equal(t, t0+sec(1), got, "the observed time when it is plausible")
	got, _ = c.Stamp(t0+int64(10*time.Minute), t0+int64(5*time.Minute), wall)
	assert.Equal(t, wall, got, "an observed time as skewed as the timestamp is not used")
	assert.Equal(t, uint64(3), c.Stats().Ahead)

	// records behind are never moved: they are late data for the caller
	got, fix = c.Stamp(t0-int64(10*time.Minute), 0, wall)
	assert.Equal(t, FixNone, fix)
	assert.Equal(t, t0-int64(10*time.Minute), got)
}

// Replaying last week's data: event time is far behind the wall clock, and a record 10 minutes
// ahead of the others is kept as it is (the quorum keeps it from moving event time).
func TestStampNeverTouchesAReplay(t *testing.T) {
	wall := t0 + int64(7*24*time.Hour)
	c := New(DefaultConfig())
	c.Observe("a", t0)
	c.Observe("b", t0)
	got, fix := c.Stamp(t0+int64(10*time.Minute), 0, wall)
	assert.Equal(t, FixNone, fix)
	assert.Equal(t, t0+int64(10*time.Minute), got)
	assert.False(t, c.Live(wall))
	assert.True(t, c.Live(t0+sec(30)))
}

func TestSkewZeroDisablesAheadCheck(t *testing.T) {
	c := New(Config{Quorum: 2, MaxSkew: 0, MaxSources: 10})
	got, fix := c.Stamp(t0+int64(time.Hour), 0, t0)
	assert.Equal(t, FixNone, fix)
	assert.Equal(t, t0+int64(time.Hour), got)
}

func TestSourcesAreBounded(t *testing.T) {
	c := New(Config{Quorum: 2, MaxSkew: time.Minute, MaxSources: 3})
	c.Observe("a", t0+sec(3))
	c.Observe("b", t0+sec(2))
	c.Observe("c", t0+sec(1))
	c.Observe("d", t0+sec(4)) // evicts c, the least advanced
	assert.Equal(t, 3, c.Sources())
	assert.Zero(t, c.Progress("c"))
	assert.Equal(t, uint64(1), c.Stats().SourcesEvicted)
	assert.Equal(t, t0+sec(3), c.Now())
	c.Observe("e", t0+sec(1)) // evicts b
	c.Observe("f", t0+sec(1)) // evicts e (least advanced, then by name)
	assert.Equal(t, t0+sec(3), c.Now(), "a and d remain the two most advanced")
	assert.Equal(t, t0+sec(4), c.Max())
	assert.Equal(t, uint64(3), c.Stats().SourcesEvicted)
}

func TestEvictingATopSourceRebuildsTheQuorum(t *testing.T) {
	c := New(Config{Quorum: 2, MaxSkew: time.Minute, MaxSources: 2})
	c.Observe("a", t0)
	c.Observe("b", t0+sec(1))
	c.Observe("c", t0+sec(5)) // evicts a, which is in the quorum
	assert.Equal(t, t0+sec(1), c.Now())
	assert.Equal(t, t0+sec(5), c.Max())
}

func TestInvalidConfigFallsBackToDefaults(t *testing.T) {
	require.Error(t, Config{}.Validate())
	require.NoError(t, DefaultConfig().Validate())
	c := New(Config{Quorum: 0, MaxSkew: -1, MaxSources: 0})
	assert.Equal(t, DefaultConfig(), c.cfg)
}

func TestSaneRestore(t *testing.T) {
	wall := t0
	assert.Equal(t, t0-sec(10), SaneRestore(t0-sec(10), wall, time.Minute))
	assert.Zero(t, SaneRestore(t0+int64(10*time.Minute), wall, time.Minute), "a poisoned clock is not restored")
	assert.Zero(t, SaneRestore(-5, wall, time.Minute))
}

// The clock's time depends only on the sequence of observations, not on how they are grouped.
func TestNowIsOrderInsensitiveForTheSameMaxima(t *testing.T) {
	obs := []struct {
		src string
		t   int64
	}{{"a", t0}, {"b", t0 + sec(1)}, {"c", t0 + sec(2)}, {"a", t0 + sec(4)}, {"b", t0 + sec(3)}}
	c1 := New(DefaultConfig())
	for _, o := range obs {
		c1.Observe(o.src, o.t)
	}
	c2 := New(DefaultConfig())
	for i := len(obs) - 1; i >= 0; i-- {
		c2.Observe(obs[i].src, obs[i].t)
	}
	assert.Equal(t, c1.Now(), c2.Now())
}

func BenchmarkObserveSameSource(b *testing.B) {
	c := New(DefaultConfig())
	c.Observe("other", t0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Observe("svc", t0+int64(i))
	}
}

func BenchmarkObserveManySources(b *testing.B) {
	c := New(DefaultConfig())
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("svc-%d", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Observe(names[i%len(names)], t0+int64(i))
	}
}

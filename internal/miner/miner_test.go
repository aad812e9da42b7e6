package miner

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newMiner(tb testing.TB, mod func(*Config)) *Miner {
	tb.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	require.NoError(tb, err)
	return m
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	tests := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.SimilarityThreshold = 0 }, "similarity_threshold"},
		{func(c *Config) { c.SimilarityThreshold = 1.5 }, "similarity_threshold"},
		{func(c *Config) { c.Depth = 2 }, "depth"},
		{func(c *Config) { c.MaxChildren = 0 }, "max_children"},
		{func(c *Config) { c.MaxTemplates = 0 }, "max_templates"},
		{func(c *Config) { c.MaxLineLength = 0 }, "max_line_length"},
		{func(c *Config) { c.MaxTokens = 0 }, "max_tokens"},
		{func(c *Config) { c.ChurnGuardRatio = -1 }, "churn_guard_ratio"},
		{func(c *Config) { c.Masks = []Mask{{Name: "", Regex: "x"}} }, "masks[0].name"},
		{func(c *Config) { c.Masks = []Mask{{Name: "a b", Regex: "x"}} }, "masks[0].name"},
		{func(c *Config) { c.Masks = []Mask{{Name: "A", Regex: "("}} }, "masks[0].regex"},
		{func(c *Config) { c.Masks = []Mask{{Name: "A", Regex: "x"}, {Name: "A", Regex: "y"}} }, "masks[1].name"},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		tc.mod(&cfg)
		err := cfg.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
		_, err = New(cfg)
		assert.Error(t, err)
	}
}

func TestGroupingAndGeneralisation(t *testing.T) {
	m := newMiner(t, nil)
	r1 := m.Train("Accepted password for alice from 10.0.0.1 port 50022 ssh2")
	assert.Equal(t, StatusCreated, r1.Status)
	assert.Equal(t, "Accepted password for alice from <*> port <*> ssh2", r1.Template.String())
	id := r1.Template.ID()

	// same masked shape: matched without change
	r2 := m.Train("Accepted password for alice from 192.168.7.9 port 4022 ssh2")
	assert.Equal(t, StatusMatched, r2.Status)
	assert.Same(t, r1.Template, r2.Template)

	// a new lower-case word is not a variable until a third value shows up
	rb := m.Train("Accepted password for bob from 10.0.0.2 port 1 ssh2")
	assert.Equal(t, StatusCreated, rb.Status)
	r3 := m.Train("Accepted password for carol from 10.0.0.3 port 2 ssh2")
	assert.Equal(t, StatusGeneralized, r3.Status)
	assert.Same(t, r1.Template, r3.Template)
	assert.Equal(t, "Accepted password for <*> from <*> port <*> ssh2", r1.Template.String())
	assert.Equal(t, id, r1.Template.ID(), "id is stable while the template generalises")
	assert.EqualValues(t, 4, r1.Template.Count())
	assert.Same(t, r1.Template, rb.Template.Current())

	// a masked variable never blocks: different address and port match as they are
	r3b := m.Train("Accepted password for dave from 10.9.9.9 port 3 ssh2")
	assert.Equal(t, StatusMatched, r3b.Status)

	// a different protocol word is a different event
	r4 := m.Train("Accepted password for erin from 10.0.0.3 port 2 SSH")
	assert.Equal(t, StatusCreated, r4.Status)
	assert.NotEqual(t, id, r4.Template.ID())

	// different lengths never share a template
	r5 := m.Train("Accepted password for alice")
	assert.Equal(t, StatusCreated, r5.Status)

	st := m.Stats()
	assert.EqualValues(t, 7, st.Lines)
	assert.EqualValues(t, 4, st.Created)
	assert.EqualValues(t, 1, st.Generalized)
	assert.EqualValues(t, 1, st.Merged)
	assert.Equal(t, 3, st.Live)
}

func TestUpperCaseWordsStaySeparate(t *testing.T) {
	m := newMiner(t, nil)
	a := m.Train("VM Paused (Lifecycle Event)").Template
	b := m.Train("VM Resumed (Lifecycle Event)").Template
	c := m.Train("VM Started (Lifecycle Event)").Template
	assert.NotSame(t, a, b)
	assert.NotSame(t, b, c)
	assert.Equal(t, "VM Paused (Lifecycle Event)", a.String())
}

func TestLowerCaseValuesBecomeVariables(t *testing.T) {
	m := newMiner(t, nil)
	a := m.Train("session opened for user cyrus by (uid=0)").Template
	b := m.Train("session opened for user news by (uid=0)").Template
	assert.NotSame(t, a, b, "two values are not yet a variable")
	r := m.Train("session opened for user test by (uid=0)")
	assert.Equal(t, StatusGeneralized, r.Status)
	assert.Equal(t, "session opened for user <*> by (uid=<*>)", r.Template.String())
	assert.Same(t, r.Template, a.Current())
	assert.Same(t, r.Template, b.Current())
	assert.EqualValues(t, 3, r.Template.Count())
	assert.EqualValues(t, 1, m.Stats().Merged)
	assert.Equal(t, 1, m.Stats().Live)
	// later values match directly
	assert.Equal(t, StatusMatched, m.Train("session opened for user guest by (uid=0)").Status)
}

func TestStableIDs(t *testing.T) {
	m := newMiner(t, nil)
	r := m.Train("disk /dev/sda1 is full")
	h := fnv.New64a()
	_, _ = h.Write([]byte("disk <*> is full")) // hash.Hash.Write never returns an error
	assert.Equal(t, fmt.Sprintf("%016x", h.Sum64()), r.Template.ID())
	// same creation-time text in another miner: same id
	m2 := newMiner(t, nil)
	assert.Equal(t, r.Template.ID(), m2.Train("disk /mnt/x is full").Template.ID())

	// collisions are resolved deterministically
	taken := map[string]bool{}
	first := templateID("x", func(id string) bool { return taken[id] })
	taken[first] = true
	second := templateID("x", func(id string) bool { return taken[id] })
	assert.NotEqual(t, first, second)
	assert.Equal(t, second, templateID("x", func(id string) bool { return taken[id] }))
	assert.Len(t, second, 16)
}

func TestMatchDoesNotLearn(t *testing.T) {
	m := newMiner(t, nil)
	assert.Nil(t, m.Match("nothing here yet"))
	tm := m.Train("connection from 10.0.0.1 closed").Template
	before := m.Stats()
	assert.Same(t, tm, m.Match("connection from 10.9.9.9 closed"))
	assert.Nil(t, m.Match("totally different line with more tokens"))
	assert.Equal(t, before, m.Stats())
	assert.EqualValues(t, 1, tm.Count())
}

func TestParams(t *testing.T) {
	m := newMiner(t, nil)
	line := "uid=0 euid=42 host db-7.example.com took 12ms"
	tm := m.Train(line).Template
	assert.Equal(t, "uid=<*> euid=<*> host <*> took <*>", tm.String())
	assert.Equal(t, []string{"0", "42", "db-7.example.com", "12ms"}, m.Params(tm, line, nil))
	got := m.Params(tm, "uid=5 euid=6 host h.example.org took 1s", []string{"x"})
	assert.Equal(t, []string{"x", "5", "6", "h.example.org", "1s"}, got)
	// does not fit: unchanged
	assert.Equal(t, []string{"x"}, m.Params(tm, "short", []string{"x"}))
	assert.Nil(t, m.Params(nil, line, nil))
	// generalised tokens capture the varying part
	m.Train("Starting worker alpha1 now")
	m.Train("Starting worker beta22 now")
	g := m.Train("Starting worker gamma333 now").Template
	assert.Equal(t, "Starting worker <*> now", g.String())
	assert.Equal(t, []string{"delta4"}, m.Params(g, "Starting worker delta4 now", nil))
	// multi-word quantities are one parameter
	q := m.Train("sent 3 bytes (0.0 KB) ok").Template
	assert.Equal(t, []string{"3 bytes (0.0 KB)"}, m.Params(q, "sent 3 bytes (0.0 KB) ok", nil))
}

func TestLRUEviction(t *testing.T) {
	m := newMiner(t, func(c *Config) { c.MaxTemplates = 2; c.ChurnGuardRatio = 0 })
	a := m.Train("alpha one").Template
	b := m.Train("beta two three").Template
	m.Train("alpha one") // touch a: b is now least recently used
	c := m.Train("gamma four five six").Template
	st := m.Stats()
	assert.EqualValues(t, 1, st.Evicted)
	assert.Equal(t, 2, st.Live)
	assert.Nil(t, b.Current(), "evicted")
	assert.Same(t, a, a.Current())
	assert.Equal(t, []*Template{a, c}, m.Templates())
	assert.Nil(t, m.Match("beta two three"))
	// re-created with the same id (the id depends on the creation-time text only)
	nb := m.Train("beta two three").Template
	assert.Equal(t, b.ID(), nb.ID())
	assert.EqualValues(t, 2, m.Stats().Evicted)
}

func TestChurnGuard(t *testing.T) {
	m := newMiner(t, func(c *Config) { c.MaxTemplates = 1; c.ChurnGuardRatio = 0.5 })
	kept := m.Train("kept line").Template
	blocked := 0
	var firstBlocked int
	for i := 0; i < 50; i++ {
		// distinct lengths: never similar
		r := m.Train(strings.Repeat("w ", i+3))
		if r.Status == StatusChurnBlocked {
			assert.Nil(t, r.Template)
			if blocked == 0 {
				firstBlocked = i
			}
			blocked++
		}
	}
	require.Positive(t, blocked)
	// creation 1 ("kept line") evicts nothing; creations 2..8 each evict: 7/8 > 0.5
	assert.Equal(t, churnMinCreations-1, firstBlocked, "trips once evictions/creations exceed the ratio")
	st := m.Stats()
	assert.EqualValues(t, blocked, st.ChurnBlocked)
	assert.Nil(t, kept.Current())
	// matching still works while creation is paused
	last := m.Templates()[0]
	r := m.Train(strings.TrimSpace(strings.Repeat("w ", last.Tokens())))
	assert.Equal(t, StatusMatched, r.Status)
	// after one window creation resumes
	for i := uint64(0); i < m.churnWindow(); i++ {
		m.Train(strings.TrimSpace(strings.Repeat("w ", last.Tokens())))
	}
	assert.Equal(t, StatusCreated, m.Train("fresh line after the pause").Status)

	// disabled guard never blocks
	m2 := newMiner(t, func(c *Config) { c.MaxTemplates = 1; c.ChurnGuardRatio = 0 })
	for i := 0; i < 50; i++ {
		assert.Equal(t, StatusCreated, m2.Train(strings.Repeat("w ", i+3)).Status)
	}
	assert.Zero(t, m2.Stats().ChurnBlocked)
	assert.EqualValues(t, 49, m2.Stats().Evicted)
}

func TestTruncation(t *testing.T) {
	m := newMiner(t, func(c *Config) { c.MaxLineLength = 12 })
	r := m.Train("short line")
	assert.False(t, r.Truncated)
	r = m.Train("a fairly long line that will be cut")
	assert.True(t, r.Truncated)
	assert.Equal(t, "a fairly lon", r.Template.String())
	assert.EqualValues(t, 1, m.Stats().Truncated)
}

func TestTokenCap(t *testing.T) {
	m := newMiner(t, func(c *Config) { c.MaxTokens = 3 })
	r := m.Train("a b c d 42 f")
	require.NotNil(t, r.Template)
	assert.Equal(t, 3, r.Template.Tokens())
	assert.Equal(t, "a b c d <*> f", r.Template.String())
	assert.EqualValues(t, 1, m.Stats().TokensCapped)
	r2 := m.Train("a b c d 7 f")
	assert.Equal(t, StatusMatched, r2.Status)
	assert.Equal(t, []string{"7"}, m.Params(r2.Template, "a b c d 7 f", nil))
	assert.EqualValues(t, 2, m.Stats().TokensCapped)
	m.Train("a b c")
	assert.EqualValues(t, 2, m.Stats().TokensCapped)
}

func TestEmpty(t *testing.T) {
	m := newMiner(t, nil)
	for _, l := range []string{"", "   ", "\t\r\n"} {
		r := m.Train(l)
		assert.Equal(t, StatusEmpty, r.Status)
		assert.Nil(t, r.Template)
	}
	assert.EqualValues(t, 3, m.Stats().Empty)
	assert.Zero(t, m.Stats().Live)
}

func TestTemplateStringNoAlloc(t *testing.T) {
	m := newMiner(t, nil)
	tm := m.Train("user 42 logged in").Template
	var s string
	allocs := testing.AllocsPerRun(100, func() { s = tm.String() })
	assert.Zero(t, allocs)
	assert.Equal(t, "user <*> logged in", s)
}

func TestTrainWarmDoesNotAllocate(t *testing.T) {
	m := newMiner(t, nil)
	lines := []string{
		"Received block blk_123 of size 67108864 from /10.0.0.1",
		"PacketResponder 1 for block blk_-42 terminating",
		"Verification succeeded for blk_77",
		"session opened for user root by (uid=0)",
		"loaded core2.1234 module", // keeps some digits of a token and masks others: no shape caching
	}
	for _, l := range lines {
		m.Train(l)
	}
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		m.Train(lines[i%len(lines)])
		m.Match(lines[(i+1)%len(lines)])
		i++
	})
	assert.Zero(t, allocs)
	assert.Equal(t, len(lines), m.Stats().Live)
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{StatusMatched: "matched", StatusCreated: "created", StatusGeneralized: "generalized",
		StatusChurnBlocked: "churn_blocked", StatusEmpty: "empty", Status(99): "unknown"} {
		assert.Equal(t, want, s.String())
	}
}

func TestManyTemplatesAndTreeFanOut(t *testing.T) {
	m := newMiner(t, func(c *Config) { c.MaxChildren = 3 })
	for i := 0; i < 20; i++ {
		w := strings.Repeat(string(rune('a'+i)), 3)
		m.Train(w + " service started")
	}
	for i := 0; i < 20; i++ {
		w := strings.Repeat(string(rune('a'+i)), 3)
		got := m.Match(w + " service started")
		require.NotNil(t, got, "line %d", i)
	}
	assert.Len(t, m.Templates(), m.Stats().Live)
	for i, tm := range m.Templates() {
		assert.NotEmpty(t, tm.ID(), strconv.Itoa(i))
	}
}

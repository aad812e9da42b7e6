package miner

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// firstTemplate returns the template a fresh Miner creates for line.
func firstTemplate(t *testing.T, cfg Config, line string) string {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	r := m.Train(line)
	require.NotNil(t, r.Template, "line %q", line)
	return r.Template.String()
}

func TestMaskTable(t *testing.T) {
	tests := []struct{ in, want string }{
		// numbers
		{"took 12 steps", "took <*> steps"},
		{"offset -42 and +7", "offset <*> and <*>"},
		{"ratio 3.14159", "ratio <*>"},
		{"at 0x1f and 0XDEADBEEF", "at <*> and <*>"},
		{"hash 9f4ef63 id a64f992", "hash <*> id <*>"},
		{"tree C1 wire", "tree C1 wire"}, // short hex-looking words stay
		{"BIOS-e820: usable", "BIOS-e820: usable"},
		// addresses
		{"from 10.1.2.3 ok", "from <*> ok"},
		{"from 10.1.2.3:50010 ok", "from <*> ok"},
		{"/10.1.2.3:50010:Got exception", "<*>:Got exception"},
		{"to /10.251.90.64: done", "to <*>: done"},
		{"addr fe80::1ff:fe23:4567:890a up", "addr <*> up"},
		{"mac 00:11:43:e3:ba:c3 seen", "mac <*> seen"},
		{"peer msra-sa-41:9000 gone", "peer <*> gone"},
		{"host proxy.cse.cuhk.edu.hk:5070 open", "host <*> open"},
		{"resolve ns.example.com failed", "resolve <*> failed"},
		{"at host-1/10.1.2.3:8030", "at <*>"},
		// ids
		{"uuid 96abccce-8d1f-4e07-b6d1-4b2ab87e23b4 done", "uuid <*> done"},
		{"block blk_-6952295868487656571 ok", "block <*> ok"},
		{"job job_2008_0001 started", "job <*> started"},
		{"attempt_1445144423722_0020_m_000000_0 TaskAttempt", "<*> TaskAttempt"},
		{"jk2_init() Found child", "jk2_init() Found child"},
		{"card R02-M1-N0-C:J12-U11 bad", "card <*> bad"},
		{"node node-246 up", "node node-<*> up"},
		{"generating core.2275", "generating core.<*>"},
		{"ssh2 via eth1", "ssh2 via eth1"},
		{"key Xq3vLmN8pTz0aBcDeFgHiJkL ok", "key <*> ok"},
		{"via Log4jLoggerAdapter now", "via Log4jLoggerAdapter now"},
		{"IO80211AWDLPeerManager::setAwdlAutoMode Resuming", "<*>::setAwdlAutoMode Resuming"},
		// paths, urls, emails
		{"open /var/log/messages failed", "open <*> failed"},
		{"open C:\\Windows\\System32\\x.dll failed", "open <*> failed"},
		{"get http://example.com/a?b=1 ok", "get <*> ok"},
		{"see (http://x.org/y).", "see (<*>)."},
		{"mail to bob@example.com sent", "mail to <*> sent"},
		{`"GET /v2/servers/detail HTTP/1.1" status: 200`, `"GET <*> <*>" status: <*>`},
		// times and dates
		{"at 12:30:45 now", "at <*> now"},
		{"[09:21:58.929] start", "[<*>] start"},
		{"on 2017-05-16 00:00:00.008 x", "on <*> <*> x"},
		{"at Fri Jun 17 07:07:00 2005 x", "at <*> <*> <*> <*> <*> x"},
		{"status=M Fri Jul 01 08:16:53 PDT 2005", "status=M <*> <*> <*> <*> <*> <*>"},
		// durations and sizes
		{"took 12ms", "took <*>"},
		{"took 3.5s total", "took <*> total"},
		{"wrote 10 KB", "wrote <*>"},
		{"free 2.1 GiB, used 5 MB", "free <*>, used <*>"},
		{"3 bytes (0.0 KB) sent", "<*> sent"},
		{"lifetime <1 sec", "lifetime <*>"},
		{"for 30 seconds", "for <*> seconds"},
		// key=value and quoted values
		{"uid=0 euid=0 tty=NODEVssh", "uid=<*> euid=<*> tty=NODEVssh"},
		{`tag="View Lock", name=x`, `tag="<*>", name=x`},
		{"ready=true,mode=false", "ready=<*>,mode=<*>"},
		{"ws=null user root", "ws=<*> user <*>"},
		// punctuation kept
		{"Rect(0, 0 - 720, 1280)", "Rect(<*>, <*> - <*>, <*>)"},
		{"alignment...............0", "alignment...............<*>"},
		{"(TID 3). done", "(TID <*>). done"},
		{"a  b\tc", "a  b\tc"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, firstTemplate(t, DefaultConfig(), tc.in))
			checkTokenFlags(t, newMiner(t, nil), tc.in)
			checkTokenFlags(t, newMiner(t, func(c *Config) { c.Masks = []Mask{{Name: "N", Regex: "[0-9]+"}} }), tc.in)
		})
	}
}

func TestMaskAdjacentWildcardsCollapse(t *testing.T) {
	// "0x1f" right after "=" stays one wildcard; adjacent masked spans collapse
	cfg := DefaultConfig()
	cfg.Masks = []Mask{{Name: "NUM", Regex: `[0-9]+`}}
	got := firstTemplate(t, cfg, "id=12345abc")
	assert.NotContains(t, got, "><")
	assert.Equal(t, 1, strings.Count(got, "<"))
}

func TestUserMasks(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Masks = []Mask{
		{Name: "IP", Regex: `\d+\.\d+\.\d+\.\d+`},
		{Name: "USER", Regex: `user [a-z]+`},
	}
	m, err := New(cfg)
	require.NoError(t, err)
	r := m.Train("login user alice from 10.0.0.1:22 ok")
	require.NotNil(t, r.Template)
	assert.Equal(t, "login <USER> from <IP>:<*> ok", r.Template.String())
	// a second line with other values matches without generalising
	r2 := m.Train("login user bob from 192.168.1.7:2222 ok")
	assert.Equal(t, StatusMatched, r2.Status)
	assert.Same(t, r.Template, r2.Template)
	assert.Equal(t, []string{"user bob", "192.168.1.7", "2222"}, m.Params(r2.Template, "login user bob from 192.168.1.7:2222 ok", nil))
}

func TestInvalidUTF8AndBinary(t *testing.T) {
	m, err := New(DefaultConfig())
	require.NoError(t, err)
	lines := []string{
		"\xff\xfe\xfd garbage \x80\x81",
		"\x00\x00\x00",
		"a\x00b\x00c",
		string([]byte{0xe2, 0x82}),
		strings.Repeat("\x01\x02\x03 ", 50),
		"héllo wörld 日本語 42",
	}
	for _, l := range lines {
		r := m.Train(l)
		if r.Template != nil {
			assert.NotEmpty(t, r.Template.String())
			m.Params(r.Template, l, nil)
		}
		m.Match(l)
	}
	r := m.Train("\x00\x00\x00")
	assert.Equal(t, StatusEmpty, r.Status)
}

func TestTruncateRuneBoundary(t *testing.T) {
	s := "ab日本" // 2 + 3 + 3 bytes
	got, cut := truncate(s, 4)
	assert.True(t, cut)
	assert.Equal(t, "ab", got)
	assert.True(t, utf8.ValidString(got))
	got, cut = truncate(s, 8)
	assert.False(t, cut)
	assert.Equal(t, s, got)
	got, cut = truncate("\x80\x80\x80\x80\x80\x80", 3)
	assert.True(t, cut)
	assert.Len(t, got, 3)
}

func TestGeneralizePattern(t *testing.T) {
	w := "<*>"
	r := func(p string) string { return strings.ReplaceAll(p, wildString, w) }
	assert.Equal(t, "uid=<*>", r(generalize("uid=0x", "uid=7y")))
	assert.Equal(t, "com.apple.<*>:", r(generalize("com.apple.icloud.fmfd:", "com.apple.Safari.Update:")))
	assert.Equal(t, "<*>", r(generalize("HTTPS", "SOCKS5")))
	assert.Equal(t, "[<*>]", r(generalize("[Thunderbird_A8]", "[Thunderbird_B8]")))
	assert.Equal(t, "<*>:<*>", r(generalize(wildString+":Got", wildString+":Put")))
	for _, c := range [][2]string{{"uid=0", "uid=7"}, {"a.b.c", "a.x.c"}, {"foo:", "foo:bar"}, {"x", "y"}} {
		g := generalize(c[0], c[1])
		assert.True(t, matchPattern(g, c[0]), "%q must match %q", r(g), c[0])
		assert.True(t, matchPattern(g, c[1]), "%q must match %q", r(g), c[1])
	}
}

func TestMatchAndCapturePattern(t *testing.T) {
	p := "a=" + wildString + ",b=" + wildString + ";"
	assert.True(t, matchPattern(p, "a=1,b=2;"))
	assert.True(t, matchPattern(p, "a=,b=;"))
	assert.False(t, matchPattern(p, "a=1,c=2;"))
	got, ok := capturePattern(p, "a=1,b=22;", nil)
	assert.True(t, ok)
	assert.Equal(t, []string{"1", "22"}, got)
	got, ok = capturePattern(p, "x", []string{"keep"})
	assert.False(t, ok)
	assert.Equal(t, []string{"keep"}, got)
}

func TestHashShortAndLong(t *testing.T) {
	seen := map[uint64]string{}
	for _, s := range []string{"", "a", "ab", "abc", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnopq", "b", "ba"} {
		h := hashString(s, 1)
		if prev, ok := seen[h]; ok {
			t.Fatalf("hash collision between %q and %q", s, prev)
		}
		seen[h] = s
		assert.Equal(t, h, hashBytes([]byte(s), 1))
	}
	assert.NotEqual(t, hashString("abc", 1), hashString("abc", 2))
}

func TestScan8MatchesByteLoop(t *testing.T) {
	inputs := []string{
		"abcdefghijklmnop qrs",
		"0123456789.abcdefgh=x",
		"ABCDEFGH\x01IJ",
		"héllowörldxyz12345 x",
		"[]{}()<>;:,.!?@#$%^&*-_+~`|\\/ z",
	}
	for _, in := range inputs {
		i, or := scan8(in, 0)
		j := 0
		var want uint8
		for j < i {
			want |= stab[in[j]]
			j++
		}
		assert.Equal(t, want, or, "classes of %q[:%d]", in, i)
		if i < len(in) && i+8 <= len(in) {
			c := in[i]
			assert.True(t, stab[c]&(sSpace|sEq) != 0 || c < 0x20, "stopped at %q in %q", c, in)
		}
	}
}

func TestWordCacheSameShape(t *testing.T) {
	pairs := [][2]string{
		{"ssh2", "ssh3"},
		{"a1-1-b1", "a5-6-b7"},
		{"uid=0", "uid=7"},
		{"10.10.34.11:3888", "10.20.30.40:5000"},
		{"blk_-123", "blk_-987"},
		{"node-12", "node-99"},
		{"e820:", "e999:"},
		{"[ib_sm_sweep.c:1831]:", "[ib_sm_sweep.c:1455]:"},
		{"0:0:0", "1:2:3"},
	}
	for _, p := range pairs {
		wc := &wordCache{seed: 1}
		maskWordC(nil, 0, p[0], wordOr(p[0]), wc)
		got, gf := maskWordC(nil, 0, p[1], wordOr(p[1]), wc)
		want, wf := maskWord(nil, 0, p[1], wordOr(p[1]))
		assert.Equal(t, string(want), string(got), "%s then %s", p[0], p[1])
		assert.Equal(t, wf, gf, "%s then %s", p[0], p[1])
	}
}

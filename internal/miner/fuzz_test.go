package miner

import (
	"strings"
	"testing"
)

// FuzzTrain mines arbitrary input (one line per '\n') and checks invariants; it also feeds
// the input to UnmarshalBinary. Run with: go test -fuzz FuzzTrain ./internal/miner/
func FuzzTrain(f *testing.F) {
	seeds := []string{
		"Received block blk_-123 of size 67108864 from /10.0.0.1\nPacketResponder 1 for block blk_42 terminating",
		"session opened for user cyrus by (uid=0)\nsession opened for user news by (uid=0)\nsession opened for user test by (uid=0)",
		"/10.1.2.3:50010:Got exception while serving blk_1 to /10.1.2.4:",
		`acquire lock=233570404, flags=0x1, tag="View Lock", name=com.android.systemui, ws=null, uid=10037`,
		"0 bytes (0.0 KB) sent, lifetime <1 sec\n403 bytes (0.4 KB) sent, lifetime 00:01",
		"at Fri Jun 17 07:07:00 2005 id 96abccce-8d1f-4e07-b6d1-4b2ab87e23b4 http://x.org/a?b=1",
		"\xff\xfe\x00\x01 \x80 =\" '= 0x 0x1f ::: /// ...",
		"a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5",
		"AIOPSMNR\x01\x00garbage",
		"",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		cfg := DefaultConfig()
		cfg.MaxTemplates = 8
		cfg.MaxTokens = 16
		cfg.MaxLineLength = 256
		cfg.ChurnGuardRatio = 0.5
		cfg.Masks = []Mask{{Name: "HEX", Regex: `0x[0-9a-fA-F]+`}}
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(data, "\n") {
			checkTokenFlags(t, m, line)
			r := m.Train(line)
			if r.Template != nil {
				if r.Template.String() == "" || r.Template.ID() == "" {
					t.Fatalf("empty template for %q", line)
				}
				wild := 0
				for _, tt := range r.Template.toks {
					wild += countWild(tt.pat)
				}
				if got := m.Params(r.Template, line, nil); len(got) != wild {
					t.Fatalf("Params(%q) = %q, want %d values for %q", line, got, wild, r.Template.String())
				}
			}
			m.Match(line)
		}
		st := m.Stats()
		if st.Live > cfg.MaxTemplates || st.Live != len(m.Templates()) {
			t.Fatalf("live %d, templates %d, max %d", st.Live, len(m.Templates()), cfg.MaxTemplates)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := New(cfg)
		if err := m2.UnmarshalBinary(b); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		a, c := m.Templates(), m2.Templates()
		if len(a) != len(c) {
			t.Fatalf("round trip: %d vs %d templates", len(a), len(c))
		}
		for i := range a {
			if a[i].ID() != c[i].ID() || a[i].String() != c[i].String() || a[i].Count() != c[i].Count() {
				t.Fatalf("round trip: %q vs %q", a[i].String(), c[i].String())
			}
		}
		m3, _ := New(cfg)
		_ = m3.UnmarshalBinary([]byte(data))
		for _, tm := range m3.Templates() {
			m3.Match(tm.String())
		}
	})
}

// checkTokenFlags verifies that the flags the tokenizer computes while masking equal the
// flags derived from the masked form, which restored templates use: both must route a token
// to the same prefix-tree child. It also checks the word and shape caches.
func checkTokenFlags(t *testing.T, m *Miner, line string) {
	t.Helper()
	line, _ = truncate(line, m.cfg.MaxLineLength)
	checkWordCache(t, line)
	checkShape(t, m, line)
	m.prepare(line)
	for _, tk := range m.tok.toks {
		b := m.tok.norm[tk.ns:tk.ne]
		if got := formFlags(b); got != tk.flags {
			t.Fatalf("line %q token %q: tokenizer flags %b, form flags %b", line, b, tk.flags, got)
		}
	}
}

// checkWordCache verifies that the shape-keyed word cache reproduces the masker exactly, both
// when it learns a shape and when it reuses it for the same word.
func checkWordCache(t *testing.T, line string) {
	t.Helper()
	wc := &wordCache{seed: 7}
	for _, w := range strings.FieldsFunc(line, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) {
		want, wf := maskWord(nil, 0, w, wordOr(w))
		for pass := 0; pass < 2; pass++ {
			got, gf := maskWordC(nil, 0, w, wordOr(w), wc)
			if string(got) != string(want) || gf != wf {
				t.Fatalf("word %q pass %d: cached %q/%b, masker %q/%b", w, pass, got, gf, want, wf)
			}
		}
	}
}

// checkShape verifies the shape cache invariant: changing the digits of the runs a line masks
// (keeping run lengths and the constant runs) changes neither the shape nor the signature.
func checkShape(t *testing.T, m *Miner, line string) {
	t.Helper()
	if len(m.tok.masks) > 0 {
		return
	}
	line, _ = truncate(line, m.cfg.MaxLineLength)
	h, ok := m.tok.lineShape(line)
	if !ok {
		return
	}
	m.tok.tokenize(line, m.cfg.MaxTokens)
	sig := m.tok.sig
	if !m.tok.literalRuns(line) {
		return
	}
	literal := map[int]bool{}
	for _, k := range m.tok.lits {
		literal[int(k)] = true
	}
	runs := append([]digitRun(nil), m.tok.runs...)
	for variant := 1; variant <= 3; variant++ {
		b := []byte(line)
		for k, r := range runs {
			if literal[k] {
				continue
			}
			for i := r.start; i < r.start+r.n; i++ {
				b[i] = byte('0' + (int(b[i]-'0')+variant*(k+1)+int(i))%10)
			}
		}
		other := string(b)
		h2, ok2 := m.tok.lineShape(other)
		if !ok2 || h2 != h {
			t.Fatalf("shape of %q differs from %q", other, line)
		}
		m.tok.tokenize(other, m.cfg.MaxTokens)
		if m.tok.sig != sig {
			t.Fatalf("same shape, masked digits changed, different signature:\n%q\n%q", line, other)
		}
	}
}

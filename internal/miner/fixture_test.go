package miner

import (
	_ "embed"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

//go:embed testdata/fixture.txt
var fixture string

// TestFixtureGrouping mines a small hand-written fixture and checks that lines of the same
// group end in one final template and different groups in different templates.
func TestFixtureGrouping(t *testing.T) {
	m := newMiner(t, nil)
	groupOf := map[*Template]string{}
	first := map[string]*Template{}
	var lines []string
	var got []*Template
	var groups []string
	for _, row := range strings.Split(fixture, "\n") {
		if row == "" || strings.HasPrefix(row, "#") {
			continue
		}
		g, line, ok := strings.Cut(row, "\t")
		require.True(t, ok, row)
		groups = append(groups, g)
		lines = append(lines, line)
		checkTokenFlags(t, m, line)
		got = append(got, m.Train(line).Template)
	}
	for i := range got {
		tm := got[i].Current()
		require.NotNil(t, tm, lines[i])
		if prev, ok := groupOf[tm]; ok {
			assert.Equal(t, prev, groups[i], "%q shares template %q with group %s", lines[i], tm.String(), prev)
		}
		groupOf[tm] = groups[i]
		if f, ok := first[groups[i]]; ok {
			assert.Same(t, f, tm, "group %s split: %q vs %q", groups[i], f.String(), tm.String())
		} else {
			first[groups[i]] = tm
		}
	}
	want := map[string]string{
		"ssh-fail":    "Failed password for invalid user <*> from <*> port <*> ssh2",
		"kern-link":   "<*> <*> eth0: NIC Link is Up <*> Mbps Full Duplex, Flow Control: None", // e1000e looks like a hex id
		"app-order":   "Order <*> created for customer <*> in <*>",
		"app-gc":      "GC pause <*>, heap <*> -> <*>",
		"db-slow":     "slow query took <*>: SELECT * FROM orders WHERE id = <*>",
		"disk-full":   "No space left on device: <*>",
		"proto-https": "client <*> open through proxy <*> HTTPS",
	}
	want["k8s-pull"] = `Pulling image "<*>"`
	want["ssh-accept"] = "Accepted publickey for deploy from <*> port <*> ssh2: RSA SHA256:<*>"
	want["http-get"] = `<*> - - "GET <*> <*>" <*> <*> "-" "<*>"`
	want["cron-full"] = "(<*>) CMD (<*> --full)"
	for g, s := range want {
		assert.Equal(t, s, first[g].String(), g)
	}
}

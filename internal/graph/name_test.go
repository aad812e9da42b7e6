// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTruncateName(t *testing.T) {
	short := strings.Repeat("a", MaxNameBytes)
	got, cut := TruncateName(short)
	assert.False(t, cut)
	assert.Equal(t, short, got)

	long := strings.Repeat("a", MaxNameBytes+1)
	got, cut = TruncateName(long)
	require.True(t, cut)
	assert.LessOrEqual(t, len(got), MaxNameBytes)
	assert.Contains(t, got, TruncatedMarker)
	assert.True(t, strings.HasPrefix(got, strings.Repeat("a", 200)))
	again, _ := TruncateName(long)
	assert.Equal(t, got, again, "the same name always truncates to the same name")
	idem, cut := TruncateName(got)
	assert.False(t, cut, "a truncated name is not truncated again")
	assert.Equal(t, got, idem)
	other, _ := TruncateName(long + "b")
	assert.NotEqual(t, got, other, "names with a common prefix stay apart")

	// Multi-byte runes are never split.
	for pad := range 4 {
		name := strings.Repeat("x", pad) + strings.Repeat("é€😀", 200)
		got, cut := TruncateName(name)
		require.True(t, cut)
		assert.True(t, utf8.ValidString(got), "pad %d: %q", pad, got)
		assert.LessOrEqual(t, len(got), MaxNameBytes)
	}
}

func TestLongNamesAreBoundedAndJoin(t *testing.T) {
	const mib = 1 << 20
	client := strings.Repeat("c", mib)
	server := strings.Repeat("s", mib)
	peer := strings.Repeat("p", mib)
	system := strings.Repeat("y", mib)
	st := newStore(t, nil)
	for i := range 3 {
		feed(st, []op{spans(
			sp{uint32(i + 1), 1, 0, client, KindClient, int64(i) * 100, int64(i)*100 + 10, false, Peer{}},
			sp{uint32(i + 1), 2, 1, server, KindServer, int64(i)*100 + 1, int64(i)*100 + 9, false, Peer{}},
			sp{uint32(i + 1), 3, 2, server, KindClient, int64(i)*100 + 2, int64(i)*100 + 8, false, Peer{Name: peer, Kind: PeerDatabase, System: system}},
		)})
	}
	feed(st, []op{logOp(lg{0, 0, client, 300, true, Peer{Name: peer, Kind: PeerDatabase, System: system}})})
	st.FlushAll()

	snap := st.Snapshot()
	require.Len(t, snap, 3)
	cName, _ := TruncateName(client)
	sName, _ := TruncateName(server)
	pName, _ := TruncateName(peer)
	ySystem, _ := TruncateName(system)
	calls := map[[2]string]uint64{}
	for _, e := range snap {
		for _, n := range []Node{e.Client, e.Server} {
			assert.LessOrEqual(t, len(n.Name), MaxNameBytes)
			assert.LessOrEqual(t, len(n.System), MaxNameBytes)
		}
		calls[[2]string{e.Client.Name, e.Server.Name}] = e.Calls
	}
	assert.Equal(t, map[[2]string]uint64{
		{cName, sName}: 3, // the three traces join on one edge
		{sName, pName}: 3,
		{cName, pName}: 0, // the log record's peer edge
	}, calls)
	for _, e := range snap {
		if e.Server.Name == pName {
			assert.Equal(t, ySystem, e.Server.System)
		}
	}
	for i := range st.nodes {
		assert.LessOrEqual(t, len(st.nodes[i].name), MaxNameBytes)
	}
	s := st.Stats()
	assert.Equal(t, uint64(3+3*2+1), s.Truncated[FieldService], "each span and log record with a long service")
	assert.Equal(t, uint64(3+1), s.Truncated[FieldPeer])
	assert.Equal(t, uint64(3+1), s.Truncated[FieldPeerSystem])
}

func TestRestoreTruncatesLongNames(t *testing.T) {
	st := newStore(t, nil)
	feed(st, []op{spans(pair(1, 100, false)...)})
	st.FlushAll()
	// A snapshot written before names were bounded: give node "a" a long name.
	long := strings.Repeat("a", 4*MaxNameBytes)
	i := st.nodeIdx["a"]
	delete(st.nodeIdx, "a")
	st.nodes[i].name = long
	st.nodeIdx[long] = i
	data, err := st.MarshalBinary()
	require.NoError(t, err)

	rs := newStore(t, nil)
	require.NoError(t, rs.UnmarshalBinary(data))
	want, _ := TruncateName(long)
	snap := rs.Snapshot()
	require.Len(t, snap, 1)
	assert.Equal(t, want, snap[0].Client.Name)
	assert.Equal(t, uint64(1), rs.Stats().Truncated[FieldService])
}

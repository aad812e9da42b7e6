// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package loghub

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHDFSLine(t *testing.T) {
	ts, level, content, ok := ParseHDFSLine("081109 203530 147 INFO dfs.DataNode$DataXceiver: Receiving block blk_-1 src: /10.0.0.1:1 dest: /10.0.0.2:2")
	assert.True(t, ok)
	assert.Equal(t, time.Date(2008, 11, 9, 20, 35, 30, 0, time.UTC).UnixNano(), ts)
	assert.Equal(t, "INFO", level)
	assert.Equal(t, "Receiving block blk_-1 src: /10.0.0.1:1 dest: /10.0.0.2:2", content)

	for _, bad := range []string{"", "too short", "xx yy 1 INFO comp: msg", "081109 203530 147 INFO nocolon msg"} {
		_, _, _, ok := ParseHDFSLine(bad)
		assert.False(t, ok, bad)
	}
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	hdfs := filepath.Join(dir, "hdfs.log")
	require.NoError(t, os.WriteFile(hdfs, []byte("081109 203530 147 INFO dfs.DataNode$DataXceiver: Receiving block blk_-12 src: x\n081109 203531 147 WARN dfs.X: no block here\n"), 0o600))
	var got []Line
	require.NoError(t, ReadHDFS(hdfs, func(l Line) { got = append(got, l) }))
	require.Len(t, got, 2)
	assert.Equal(t, "blk_-12", got[0].Block)
	assert.Empty(t, got[1].Block)
	assert.Equal(t, "WARN", got[1].Level)

	labels := filepath.Join(dir, "labels.csv")
	require.NoError(t, os.WriteFile(labels, []byte("BlockId,Label\nblk_-12,Anomaly\nblk_3,Normal\n"), 0o600))
	lb, err := ReadHDFSLabels(labels)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"blk_-12": true, "blk_3": false}, lb)
	require.NoError(t, os.WriteFile(labels, []byte("Id,Label\n"), 0o600))
	_, err = ReadHDFSLabels(labels)
	assert.Error(t, err)

	bgl := filepath.Join(dir, "bgl.csv")
	require.NoError(t, os.WriteFile(bgl, []byte("LineId,Label,Timestamp,Date,Node,Time,NodeRepeat,Type,Component,Level,Content,EventId,EventTemplate\n"+
		"1,-,1117838570,2005.06.03,R02,2005-06-03-15.42.50.675872,R02,RAS,KERNEL,INFO,instruction cache parity error corrected,E1,x\n"+
		"2,KERNDTLB,1117838571,2005.06.03,R02,2005-06-03-15.42.51.000001,R02,RAS,KERNEL,FATAL,data TLB error interrupt,E2,y\n"), 0o600))
	rows, err := ReadBGL(bgl)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.False(t, rows[0].Alert)
	assert.True(t, rows[1].Alert)
	assert.Equal(t, int64(1117838570)*1e9+675872*1e3, rows[0].Time)
	assert.Equal(t, "FATAL", rows[1].Level)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package loghub reads the public labelled log data sets used by the evaluations (Loghub's BGL
// 2k structured CSV and the HDFS_v1 block sample with its labels). Labels are for scoring only.
package loghub // import "github.com/otelcol-aiops/otelcol-aiops/internal/loghub"

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HDFSBlockRegex is the session key expression of HDFS: the block id.
const HDFSBlockRegex = `blk_-?\d+`

var blockRe = regexp.MustCompile(HDFSBlockRegex)

// Line is one log line: event time (unix nanoseconds), level text, message, and for BGL the
// line's label (Alert), for HDFS its block id (Block, "" when none).
type Line struct {
	Time    int64
	Level   string
	Content string
	Alert   bool
	Block   string
}

// ReadBGL reads a Loghub BGL structured CSV (columns Label, Timestamp, Time, Level, Content).
func ReadBGL(path string) ([]Line, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the data path given on the command line is the input
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"Label", "Timestamp", "Time", "Level", "Content"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: no %s column", path, need)
		}
	}
	var lines []Line
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ts, err := BGLTime(row[col["Timestamp"]], row[col["Time"]])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		lines = append(lines, Line{Time: ts, Level: row[col["Level"]], Content: row[col["Content"]], Alert: row[col["Label"]] != "-"})
	}
	return lines, nil
}

// BGLTime combines the unix-seconds Timestamp column with the microseconds of the Time column
// (2005-06-03-15.42.50.675872).
func BGLTime(unixSec, clock string) (int64, error) {
	sec, err := strconv.ParseInt(unixSec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad Timestamp %q", unixSec)
	}
	var micros int64
	if i := strings.LastIndexByte(clock, '.'); i >= 0 {
		if v, err := strconv.ParseInt(clock[i+1:], 10, 64); err == nil && v >= 0 && v < 1e6 && len(clock)-i-1 == 6 {
			micros = v
		}
	}
	return sec*1e9 + micros*1e3, nil
}

// ReadHDFS reads an HDFS_v1 log file, calling fn for every line in file order.
func ReadHDFS(path string, fn func(Line)) error {
	f, err := os.Open(path) //nolint:gosec // G304: the data path given on the command line is the input
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ln := sc.Text()
		ts, level, content, ok := ParseHDFSLine(ln)
		if !ok {
			return fmt.Errorf("%s: unparsable line %q", path, ln)
		}
		fn(Line{Time: ts, Level: level, Content: content, Block: blockRe.FindString(content)})
	}
	return sc.Err()
}

// ParseHDFSLine parses "081109 203530 147 INFO dfs.DataNode$DataXceiver: content".
func ParseHDFSLine(ln string) (ts int64, level, content string, ok bool) {
	f := strings.SplitN(ln, " ", 6)
	if len(f) < 6 {
		return 0, "", "", false
	}
	t, err := time.ParseInLocation("060102 150405", f[0]+" "+f[1], time.UTC)
	if err != nil {
		return 0, "", "", false
	}
	// f[4] is the component ending with ':'; the content follows.
	if !strings.HasSuffix(f[4], ":") {
		return 0, "", "", false
	}
	return t.UnixNano(), f[3], f[5], true
}

// ReadHDFSLabels reads the block labels (BlockId,Label with Label Normal or Anomaly).
func ReadHDFSLabels(path string) (map[string]bool, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the data path given on the command line is the input
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 1 || len(rows[0]) < 2 || rows[0][0] != "BlockId" || rows[0][1] != "Label" {
		return nil, fmt.Errorf("%s: unexpected header", path)
	}
	labels := make(map[string]bool, len(rows)-1)
	for _, r := range rows[1:] {
		if len(r) < 2 {
			return nil, fmt.Errorf("%s: short row", path)
		}
		labels[r[0]] = r[1] == "Anomaly"
	}
	return labels, nil
}

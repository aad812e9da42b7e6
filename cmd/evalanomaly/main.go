// Command evalanomaly measures the anomaly detection accuracy of the
// analyzer (template miner + detectors, default configuration) on labelled
// public log data:
//
//   - BGL (Loghub-2k): line-level precision/recall/F1, alert = Label != "-".
//   - HDFS_v1 2% block sample: block-level precision/recall/F1; a block is
//     flagged when any of its records is flagged.
//
// Run from the module root: go run ./cmd/evalanomaly [-data ../shared/data]
//
// The labels are only used for scoring; they are never fed to the analyzer.
package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
)

// hdfsBlockRegex is the session key expression for HDFS: the block id.
const hdfsBlockRegex = `blk_-?\d+`

func main() {
	data := flag.String("data", "../shared/data", "directory holding loghub2k/ and hdfs/")
	only := flag.String("only", "", "run only one dataset: bgl or hdfs")
	verbose := flag.Bool("v", false, "print per-type breakdowns and counters")
	flag.BoolVar(&debug, "debug", false, "with -v: break flagged units down by verdict type and template")
	flag.BoolVar(&dump, "dump", false, "print every BGL line and every flagged HDFS line with label and verdict to stderr")
	flag.Parse()

	var rows []scoreRow
	var details []string
	if *only == "" || *only == "bgl" {
		r, det, err := evalBGL(filepath.Join(*data, "loghub2k", "BGL", "BGL_2k.log_structured_corrected.csv"))
		if err != nil {
			fatal(err)
		}
		rows = append(rows, r...)
		details = append(details, det)
	}
	if *only == "" || *only == "hdfs" {
		r, det, err := evalHDFS(filepath.Join(*data, "hdfs", "HDFS_v1_2pct.log"), filepath.Join(*data, "hdfs", "HDFS_v1_2pct_anomaly_label.csv"))
		if err != nil {
			fatal(err)
		}
		rows = append(rows, r...)
		details = append(details, det)
	}
	if err := printRows(os.Stdout, rows); err != nil {
		fatal(err)
	}
	if *verbose {
		for _, d := range details {
			fmt.Println()
			fmt.Print(d)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "evalanomaly:", err)
	os.Exit(1)
}

var debug, dump bool

// tallyKey is the verdict type, with the template when -debug is set.
func tallyKey(res *analyzer.Result) string {
	if debug {
		return res.Verdict.Type + " " + res.TemplateID + " " + res.Template
	}
	return res.Verdict.Type
}

// scoreRow is one line of the result table.
type scoreRow struct {
	dataset, unit, filter string
	total, positives      int
	tp, fp, fn            int
	target                float64
	recsPerSec            float64
}

func (r scoreRow) prf() (p, rec, f1 float64) {
	if r.tp+r.fp > 0 {
		p = float64(r.tp) / float64(r.tp+r.fp)
	}
	if r.tp+r.fn > 0 {
		rec = float64(r.tp) / float64(r.tp+r.fn)
	}
	if p+rec > 0 {
		f1 = 2 * p * rec / (p + rec)
	}
	return p, rec, f1
}

func printRows(w io.Writer, rows []scoreRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if _, err := fmt.Fprintln(tw, "dataset\tunit\tverdicts\ttotal\tpositives\tflagged\tTP\tFP\tFN\tprecision\trecall\tF1\ttarget F1\trecords/s\t"); err != nil {
		return err
	}
	for _, r := range rows {
		p, rec, f1 := r.prf()
		target := "-"
		if r.target > 0 {
			target = fmt.Sprintf("%.2f", r.target)
		}
		rs := "-"
		if r.recsPerSec > 0 {
			rs = fmt.Sprintf("%.0f", r.recsPerSec)
		}
		if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%s\t%s\t\n",
			r.dataset, r.unit, r.filter, r.total, r.positives, r.tp+r.fp, r.tp, r.fp, r.fn, p, rec, f1, target, rs); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// severityNumber maps a level text to an OpenTelemetry severity number the
// way a filelog severity parser with the default mapping would.
func severityNumber(level string) int32 {
	switch strings.ToUpper(level) {
	case "TRACE":
		return 1
	case "DEBUG":
		return 5
	case "INFO":
		return 9
	case "WARN", "WARNING":
		return 13
	case "ERROR", "SEVERE":
		return 17
	case "FATAL", "FAILURE", "CRITICAL":
		return 21
	}
	return 0
}

// typeTally counts flagged records (or units) by verdict type.
type typeTally map[string]*[2]int // type -> [TP, FP]

func (t typeTally) add(typ string, positive bool) {
	c := t[typ]
	if c == nil {
		c = &[2]int{}
		t[typ] = c
	}
	if positive {
		c[0]++
	} else {
		c[1]++
	}
}

func (t typeTally) String() string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "  %-14s TP %5d  FP %5d\n", k, t[k][0], t[k][1])
	}
	return sb.String()
}

func statsText(st analyzer.Stats) string {
	return fmt.Sprintf("  records %d, late %d, zero-time %d, services %d, templates live %d (created %d, evicted %d), sessions started %d expired %d evicted %d\n"+
		"  anomalies %d: new_template %d, rare_template %d, rate_spike %d, rate_drop %d, error_burst %d, session %d\n",
		st.Records, st.Late, st.ZeroTime, st.Services, st.TemplatesLive, st.Miner.Created, st.Miner.Evicted,
		st.Detectors.SessionsStarted, st.Detectors.SessionsExpired, st.Detectors.SessionsEvicted,
		st.Anomalies, st.NewTemplate, st.RareTemplate, st.RateSpike, st.RateDrop, st.ErrorBurst, st.Session)
}

func atLeastMedium(sev string) bool {
	return sev == "Medium" || sev == "High" || sev == "Critical"
}

// evalBGL feeds BGL_2k in file order as one service.
func evalBGL(path string) ([]scoreRow, string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the data path given on the command line is the input
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = f.Close() }() // read-only
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"Label", "Timestamp", "Time", "Level", "Content", "Node"} {
		if _, ok := col[need]; !ok {
			return nil, "", fmt.Errorf("%s: no %s column", path, need)
		}
	}
	type line struct {
		rec   analyzer.Record
		alert bool
	}
	var lines []line
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		ts, err := bglTime(row[col["Timestamp"]], row[col["Time"]])
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		lines = append(lines, line{
			rec: analyzer.Record{
				Service:        "bgl",
				Message:        row[col["Content"]],
				Time:           ts,
				SeverityNumber: severityNumber(row[col["Level"]]),
			},
			alert: row[col["Label"]] != "-",
		})
	}
	a, err := analyzer.New(analyzer.DefaultConfig())
	if err != nil {
		return nil, "", err
	}
	all := scoreRow{dataset: "BGL", unit: "line", filter: "all", target: 0.85}
	med := scoreRow{dataset: "BGL", unit: "line", filter: ">=Medium"}
	tally := typeTally{}
	var res analyzer.Result
	start := time.Now()
	for i := range lines {
		a.Analyze(&lines[i].rec, &res)
		pos := lines[i].alert
		for _, row := range []*scoreRow{&all, &med} {
			row.total++
			if pos {
				row.positives++
			}
			flag := res.Verdict.Detected && (row == &all || atLeastMedium(res.Verdict.Severity))
			switch {
			case flag && pos:
				row.tp++
			case flag:
				row.fp++
			case pos:
				row.fn++
			}
		}
		if res.Verdict.Detected {
			tally.add(tallyKey(&res), pos)
		}
		if dump {
			fmt.Fprintf(os.Stderr, "%d\t%v\t%s\t%.2f\t%s\t%s\n", i+1, pos, res.Verdict.Type, res.Verdict.Score, res.Template, res.Verdict.Reason)
		}
	}
	all.recsPerSec = float64(len(lines)) / time.Since(start).Seconds()
	detail := "BGL (line level), flagged lines by verdict type:\n" + tally.String() + statsText(a.Stats())
	return []scoreRow{all, med}, detail, nil
}

// bglTime combines the unix-seconds Timestamp column with the microseconds
// of the Time column (2005-06-03-15.42.50.675872).
func bglTime(unixSec, clock string) (int64, error) {
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

// evalHDFS feeds the HDFS_v1 2% sample in file order as one service with
// the block id as session key.
func evalHDFS(logPath, labelPath string) ([]scoreRow, string, error) {
	labels, err := readHDFSLabels(labelPath)
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(logPath) //nolint:gosec // G304: the data path given on the command line is the input
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = f.Close() }() // read-only

	cfg := analyzer.DefaultConfig()
	cfg.SessionRegex = hdfsBlockRegex
	a, err := analyzer.New(cfg)
	if err != nil {
		return nil, "", err
	}
	blockRe := regexp.MustCompile(hdfsBlockRegex)

	flagged := map[string]bool{}    // block -> any record flagged
	flaggedMed := map[string]bool{} // block -> any record flagged >= Medium
	firstType := map[string]string{}
	seen := map[string]bool{}
	var res analyzer.Result
	var rec analyzer.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var n int
	var elapsed time.Duration
	for sc.Scan() {
		ln := sc.Text()
		ts, level, content, ok := parseHDFSLine(ln)
		if !ok {
			return nil, "", fmt.Errorf("%s: unparsable line %q", logPath, ln)
		}
		rec = analyzer.Record{Service: "hdfs", Message: content, Time: ts, SeverityNumber: severityNumber(level)}
		t0 := time.Now()
		a.Analyze(&rec, &res)
		elapsed += time.Since(t0)
		n++
		blk := blockRe.FindString(content)
		if blk == "" {
			continue
		}
		seen[blk] = true
		if dump && res.Verdict.Detected {
			fmt.Fprintf(os.Stderr, "%d\t%v\t%s\t%.2f\t%s\t%s\n", n, labels[blk], res.Verdict.Type, res.Verdict.Score, res.Template, res.Verdict.Reason)
		}
		if res.Verdict.Detected {
			if !flagged[blk] {
				firstType[blk] = tallyKey(&res)
			}
			flagged[blk] = true
			if atLeastMedium(res.Verdict.Severity) {
				flaggedMed[blk] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, "", err
	}
	all := scoreRow{dataset: "HDFS", unit: "block", filter: "all", target: 0.90, recsPerSec: float64(n) / elapsed.Seconds()}
	med := scoreRow{dataset: "HDFS", unit: "block", filter: ">=Medium"}
	tally := typeTally{}
	var unlabelled int
	blocks := make([]string, 0, len(labels))
	for b := range labels {
		blocks = append(blocks, b)
	}
	sort.Strings(blocks)
	for _, b := range blocks {
		pos := labels[b]
		if !seen[b] {
			unlabelled++
		}
		for _, row := range []*scoreRow{&all, &med} {
			row.total++
			if pos {
				row.positives++
			}
			fl := flagged[b]
			if row == &med {
				fl = flaggedMed[b]
			}
			switch {
			case fl && pos:
				row.tp++
			case fl:
				row.fp++
			case pos:
				row.fn++
			}
		}
		if flagged[b] {
			tally.add(firstType[b], pos)
		}
	}
	detail := fmt.Sprintf("HDFS (block level), flagged blocks by type of their first flagged record (%d labelled blocks without records):\n", unlabelled) +
		tally.String() + statsText(a.Stats())
	return []scoreRow{all, med}, detail, nil
}

// parseHDFSLine parses "081109 203530 147 INFO dfs.DataNode$DataXceiver: content".
func parseHDFSLine(ln string) (ts int64, level, content string, ok bool) {
	f := strings.SplitN(ln, " ", 6)
	if len(f) < 6 {
		return 0, "", "", false
	}
	t, err := time.ParseInLocation("060102 150405", f[0]+" "+f[1], time.UTC)
	if err != nil {
		return 0, "", "", false
	}
	level = f[3]
	rest := f[5]
	// f[4] is the component ending with ':'; the content follows.
	if !strings.HasSuffix(f[4], ":") {
		return 0, "", "", false
	}
	return t.UnixNano(), level, rest, true
}

func readHDFSLabels(path string) (map[string]bool, error) {
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

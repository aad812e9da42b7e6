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
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/analyzer"
	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/loghub"
)

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
	rows, err := loghub.ReadBGL(path)
	if err != nil {
		return nil, "", err
	}
	type line struct {
		rec   analyzer.Record
		alert bool
	}
	lines := make([]line, 0, len(rows))
	for _, r := range rows {
		lines = append(lines, line{
			rec:   analyzer.Record{Service: "bgl", Message: r.Content, Time: r.Time, SeverityNumber: contract.SeverityFromText(r.Level)},
			alert: r.Alert,
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

// evalHDFS feeds the HDFS_v1 2% sample in file order as one service with
// the block id as session key.
func evalHDFS(logPath, labelPath string) ([]scoreRow, string, error) {
	labels, err := loghub.ReadHDFSLabels(labelPath)
	if err != nil {
		return nil, "", err
	}
	cfg := analyzer.DefaultConfig()
	cfg.SessionRegex = loghub.HDFSBlockRegex
	a, err := analyzer.New(cfg)
	if err != nil {
		return nil, "", err
	}

	flagged := map[string]bool{}    // block -> any record flagged
	flaggedMed := map[string]bool{} // block -> any record flagged >= Medium
	firstType := map[string]string{}
	seen := map[string]bool{}
	var res analyzer.Result
	var rec analyzer.Record
	var n int
	var elapsed time.Duration
	err = loghub.ReadHDFS(logPath, func(l loghub.Line) {
		rec = analyzer.Record{Service: "hdfs", Message: l.Content, Time: l.Time, SeverityNumber: contract.SeverityFromText(l.Level)}
		t0 := time.Now()
		a.Analyze(&rec, &res)
		elapsed += time.Since(t0)
		n++
		blk := l.Block
		if blk == "" {
			return
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
	})
	if err != nil {
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

// Command evalparse measures the parsing accuracy of internal/miner on the Loghub-2k
// benchmark (corrected labels of Khan et al., ICSE'22).
//
// For every dataset directory <D> holding <D>_2k.log_structured_corrected.csv it mines the
// Content column with miner.DefaultConfig() (one Miner per dataset, no per-dataset setting)
// and reports, using the templates as they are after the whole file was mined:
//
//   - GA: grouping accuracy. A line is correct iff the set of lines of its predicted template
//     equals the set of lines of its ground-truth template.
//   - PA: parsing accuracy. A line is correct iff its final template string equals the ground
//     truth EventTemplate after normalising both (see normalize).
//   - PA-exact: the same without any normalisation.
//   - GA-raw: GA when mining the raw lines of <D>_2k.log (header included, same line order).
//
// -labels loghub2.0 scores against the Loghub-2.0 re-annotation of the same logs instead.
//
// Run from the repository root: go run ./cmd/evalparse
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otelcol-aiops/otelcol-aiops/internal/miner"
)

func main() {
	data := flag.String("data", filepath.Join("..", "shared", "data", "loghub2k"), "directory with one sub-directory per Loghub-2k dataset")
	show := flag.String("show", "", "print the PA/GA errors of this dataset")
	raw := flag.Bool("raw", true, "also measure GA on the raw log lines (header included)")
	labels := flag.String("labels", "", `ground truth: "" for <D>/<D>_2k.log_structured_corrected.csv (Khan et al.), "loghub2.0" for <D>/loghub2.0/<D>_2k.log_structured_corrected.csv`)
	flag.Parse()
	if err := run(os.Stdout, *data, *labels, *show, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "evalparse:", err)
		os.Exit(1)
	}
}

type dataset struct {
	name      string
	content   []string
	truth     []string
	rawLines  []string
	templates int
}

type result struct {
	ga, pa, paExact, gaRaw float64
	mined                  int
	rawOK                  bool
}

func run(w io.Writer, dir, labels, show string, raw bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading data directory: %w (use -data)", err)
	}
	var sets []*dataset
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d, err := load(dir, labels, e.Name(), raw)
		if err != nil {
			return err
		}
		if d != nil {
			sets = append(sets, d)
		}
	}
	if len(sets) == 0 {
		return fmt.Errorf("no <D>/<D>_2k.log_structured_corrected.csv under %s", dir)
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].name < sets[j].name })

	out := &errWriter{w: w}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	table := &errWriter{w: tw}
	table.println("Dataset\tLines\tTruth\tMined\tGA\tPA\tPA-exact\tGA-raw\t")
	var sum result
	nRaw := 0
	start := time.Now()
	lines := 0
	for _, d := range sets {
		r, err := evaluate(d, show == d.name, out)
		if err != nil {
			return err
		}
		if out.err != nil {
			return out.err
		}
		lines += len(d.content)
		gaRaw := "-"
		if r.rawOK {
			gaRaw = fmt.Sprintf("%.3f", r.gaRaw)
			sum.gaRaw += r.gaRaw
			nRaw++
		}
		table.printf("%s\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%s\t\n", d.name, len(d.content), d.templates, r.mined, r.ga, r.pa, r.paExact, gaRaw)
		sum.ga += r.ga
		sum.pa += r.pa
		sum.paExact += r.paExact
	}
	n := float64(len(sets))
	avgRaw := "-"
	if nRaw > 0 {
		avgRaw = fmt.Sprintf("%.3f", sum.gaRaw/float64(nRaw))
	}
	table.printf("Average (%d)\t\t\t\t%.3f\t%.3f\t%.3f\t%s\t\n", len(sets), sum.ga/n, sum.pa/n, sum.paExact/n, avgRaw)
	if table.err != nil {
		return table.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	out.printf("\n%d datasets, %d lines, %s (content and raw passes, including scoring)\n", len(sets), lines, time.Since(start).Round(time.Millisecond))
	out.println("PA normalisation (both sides): trim, collapse whitespace runs to one space, then repeat until stable:")
	out.println(`  "<*>.<*>" -> "<*>", "<*><*>" -> "<*>", "<*>:<*>" -> "<*>", "<*> <*>" -> "<*>" (Loghub-2.0 correct_template_general).`)
	return out.err
}

// errWriter keeps the first write error, so that a report can be printed line by line
// and checked once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

func (e *errWriter) println(a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintln(e.w, a...)
	}
}

func load(dir, labels, name string, raw bool) (*dataset, error) {
	sub := filepath.Join(dir, name, labels)
	path := filepath.Join(sub, name+"_2k.log_structured_corrected.csv")
	f, err := os.Open(path) //nolint:gosec // G304: reads the data directory given on the command line
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ci, ti := -1, -1
	for i, h := range head {
		switch h {
		case "Content":
			ci = i
		case "EventTemplate":
			ti = i
		}
	}
	if ci < 0 || ti < 0 {
		return nil, fmt.Errorf("%s: no Content/EventTemplate columns", path)
	}
	d := &dataset{name: name}
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if ci >= len(rec) || ti >= len(rec) {
			return nil, fmt.Errorf("%s: short record", path)
		}
		d.content = append(d.content, rec[ci])
		d.truth = append(d.truth, rec[ti])
		if !seen[rec[ti]] {
			seen[rec[ti]] = true
			d.templates++
		}
	}
	if raw {
		b, err := os.ReadFile(filepath.Join(sub, name+"_2k.log")) //nolint:gosec // G304: reads the data directory given on the command line
		if err == nil {
			ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(ls) == len(d.content) {
				d.rawLines = ls
			}
		}
	}
	return d, nil
}

func mine(lines []string) ([]*miner.Template, int, error) {
	m, err := miner.New(miner.DefaultConfig())
	if err != nil {
		return nil, 0, err
	}
	out := make([]*miner.Template, len(lines))
	for i, l := range lines {
		out[i] = m.Train(l).Template
	}
	for i, t := range out {
		out[i] = t.Current() // final templates
	}
	return out, m.Stats().Live, nil
}

func evaluate(d *dataset, show bool, w *errWriter) (result, error) {
	var r result
	pred, live, err := mine(d.content)
	if err != nil {
		return r, err
	}
	r.mined = live
	ok := groupCorrect(pred, d.truth)
	good, goodPA, goodExact := 0, 0, 0
	type miss struct{ truth, got string }
	misses := map[miss]int{}
	for i := range pred {
		if ok[i] {
			good++
		}
		got := ""
		if pred[i] != nil {
			got = pred[i].String()
		}
		if got == d.truth[i] {
			goodExact++
		}
		if normalize(got) == normalize(d.truth[i]) {
			goodPA++
		} else {
			misses[miss{d.truth[i], got}]++
		}
	}
	n := float64(len(pred))
	r.ga, r.pa, r.paExact = float64(good)/n, float64(goodPA)/n, float64(goodExact)/n
	if d.rawLines != nil {
		rp, _, err := mine(d.rawLines)
		if err != nil {
			return r, err
		}
		rok := groupCorrect(rp, d.truth)
		g := 0
		for _, b := range rok {
			if b {
				g++
			}
		}
		r.gaRaw, r.rawOK = float64(g)/n, true
	}
	if show {
		showErrors(w, d, pred, ok)
		type kv struct {
			k miss
			v int
		}
		var ms []kv
		for k, v := range misses {
			ms = append(ms, kv{k, v})
		}
		sort.Slice(ms, func(i, j int) bool {
			if ms[i].v != ms[j].v {
				return ms[i].v > ms[j].v
			}
			return ms[i].k.truth < ms[j].k.truth
		})
		w.printf("== %s PA errors (lines, truth, mined)\n", d.name)
		for _, e := range ms {
			w.printf("%5d T: %s\n      M: %s\n", e.v, e.k.truth, e.k.got)
		}
	}
	return r, nil
}

// groupCorrect marks the lines whose predicted group has exactly the lines of their
// ground-truth group.
func groupCorrect(pred []*miner.Template, truth []string) []bool {
	byPred := map[*miner.Template][]int{}
	truthSize := map[string]int{}
	for i, t := range pred {
		byPred[t] = append(byPred[t], i)
		truthSize[truth[i]]++
	}
	ok := make([]bool, len(pred))
	for t, idx := range byPred {
		if t == nil {
			continue
		}
		tr := truth[idx[0]]
		same := truthSize[tr] == len(idx)
		for _, i := range idx {
			if truth[i] != tr {
				same = false
				break
			}
		}
		if same {
			for _, i := range idx {
				ok[i] = true
			}
		}
	}
	return ok
}

func showErrors(w *errWriter, d *dataset, pred []*miner.Template, ok []bool) {
	// ground-truth groups with wrong lines: how they were split / merged
	split := map[string]map[string]int{}
	for i := range pred {
		if ok[i] {
			continue
		}
		got := "<nil>"
		if pred[i] != nil {
			got = pred[i].ID() + " " + pred[i].String()
		}
		if split[d.truth[i]] == nil {
			split[d.truth[i]] = map[string]int{}
		}
		split[d.truth[i]][got]++
	}
	var keys []string
	for k := range split {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.printf("== %s GA errors (truth -> mined groups)\n", d.name)
	for _, k := range keys {
		w.printf("T: %s\n", k)
		for g, c := range split[k] {
			w.printf("   %5d %s\n", c, g)
		}
	}
}

// normalize applies the light normalisation of the Loghub-2.0 evaluator to a template:
// whitespace runs become one space, then consecutive variables are merged.
func normalize(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for {
		p := s
		s = strings.ReplaceAll(s, "<*>.<*>", "<*>")
		s = strings.ReplaceAll(s, "<*><*>", "<*>")
		s = strings.ReplaceAll(s, "<*>:<*>", "<*>")
		s = strings.ReplaceAll(s, "<*> <*>", "<*>")
		if s == p {
			return s
		}
	}
}

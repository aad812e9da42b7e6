package miner

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// The benchmarks mine the Content column of every Loghub-2k dataset: one Miner per dataset,
// lines interleaved across datasets. The data comes from $AIOPS_DATA or, by default,
// ../../../shared/data/loghub2k relative to this package.

type benchLine struct {
	ds   int
	line string
}

var benchData struct {
	once  sync.Once
	names []string
	lines []benchLine
	err   error
}

func loadBenchData() ([]string, []benchLine, error) {
	benchData.once.Do(func() {
		dir := os.Getenv("AIOPS_DATA")
		if dir == "" {
			dir = filepath.Join("..", "..", "..", "shared", "data", "loghub2k")
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			benchData.err = err
			return
		}
		var per [][]string
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name(), e.Name()+"_2k.log_structured_corrected.csv")
			f, err := os.Open(p) //nolint:gosec // G304: benchmark input from the data directory (AIOPS_DATA)
			if err != nil {
				continue
			}
			lines, err := readContent(f)
			_ = f.Close() // read-only
			if err != nil {
				benchData.err = err
				return
			}
			benchData.names = append(benchData.names, e.Name())
			per = append(per, lines)
		}
		sort.Sort(byName{benchData.names, per})
		for i := 0; ; i++ {
			any := false
			for d, ls := range per {
				if i < len(ls) {
					benchData.lines = append(benchData.lines, benchLine{d, ls[i]})
					any = true
				}
			}
			if !any {
				break
			}
		}
	})
	return benchData.names, benchData.lines, benchData.err
}

type byName struct {
	names []string
	per   [][]string
}

func (b byName) Len() int           { return len(b.names) }
func (b byName) Less(i, j int) bool { return b.names[i] < b.names[j] }
func (b byName) Swap(i, j int) {
	b.names[i], b.names[j] = b.names[j], b.names[i]
	b.per[i], b.per[j] = b.per[j], b.per[i]
}

func readContent(r io.Reader) ([]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	head, err := cr.Read()
	if err != nil {
		return nil, err
	}
	ci := -1
	for i, h := range head {
		if h == "Content" {
			ci = i
		}
	}
	var out []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if ci >= 0 && ci < len(rec) {
			out = append(out, rec[ci])
		}
	}
}

func benchSetup(b *testing.B) ([]*Miner, []benchLine) {
	b.Helper()
	names, lines, err := loadBenchData()
	if err != nil || len(lines) == 0 {
		b.Fatalf("Loghub-2k data not found (set AIOPS_DATA to the loghub2k directory, default ../../../shared/data/loghub2k): %v", err)
	}
	ms := make([]*Miner, len(names))
	for i := range ms {
		m, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		ms[i] = m
	}
	for _, l := range lines { // warm up
		ms[l.ds].Train(l.line)
	}
	return ms, lines
}

func BenchmarkTrain(b *testing.B) {
	ms, lines := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := &lines[i%len(lines)]
		ms[l.ds].Train(l.line)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkMatch(b *testing.B) {
	ms, lines := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := &lines[i%len(lines)]
		ms[l.ds].Match(l.line)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParams(b *testing.B) {
	ms, lines := benchSetup(b)
	tmpl := make([]*Template, len(lines))
	for i, l := range lines {
		tmpl[i] = ms[l.ds].Match(l.line)
	}
	var dst []string
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(lines)
		l := &lines[k]
		dst = ms[l.ds].Params(tmpl[k], l.line, dst[:0])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkTrainCold mines the corpus with fresh Miners: template creation included.
func BenchmarkTrainCold(b *testing.B) {
	_, lines, err := loadBenchData()
	if err != nil || len(lines) == 0 {
		b.Fatalf("Loghub-2k data not found (set AIOPS_DATA): %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ms := map[int]*Miner{}
		for _, l := range lines {
			m := ms[l.ds]
			if m == nil {
				m, _ = New(DefaultConfig())
				ms[l.ds] = m
			}
			m.Train(l.line)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package docstest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"
	"github.com/otelcol-aiops/otelcol-aiops/processor/llmanomalyprocessor"
)

// root is the module root, relative to this package's directory.
const root = "../.."

// notValidated marks a block that is not to be checked (a line starting with it).
const notValidated = "# not-validated"

// collectorKeys are the top-level keys of a collector config; a block needs one of them.
var collectorKeys = []string{"receivers", "processors", "connectors", "exporters", "extensions", "service"}

// factories maps the top-level section and the component type to the default-config maker.
var factories = map[string]map[component.Type]func() component.Config{
	"processors": {llmanomalyprocessor.NewFactory().Type(): llmanomalyprocessor.NewFactory().CreateDefaultConfig},
	"connectors": {logs2graph.NewFactory().Type(): logs2graph.NewFactory().CreateDefaultConfig},
	"exporters":  {rcaexporter.NewFactory().Type(): rcaexporter.NewFactory().CreateDefaultConfig},
}

// block is one fenced YAML block of a Markdown file.
type block struct {
	file string
	line int // line of the opening fence, 1-based
	text string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var fence = regexp.MustCompile("^\\s*```\\s*(yaml|yml)\\s*$")

// yamlBlocks returns the ```yaml blocks of the Markdown file path (relative to dir).
func yamlBlocks(t *testing.T, dir, path string) []block {
	f, err := os.Open(filepath.Join(dir, path))
	require.NoError(t, err)
	defer f.Close()
	var (
		out    []block
		cur    *block
		indent string
		sb     strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && fence.MatchString(line):
			cur = &block{file: path, line: n}
			indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			sb.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.text = sb.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			// blocks inside list items are indented like their fence
			sb.WriteString(strings.TrimPrefix(line, indent))
			sb.WriteByte('\n')
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: unterminated ```yaml block", path)
	return out
}

var envRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// substituteEnv replaces ${env:NAME:-default} with default and ${env:NAME} with a dummy value.
func substituteEnv(s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if strings.Contains(m, ":-") {
			return sub[2]
		}
		for _, w := range []string{"ENDPOINT", "URL", "WEBHOOK"} {
			if strings.Contains(sub[1], w) {
				return "https://example.invalid/"
			}
		}
		return "dummy"
	})
}

// marked reports whether text has a line starting with notValidated.
func marked(text string) bool {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(strings.TrimSpace(line), notValidated) {
			return true
		}
	}
	return false
}

// checkBlock parses b and checks every component of this project it configures. It returns how
// many component configs it checked and every problem found.
func checkBlock(b block) (checked int, errs []error) {
	retrieved, err := confmap.NewRetrievedFromYAML([]byte(substituteEnv(b.text)))
	if err != nil {
		return 0, []error{fmt.Errorf("%s: not valid YAML: %w", b, err)}
	}
	conf, err := retrieved.AsConf()
	if err != nil {
		return 0, []error{fmt.Errorf("%s: not valid YAML: %w", b, err)}
	}
	if !slices.ContainsFunc(collectorKeys, conf.IsSet) {
		return 0, []error{fmt.Errorf("%s: a bare fragment is not checked: nest it under its "+
			"processors/connectors/exporters key, or mark it %q with a reason", b, notValidated)}
	}
	for _, section := range []string{"processors", "connectors", "exporters"} {
		if _, isMap := conf.Get(section).(map[string]any); !isMap {
			continue // absent, or not a collector config (an ocb manifest lists modules)
		}
		sec, err := conf.Sub(section)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", b, section, err))
			continue
		}
		for key := range sec.ToStringMap() {
			var id component.ID
			if err := id.UnmarshalText([]byte(key)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s::%s is not a component ID: %w", b, section, key, err))
				continue
			}
			newCfg, ours := factories[section][id.Type()]
			if !ours {
				continue
			}
			checked++
			sub, err := sec.Sub(key)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s::%s: %w", b, section, key, err))
				continue
			}
			cfg := newCfg()
			if err := sub.Unmarshal(cfg); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s::%s does not unmarshal: %w", b, section, key, err))
				continue
			}
			if err := confmap.Validate(cfg); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s::%s does not validate: %w", b, section, key, err))
			}
		}
	}
	return checked, errs
}

// docFiles are the Markdown files whose YAML examples are checked.
func docFiles(t *testing.T) []string {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	files := []string{
		"README.md",
		"processor/llmanomalyprocessor/README.md",
		"connector/logs2graph/README.md",
		"exporter/rcaexporter/README.md",
	}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		require.NoError(t, err)
		files = append(files, filepath.ToSlash(rel))
	}
	return files
}

func TestDocYAMLConfiguresOurComponents(t *testing.T) {
	total, skipped := 0, 0
	for _, file := range docFiles(t) {
		for _, b := range yamlBlocks(t, root, file) {
			if marked(b.text) {
				skipped++
				continue
			}
			n, errs := checkBlock(b)
			total += n
			for _, err := range errs {
				t.Error(err)
			}
		}
	}
	t.Logf("checked %d component configs, skipped %d blocks marked %q", total, skipped, notValidated)
	// every component's README has at least one example config
	assert.GreaterOrEqual(t, total, 3)
}

// The checker itself must reject unknown keys, invalid values and broken YAML, or the test above
// proves nothing.
func TestCheckBlockCatchesBrokenExamples(t *testing.T) {
	n, errs := checkBlock(block{file: "inline", line: 1, text: `
processors:
  llm_anomaly/x:
    session:
      regex: 'blk_-?\d+'
connectors:
  logs2graph: {}
exporters:
  rca:
    sinks: {console: {}}
  debug: {verbosity: detailed}
`})
	require.Empty(t, errs)
	assert.Equal(t, 3, n)

	for name, tc := range map[string]struct{ text, want string }{
		"unknown key": {"processors:\n  llm_anomaly:\n    session_regex: 'blk_-?\\d+'\n", "has invalid keys: session_regex"},
		"bad value":   {"processors:\n  llm_anomaly/a:\n    session:\n      regex: '('\n", "session.regex is invalid"},
		"bad type":    {"connectors:\n  logs2graph:\n    window: often\n", "does not unmarshal"},
		"bad yaml":    {"exporters:\n  rca: [\n", "not valid YAML"},
		"env default": {"processors:\n  llm_anomaly:\n    max_services: ${env:N:-0}\n", "max_services must be positive"},
		"bad id":      {"exporters:\n  rca/: {}\n", "not a component ID"},
		"no sink":     {"exporters:\n  rca:\n", "sinks must configure at least one"},
		// the defect found in docs/detectors.md: a bare fragment with a key the processor rejects
		"bare": {"max_services: 100\nsession_regex: ''\n", "a bare fragment is not checked"},
	} {
		_, errs := checkBlock(block{file: name, line: 1, text: tc.text})
		if assert.Len(t, errs, 1, name) {
			assert.ErrorContains(t, errs[0], tc.want, name)
			assert.ErrorContains(t, errs[0], name+":1: ", "errors name the file and line")
		}
	}
}

func TestMarked(t *testing.T) {
	assert.True(t, marked("a: 1\n  # not-validated: shows a rejected key\n"))
	assert.False(t, marked("a: 1 # not-validated\n"))
}

func TestSubstituteEnv(t *testing.T) {
	assert.Equal(t, "endpoint: https://example.invalid/ model: dummy level: basic",
		substituteEnv("endpoint: ${env:LLM_ENDPOINT} model: ${env:LLM_MODEL} level: ${env:LEVEL:-basic}"))
}

func TestYAMLBlocks(t *testing.T) {
	dir := t.TempDir()
	md := "# t\n\n```yaml\na: 1\n```\n\n1. item\n   ```yml\n   b:\n     c: 2\n   ```\n```go\nx\n```\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "t.md"), []byte(md), 0o600))
	got := yamlBlocks(t, dir, "t.md")
	require.Len(t, got, 2)
	assert.Equal(t, "t.md:3", got[0].String())
	assert.Equal(t, "a: 1\n", got[0].text)
	assert.Equal(t, "b:\n  c: 2\n", got[1].text)
}

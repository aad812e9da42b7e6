// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

const (
	jiraSummaryMax          = 255
	jiraEvidence            = 10
	defaultJiraIssueType    = "Bug"
	defaultJiraAPIVersion   = 2
	defaultJiraMaxTracked   = 10000
	jiraAutoLabel           = "aiops"
	jiraLabelMax            = 255
	jiraDescriptionMaxBytes = 30000
)

// JiraConfig configures the Jira REST sink.
type JiraConfig struct {
	// ClientConfig holds endpoint (the Jira base URL, required), timeout, TLS, proxy, headers and auth.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// APIVersion is 2 (wiki-markup text) or 3 (Atlassian Document Format). Default 2.
	APIVersion int `mapstructure:"api_version"`
	// ProjectKey is the project the issues are created in (required).
	ProjectKey string `mapstructure:"project_key"`
	// IssueType is the issue type name (default Bug).
	IssueType string `mapstructure:"issue_type"`
	// Labels are added to every issue, with the automatic labels aiops, <source>-analysis and
	// the root-cause service.
	Labels []string `mapstructure:"labels"`
	// User and APIToken enable basic auth. Leave both empty to authenticate through
	// `headers` or an `auth` extension instead.
	User     string              `mapstructure:"user"`
	APIToken configopaque.String `mapstructure:"api_token"`
	// MaxTrackedIncidents bounds the incident id -> issue key map. When it is full, the least
	// recently used entry of a resolved incident is evicted first, else that of an open incident
	// (counted; an evicted open incident that updates again gets a new issue).
	MaxTrackedIncidents int `mapstructure:"max_tracked_incidents"`
	// IncidentURLTemplate, optional, adds a link to the incident ("{id}" is replaced).
	IncidentURLTemplate string `mapstructure:"incident_url_template"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// NewDefaultJiraConfig returns the Jira defaults.
func NewDefaultJiraConfig() JiraConfig {
	return JiraConfig{
		ClientConfig:        newDefaultClientConfig(),
		APIVersion:          defaultJiraAPIVersion,
		IssueType:           defaultJiraIssueType,
		MaxTrackedIncidents: defaultJiraMaxTracked,
	}
}

// Validate checks the jira section.
func (c *JiraConfig) Validate() error {
	var errs []error
	if err := validateEndpoint("endpoint", c.ClientConfig.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.APIVersion != 2 && c.APIVersion != 3 {
		errs = append(errs, errors.New("`api_version` must be 2 or 3"))
	}
	if strings.TrimSpace(c.ProjectKey) == "" {
		errs = append(errs, errors.New("`project_key` must be set"))
	}
	if strings.TrimSpace(c.IssueType) == "" {
		errs = append(errs, errors.New("`issue_type` must be set"))
	}
	for _, l := range c.Labels {
		if l == "" || strings.IndexFunc(l, unicode.IsSpace) >= 0 {
			errs = append(errs, errors.New("`labels` must be non-empty and contain no spaces"))
			break
		}
	}
	if (c.User == "") != (c.APIToken == "") {
		errs = append(errs, errors.New("`user` and `api_token` must be set together"))
	}
	if c.MaxTrackedIncidents <= 0 {
		errs = append(errs, errors.New("`max_tracked_incidents` must be positive"))
	}
	if err := validateURLTemplate("incident_url_template", c.IncidentURLTemplate); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// jiraStateKey is the Store key of the persisted incident id -> issue key map.
const jiraStateKey = "jira_issues"

// jiraStateFormat is the version of the persisted map's JSON layout.
const jiraStateFormat = 1

// Jira creates one issue per incident and comments on it for every later update.
//
// The incident id -> issue key map is bounded (MaxTrackedIncidents). Entries of resolved
// incidents (their final comment posted) are evicted before those of open ones. With a Store
// (SetStore before Start) the map is loaded in Start and saved after every change, so updates
// of incidents opened before a collector restart still become comments.
type Jira struct {
	cfg    JiraConfig
	http   httpSender
	logger *zap.Logger
	events Events
	store  Store

	// mu serialises the lookup-or-create step so concurrent queue consumers never create
	// two issues for one incident. It guards issues and dirty.
	mu        sync.Mutex
	issues    *tracker[jiraIssue]
	dirty     bool // issues changed since the last successful save
	evictions atomic.Uint64

	// saveMu orders saves: a snapshot is written before any later one.
	saveMu sync.Mutex
}

type jiraIssue struct {
	key string
	// version is the last incident version delivered (create or comment); older updates are skipped.
	version int
}

var (
	_ Sink     = (*Jira)(nil)
	_ stateful = (*Jira)(nil)
)

// NewJira builds a Jira sink; call Start before Send.
func NewJira(cfg JiraConfig, set component.TelemetrySettings) *Jira {
	if cfg.MaxTrackedIncidents <= 0 {
		cfg.MaxTrackedIncidents = defaultJiraMaxTracked
	}
	logger := set.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	j := &Jira{cfg: cfg, logger: logger, issues: newTracker[jiraIssue](cfg.MaxTrackedIncidents)}
	j.http = httpSender{name: "jira", cfg: &j.cfg.ClientConfig, set: set}
	return j
}

// Name returns "jira".
func (*Jira) Name() string { return "jira" }

// SetStore makes the sink persist its incident id -> issue key map in s. Call it before Start.
func (j *Jira) SetStore(s Store) { j.store = s }

// Start creates the HTTP client and loads the persisted issue keys. Unreadable stored data is
// counted and logged, and the sink starts with an empty map: it never fails start-up.
func (j *Jira) Start(ctx context.Context, host component.Host) error {
	if err := j.http.start(ctx, host); err != nil {
		return err
	}
	if j.store != nil {
		j.load(ctx)
	}
	return nil
}

// Shutdown saves unsaved changes of the issue keys and closes idle connections.
func (j *Jira) Shutdown(ctx context.Context) error {
	j.save(ctx)
	return j.http.shutdown(ctx)
}

// Evictions counts open incidents dropped from the bounded id -> issue key map (a later update
// of such an incident opens a new issue). Evicted entries of resolved incidents are not counted.
func (j *Jira) Evictions() uint64 { return j.evictions.Load() }

// IssueKey returns the Jira issue key recorded for an incident id.
func (j *Jira) IssueKey(incidentID string) (string, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if te, ok := j.issues.get(incidentID); ok {
		return te.val.key, true
	}
	return "", false
}

func (j *Jira) headers() http.Header {
	h := http.Header{}
	if j.cfg.User != "" {
		cred := base64.StdEncoding.EncodeToString([]byte(j.cfg.User + ":" + string(j.cfg.APIToken)))
		h.Set("Authorization", "Basic "+cred)
	}
	return h
}

func (j *Jira) apiURL(path string) string {
	return joinURL(j.cfg.ClientConfig.Endpoint, "/rest/api/"+strconv.Itoa(j.cfg.APIVersion)+path)
}

// Send creates the issue on the first delivery of an incident id and comments afterwards; the
// resolved version gets a final comment and marks the entry evictable.
func (j *Jira) Send(ctx context.Context, inc *incident.Incident) error {
	j.mu.Lock()
	if te, ok := j.issues.get(inc.ID); ok {
		j.issues.touch(inc.ID)
		key, last := te.val.key, te.val.version
		j.mu.Unlock()
		if inc.Version != 0 && inc.Version <= last {
			return nil // stale or duplicate update
		}
		if err := j.comment(ctx, key, inc); err != nil {
			return err
		}
		j.delivered(inc)
		j.save(ctx)
		return nil
	}
	key, err := j.create(ctx, inc)
	if err != nil {
		j.mu.Unlock()
		return err
	}
	evicted := j.issues.put(inc.ID, isResolved(inc), jiraIssue{key: key, version: inc.Version})
	j.dirty = true
	j.mu.Unlock()
	j.countEvicted(evicted)
	j.save(ctx)
	return nil
}

// delivered records that a comment for inc was posted.
func (j *Jira) delivered(inc *incident.Incident) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if te, ok := j.issues.get(inc.ID); ok {
		ji := te.val
		ji.version = max(ji.version, inc.Version)
		j.issues.put(inc.ID, te.resolved || isResolved(inc), ji)
		j.dirty = true
	}
}

func (j *Jira) countEvicted(n int) {
	if n > 0 {
		j.evictions.Add(uint64(n))
		j.events.dropped("jira_issues_full", n)
	}
}

// jiraState is the persisted map: resolved entries, then open ones, each oldest first.
type jiraState struct {
	Format int              `json:"format"`
	Issues []jiraStateEntry `json:"issues"`
}

type jiraStateEntry struct {
	ID       string `json:"id"`
	Key      string `json:"key"`
	Version  int    `json:"version,omitempty"`
	Resolved bool   `json:"resolved,omitempty"`
}

// save writes the map to the store if it changed since the last save. A failed save is counted
// and logged; the map stays dirty and is written with the next change or at shutdown.
func (j *Jira) save(ctx context.Context) {
	if j.store == nil {
		return
	}
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	j.mu.Lock()
	if !j.dirty {
		j.mu.Unlock()
		return
	}
	st := jiraState{Format: jiraStateFormat, Issues: make([]jiraStateEntry, 0, j.issues.len())}
	j.issues.each(func(te *tracked[jiraIssue]) {
		st.Issues = append(st.Issues, jiraStateEntry{ID: te.id, Key: te.val.key, Version: te.val.version, Resolved: te.resolved})
	})
	j.dirty = false
	j.mu.Unlock()

	data, err := json.Marshal(st)
	if err == nil {
		err = j.store.Set(ctx, jiraStateKey, data)
	}
	if err != nil {
		j.mu.Lock()
		j.dirty = true
		j.mu.Unlock()
		j.events.storageError("jira_save")
		j.logger.Warn("Cannot save the Jira issue keys", zap.Error(err))
	}
}

var errJiraState = errors.New("unexpected format")

// load reads the persisted map. If more entries are stored than max_tracked_incidents allows,
// the oldest are evicted (resolved ones first).
func (j *Jira) load(ctx context.Context) {
	data, err := j.store.Get(ctx, jiraStateKey)
	if err == nil && data == nil {
		return
	}
	var st jiraState
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err == nil && st.Format != jiraStateFormat {
		err = fmt.Errorf("%w %d", errJiraState, st.Format)
	}
	if err == nil {
		for _, e := range st.Issues {
			if e.ID == "" || e.Key == "" {
				err = fmt.Errorf("%w: entry without id or key", errJiraState)
				break
			}
		}
	}
	if err != nil {
		j.events.storageError("jira_load")
		j.logger.Warn("Ignoring unreadable Jira issue keys, starting empty", zap.Error(err))
		return
	}
	evicted := 0
	j.mu.Lock()
	for _, e := range st.Issues {
		evicted += j.issues.put(e.ID, e.Resolved, jiraIssue{key: e.Key, version: e.Version})
	}
	j.dirty = j.dirty || j.issues.len() < len(st.Issues) // write the trimmed map back
	n := j.issues.len()
	j.mu.Unlock()
	j.countEvicted(evicted)
	j.logger.Debug("Loaded Jira issue keys", zap.Int("incidents", n))
}

type jiraCreateResponse struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

func (j *Jira) create(ctx context.Context, inc *incident.Incident) (string, error) {
	fields := map[string]any{
		"project":     map[string]string{"key": j.cfg.ProjectKey},
		"issuetype":   map[string]string{"name": j.cfg.IssueType},
		"summary":     truncateRunes(strings.ReplaceAll("["+string(inc.Severity)+"] "+title(inc), "\n", " "), jiraSummaryMax),
		"description": j.doc(j.descriptionLines(inc)),
		"labels":      j.labels(inc),
	}
	body, err := json.Marshal(map[string]any{"fields": fields})
	if err != nil {
		return "", marshalError(j.Name(), err)
	}
	resp, err := j.http.do(ctx, http.MethodPost, j.apiURL("/issue"), body, j.headers())
	if err != nil {
		return "", err
	}
	var cr jiraCreateResponse
	if err := json.Unmarshal(resp, &cr); err != nil || cr.Key == "" {
		// The issue may exist but we cannot address it; retrying would create a duplicate.
		return "", consumererror.NewPermanent(errors.New("jira sink: create issue: response has no issue key"))
	}
	return cr.Key, nil
}

func (j *Jira) comment(ctx context.Context, key string, inc *incident.Incident) error {
	body, err := json.Marshal(map[string]any{"body": j.doc(j.commentLines(inc))})
	if err != nil {
		return marshalError(j.Name(), err)
	}
	_, err = j.http.do(ctx, http.MethodPost, j.apiURL("/issue/"+url.PathEscape(key)+"/comment"), body, j.headers())
	return err
}

// labels returns the configured labels, then aiops, <source>-analysis and the root-cause service.
func (j *Jira) labels(inc *incident.Incident) []string {
	out := make([]string, 0, len(j.cfg.Labels)+3)
	seen := map[string]bool{}
	add := func(l string) {
		l = jiraLabel(l)
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, l := range j.cfg.Labels {
		add(l)
	}
	add(jiraAutoLabel)
	if inc.Source != "" {
		add(inc.Source + "-analysis")
	}
	add(inc.RootCauseService)
	return out
}

// jiraLabel makes s a valid Jira label (no whitespace, bounded length).
func jiraLabel(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
	return truncateRunes(s, jiraLabelMax)
}

// docLine is one line of a description or comment; code lines are grouped into a code block.
type docLine struct {
	text string
	kind int // lineText, lineHeading, lineCode, lineNumbered
}

const (
	lineText = iota
	lineHeading
	lineCode
	lineNumbered
)

func (j *Jira) descriptionLines(inc *incident.Incident) []docLine {
	var l []docLine
	add := func(kind int, s string) { l = append(l, docLine{text: s, kind: kind}) }
	add(lineText, fmt.Sprintf("Incident %s (version %d), status %s, severity %s, confidence %.0f%%.", inc.ID, inc.Version, inc.Status, inc.Severity, inc.Confidence*100))
	if link := expandURL(j.cfg.IncidentURLTemplate, inc.ID); link != "" {
		add(lineText, "Link: "+link)
	}
	add(lineHeading, "Root cause")
	add(lineText, "Service: "+orUnknown(inc.RootCauseService))
	if inc.RootCauseIssue != "" {
		add(lineText, "Issue: "+inc.RootCauseIssue)
	}
	if len(inc.PropagationPath) > 0 {
		add(lineText, "Propagation path: "+pathString(inc.PropagationPath))
	}
	if inc.Explanation != "" {
		add(lineHeading, "Explanation")
		add(lineText, inc.Explanation)
	}
	if ev := topEvidence(inc, jiraEvidence); len(ev) > 0 {
		add(lineHeading, "Evidence")
		for _, e := range ev {
			add(lineCode, e)
		}
	}
	if len(inc.RemediationSteps) > 0 {
		add(lineHeading, "Remediation")
		for _, s := range inc.RemediationSteps {
			add(lineNumbered, s)
		}
	}
	if len(inc.AffectedServices) > 0 {
		add(lineHeading, "Affected services")
		add(lineText, strings.Join(inc.AffectedServices, ", "))
	}
	if len(inc.SimilarIncidents) > 0 {
		add(lineHeading, "Similar past incidents")
		for _, s := range inc.SimilarIncidents {
			t := fmt.Sprintf("%s (similarity %.2f, root cause %s)", s.ID, s.Similarity, s.RootCauseService)
			if s.Resolution != "" {
				t += ": " + s.Resolution
			}
			add(lineText, t)
		}
	}
	add(lineText, "Started at "+fmtTime(inc.StartedAt)+", analysis: "+orUnknown(inc.Source)+".")
	return l
}

func (j *Jira) commentLines(inc *incident.Incident) []docLine {
	var l []docLine
	add := func(kind int, s string) { l = append(l, docLine{text: s, kind: kind}) }
	if isResolved(inc) {
		at := eventTime(inc)
		add(lineText, fmt.Sprintf("Incident resolved at %s (version %d).", fmtTime(at), inc.Version))
		if inc.MergedInto != "" {
			into := "Merged into incident " + inc.MergedInto
			if key, ok := j.IssueKey(inc.MergedInto); ok {
				into += " (" + key + ")"
			}
			add(lineText, into+".")
		}
		return l
	}
	add(lineText, fmt.Sprintf("Incident updated (version %d): severity %s, root cause %s, confidence %.0f%%.", inc.Version, inc.Severity, orUnknown(inc.RootCauseService), inc.Confidence*100))
	if inc.RootCauseIssue != "" {
		add(lineText, "Issue: "+inc.RootCauseIssue)
	}
	if len(inc.PropagationPath) > 0 {
		add(lineText, "Propagation path: "+pathString(inc.PropagationPath))
	}
	for _, e := range topEvidence(inc, 3) {
		add(lineCode, e)
	}
	return l
}

// doc renders lines as wiki markup (API v2) or an Atlassian Document Format doc (API v3).
func (j *Jira) doc(lines []docLine) any {
	if j.cfg.APIVersion == 3 {
		return adfDoc(lines)
	}
	var b strings.Builder
	inCode := false
	for _, l := range lines {
		if l.kind == lineCode != inCode {
			b.WriteString("{noformat}\n")
			inCode = !inCode
		}
		switch l.kind {
		case lineHeading:
			b.WriteString("h3. " + l.text + "\n")
		case lineNumbered:
			b.WriteString("# " + strings.ReplaceAll(l.text, "\n", " ") + "\n")
		default:
			b.WriteString(strings.ReplaceAll(l.text, "{noformat}", "{ noformat}") + "\n")
		}
	}
	if inCode {
		b.WriteString("{noformat}\n")
	}
	return truncate(b.String(), jiraDescriptionMaxBytes)
}

type adfNode struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"`
	Text    string         `json:"text,omitempty"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []adfNode      `json:"content,omitempty"`
}

func adfText(s string) []adfNode {
	if s == "" {
		return nil
	}
	return []adfNode{{Type: "text", Text: s}}
}

func adfDoc(lines []docLine) adfNode {
	doc := adfNode{Type: "doc", Version: 1}
	size := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		size += len(l.text)
		if size > jiraDescriptionMaxBytes {
			break
		}
		switch l.kind {
		case lineHeading:
			doc.Content = append(doc.Content, adfNode{Type: "heading", Attrs: map[string]any{"level": 3}, Content: adfText(l.text)})
		case lineCode:
			var code []string
			for ; i < len(lines) && lines[i].kind == lineCode; i++ {
				code = append(code, lines[i].text)
			}
			i--
			doc.Content = append(doc.Content, adfNode{Type: "codeBlock", Content: adfText(strings.Join(code, "\n"))})
		case lineNumbered:
			list := adfNode{Type: "orderedList"}
			for ; i < len(lines) && lines[i].kind == lineNumbered; i++ {
				list.Content = append(list.Content, adfNode{Type: "listItem", Content: []adfNode{{Type: "paragraph", Content: adfText(lines[i].text)}}})
			}
			i--
			doc.Content = append(doc.Content, list)
		default:
			doc.Content = append(doc.Content, adfNode{Type: "paragraph", Content: adfText(l.text)})
		}
	}
	return doc
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

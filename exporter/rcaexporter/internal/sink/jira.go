// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"container/list"
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
	// MaxTrackedIncidents bounds the incident id -> issue key map (oldest evicted first; an
	// evicted incident that updates again gets a new issue).
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

// Jira creates one issue per incident and comments on it for every later update.
type Jira struct {
	cfg  JiraConfig
	http httpSender

	// mu serialises the lookup-or-create step so concurrent queue consumers never create
	// two issues for one incident.
	mu        sync.Mutex
	issues    map[string]*list.Element // incident id -> element of order (value *jiraIssue)
	order     *list.List               // least recently used first
	evictions atomic.Uint64
}

type jiraIssue struct {
	incidentID string
	key        string
	// version is the last incident version delivered (create or comment); older updates are skipped.
	version int
}

var _ Sink = (*Jira)(nil)

// NewJira builds a Jira sink; call Start before Send.
func NewJira(cfg JiraConfig, set component.TelemetrySettings) *Jira {
	if cfg.MaxTrackedIncidents <= 0 {
		cfg.MaxTrackedIncidents = defaultJiraMaxTracked
	}
	j := &Jira{cfg: cfg, issues: map[string]*list.Element{}, order: list.New()}
	j.http = httpSender{name: "jira", cfg: &j.cfg.ClientConfig, set: set}
	return j
}

// Name returns "jira".
func (*Jira) Name() string { return "jira" }

// Start creates the HTTP client.
func (j *Jira) Start(ctx context.Context, host component.Host) error { return j.http.start(ctx, host) }

// Shutdown closes idle connections.
func (j *Jira) Shutdown(ctx context.Context) error { return j.http.shutdown(ctx) }

// Evictions counts incidents dropped from the bounded id -> issue key map.
func (j *Jira) Evictions() uint64 { return j.evictions.Load() }

// IssueKey returns the Jira issue key recorded for an incident id.
func (j *Jira) IssueKey(incidentID string) (string, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e, ok := j.issues[incidentID]; ok {
		return e.Value.(*jiraIssue).key, true
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

// Send creates the issue on the first delivery of an incident id and comments afterwards.
func (j *Jira) Send(ctx context.Context, inc *incident.Incident) error {
	j.mu.Lock()
	if e, ok := j.issues[inc.ID]; ok {
		ji := e.Value.(*jiraIssue)
		j.order.MoveToBack(e)
		key, last := ji.key, ji.version
		j.mu.Unlock()
		if inc.Version != 0 && inc.Version <= last {
			return nil // stale or duplicate update
		}
		return j.comment(ctx, key, inc)
	}
	defer j.mu.Unlock()
	key, err := j.create(ctx, inc)
	if err != nil {
		return err
	}
	j.remember(inc.ID, key, inc.Version)
	return nil
}

// remember records id -> key; j.mu must be held.
func (j *Jira) remember(id, key string, version int) {
	if e, ok := j.issues[id]; ok {
		ji := e.Value.(*jiraIssue)
		ji.key, ji.version = key, max(ji.version, version)
		j.order.MoveToBack(e)
		return
	}
	for j.order.Len() >= j.cfg.MaxTrackedIncidents {
		old := j.order.Front()
		j.order.Remove(old)
		delete(j.issues, old.Value.(*jiraIssue).incidentID)
		j.evictions.Add(1)
	}
	j.issues[id] = j.order.PushBack(&jiraIssue{incidentID: id, key: key, version: version})
}

func (j *Jira) setVersion(id string, version int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e, ok := j.issues[id]; ok {
		ji := e.Value.(*jiraIssue)
		ji.version = max(ji.version, version)
	}
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
	if _, err := j.http.do(ctx, http.MethodPost, j.apiURL("/issue/"+url.PathEscape(key)+"/comment"), body, j.headers()); err != nil {
		return err
	}
	j.setVersion(inc.ID, inc.Version)
	return nil
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

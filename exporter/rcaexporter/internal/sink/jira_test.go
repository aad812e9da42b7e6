// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// fakeJira emulates the two Jira endpoints the sink uses and checks basic auth.
type fakeJira struct {
	rec     *recorder
	created atomic.Int64
	version int
}

func newFakeJira(t *testing.T, version int) *fakeJira {
	t.Helper()
	f := &fakeJira{version: version}
	f.rec = newRecorder(t, http.StatusInternalServerError, "")
	f.rec.handler = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "bot@example.com" || pass != "tok-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		prefix := fmt.Sprintf("/rest/api/%d/issue", f.version)
		switch {
		case r.Method == http.MethodPost && r.URL.Path == prefix:
			n := f.created.Add(1)
			w.WriteHeader(http.StatusCreated)
			_, _ = fmt.Fprintf(w, `{"id":"1000%d","key":"OPS-%d","self":"http://jira/rest/api/2/issue/1000%d"}`, n, n, n)
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, prefix+"/OPS-") && strings.HasSuffix(r.URL.Path, "/comment"):
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"2000"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
		return true
	}
	return f
}

func newJira(t *testing.T, endpoint string, mutate func(*JiraConfig)) *Jira {
	t.Helper()
	j := buildJira(t, endpoint, mutate)
	start(t, j)
	return j
}

// buildJira returns a Jira sink that is not started yet.
func buildJira(t *testing.T, endpoint string, mutate func(*JiraConfig)) *Jira {
	t.Helper()
	cfg := NewDefaultJiraConfig()
	cfg.ClientConfig = clientConfig(endpoint)
	cfg.ProjectKey = "OPS"
	cfg.IssueType = "Incident"
	cfg.Labels = []string{"prod", "aiops"}
	cfg.User = "bot@example.com"
	cfg.APIToken = "tok-123"
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	return NewJira(cfg, componenttest.NewNopTelemetrySettings())
}

const wantJiraDescription = "Incident inc-42 (version 1), status open, severity Critical, confidence 87%.\n" +
	"h3. Root cause\n" +
	"Service: db\n" +
	"Issue: connection pool exhausted\n" +
	"Propagation path: db → payment → checkout → frontend\n" +
	"h3. Explanation\n" +
	"payment calls to db time out first; errors spread upstream\n" +
	"h3. Evidence\n" +
	"{noformat}\n" +
	"2026-03-04T10:00:01Z payment: pool timeout after 5000ms\n" +
	"2026-03-04T10:00:02Z checkout: upstream payment returned 503\n" +
	"2026-03-04T10:00:03Z frontend: request failed <500>\n" +
	"2026-03-04T10:00:04Z frontend: request failed again\n" +
	"{noformat}\n" +
	"h3. Remediation\n" +
	"# Increase the pool size\n" +
	"# Kill long-running queries\n" +
	"h3. Affected services\n" +
	"payment, checkout, frontend\n" +
	"Started at 2026-03-04T10:00:00Z, analysis: statistical.\n"

func TestJiraCreateThenComment(t *testing.T) {
	f := newFakeJira(t, 2)
	j := newJira(t, f.rec.srv.URL, nil)

	inc := testIncident()
	require.NoError(t, j.Send(context.Background(), inc))
	key, ok := j.IssueKey("inc-42")
	require.True(t, ok)
	assert.Equal(t, "OPS-1", key)

	upd := testIncident()
	upd.Version = 2
	upd.Severity = "High"
	require.NoError(t, j.Send(context.Background(), upd))
	require.NoError(t, j.Send(context.Background(), upd), "a duplicate version is skipped")
	require.NoError(t, j.Send(context.Background(), inc), "a stale version is skipped")
	require.NoError(t, j.Send(context.Background(), resolvedIncident()))

	reqs := f.rec.all()
	require.Len(t, reqs, 3)
	assert.Equal(t, int64(1), f.created.Load(), "one issue per incident")

	create := reqs[0]
	assert.Equal(t, http.MethodPost, create.Method)
	assert.Equal(t, "/rest/api/2/issue", create.Path)
	assert.Equal(t, "application/json", create.Header.Get("Content-Type"))
	wantCreate, err := json.Marshal(map[string]any{"fields": map[string]any{
		"project":     map[string]any{"key": "OPS"},
		"issuetype":   map[string]any{"name": "Incident"},
		"summary":     "[Critical] Checkout failures caused by db connection pool exhaustion",
		"description": wantJiraDescription,
		"labels":      []string{"prod", "aiops", "statistical-analysis", "db"},
	}})
	require.NoError(t, err)
	assert.JSONEq(t, string(wantCreate), string(create.Body))

	assert.Equal(t, "/rest/api/2/issue/OPS-1/comment", reqs[1].Path)
	assert.JSONEq(t, `{"body": "Incident updated (version 2): severity High, root cause db, confidence 87%.\n`+
		`Issue: connection pool exhausted\nPropagation path: db → payment → checkout → frontend\n{noformat}\n`+
		`2026-03-04T10:00:01Z payment: pool timeout after 5000ms\n2026-03-04T10:00:02Z checkout: upstream payment returned 503\n`+
		`2026-03-04T10:00:03Z frontend: request failed <500>\n{noformat}\n"}`, string(reqs[1].Body))
	assert.Equal(t, "/rest/api/2/issue/OPS-1/comment", reqs[2].Path)
	assert.JSONEq(t, `{"body":"Incident resolved at 2026-03-04T10:10:00Z (version 3).\n"}`, string(reqs[2].Body))
}

func TestJiraV3DocumentFormat(t *testing.T) {
	f := newFakeJira(t, 3)
	j := newJira(t, f.rec.srv.URL, func(c *JiraConfig) {
		c.APIVersion = 3
		c.Labels = nil
		c.IncidentURLTemplate = "https://ui.example/i/{id}"
	})
	inc := testIncident()
	inc.Source = "llm"
	inc.RootCauseService = "order db"
	require.NoError(t, j.Send(context.Background(), inc))
	reqs := f.rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/rest/api/3/issue", reqs[0].Path)
	var body struct {
		Fields struct {
			Labels      []string `json:"labels"`
			Description adfNode  `json:"description"`
		} `json:"fields"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	assert.Equal(t, []string{"aiops", "llm-analysis", "order_db"}, body.Fields.Labels)
	d := body.Fields.Description
	assert.Equal(t, "doc", d.Type)
	assert.Equal(t, 1, d.Version)
	var kinds []string
	for _, n := range d.Content {
		kinds = append(kinds, n.Type)
	}
	assert.Equal(t, []string{
		"paragraph", "paragraph", // summary line, link
		"heading", "paragraph", "paragraph", "paragraph", // root cause
		"heading", "paragraph", // explanation
		"heading", "codeBlock", // evidence
		"heading", "orderedList", // remediation
		"heading", "paragraph", // affected
		"paragraph", // started at
	}, kinds)
	assert.Equal(t, "Link: https://ui.example/i/inc-42", d.Content[1].Content[0].Text)
	assert.Equal(t, map[string]any{"level": float64(3)}, d.Content[2].Attrs)
	assert.Equal(t, strings.Join(inc.Evidence, "\n"), d.Content[9].Content[0].Text)
	require.Len(t, d.Content[11].Content, 2)
	assert.Equal(t, "listItem", d.Content[11].Content[0].Type)
	assert.Equal(t, "Increase the pool size", d.Content[11].Content[0].Content[0].Content[0].Text)
}

func TestJiraBoundedMapCountsEvictions(t *testing.T) {
	f := newFakeJira(t, 2)
	j := newJira(t, f.rec.srv.URL, func(c *JiraConfig) { c.MaxTrackedIncidents = 2 })
	for _, id := range []string{"a", "b", "c"} {
		inc := testIncident()
		inc.ID = id
		require.NoError(t, j.Send(context.Background(), inc))
	}
	assert.Equal(t, uint64(1), j.Evictions())
	_, ok := j.IssueKey("a")
	assert.False(t, ok, "oldest evicted")
	key, ok := j.IssueKey("c")
	assert.True(t, ok)
	assert.Equal(t, "OPS-3", key)
}

func TestJiraMalformedCreateResponse(t *testing.T) {
	rec := newRecorder(t, http.StatusCreated, `{"id": 12`)
	j := newJira(t, rec.srv.URL, nil)
	err := j.Send(context.Background(), testIncident())
	require.EqualError(t, err, "Permanent error: jira sink: create issue: response has no issue key")
	_, ok := j.IssueKey("inc-42")
	assert.False(t, ok)

	rec.set(http.StatusCreated, `{"id":"1"}`) // valid JSON, no key
	err = j.Send(context.Background(), testIncident())
	assert.True(t, consumererror.IsPermanent(err))
	assert.Len(t, rec.all(), 2, "an unknown incident is created again, never commented")
}

func TestJiraCreateFailureThenRetry(t *testing.T) {
	f := newFakeJira(t, 2)
	j := newJira(t, f.rec.srv.URL, nil)
	// First attempt fails with 503 before the fake handles it.
	handler := f.rec.handler
	var fail atomic.Bool
	fail.Store(true)
	f.rec.handler = func(w http.ResponseWriter, r *http.Request, b []byte) bool {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return handler(w, r, b)
	}
	err := j.Send(context.Background(), testIncident())
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	fail.Store(false)
	require.NoError(t, j.Send(context.Background(), testIncident()))
	key, ok := j.IssueKey("inc-42")
	assert.True(t, ok)
	assert.Equal(t, "OPS-1", key)
}

func TestJiraConcurrentFirstSendsCreateOneIssue(t *testing.T) {
	f := newFakeJira(t, 2)
	j := newJira(t, f.rec.srv.URL, nil)
	var wg sync.WaitGroup
	for v := 1; v <= 8; v++ {
		wg.Go(func() {
			inc := testIncident()
			inc.Version = v
			assert.NoError(t, j.Send(context.Background(), inc))
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), f.created.Load())
}

func TestJiraAuthErrorHidesToken(t *testing.T) {
	f := newFakeJira(t, 2)
	j := newJira(t, f.rec.srv.URL, func(c *JiraConfig) { c.APIToken = "wrong-token-zzz" })
	err := j.Send(context.Background(), testIncident())
	require.EqualError(t, err, "Permanent error: jira sink: HTTP 401 Unauthorized")
}

func TestJiraValidate(t *testing.T) {
	cfg := NewDefaultJiraConfig()
	cfg.APIVersion = 4
	cfg.IssueType = " "
	cfg.Labels = []string{"has space"}
	cfg.User = "u"
	cfg.MaxTrackedIncidents = 0
	require.EqualError(t, cfg.Validate(), "`endpoint` must be set\n"+
		"`api_version` must be 2 or 3\n"+
		"`project_key` must be set\n"+
		"`issue_type` must be set\n"+
		"`labels` must be non-empty and contain no spaces\n"+
		"`user` and `api_token` must be set together\n"+
		"`max_tracked_incidents` must be positive")
	ok := NewDefaultJiraConfig()
	ok.ClientConfig.Endpoint = "https://example.atlassian.net"
	ok.ProjectKey = "OPS"
	assert.NoError(t, ok.Validate(), "auth may come from headers or an auth extension")
}

// startJiraWithStore builds and starts a Jira sink that persists its issue keys in store.
func startJiraWithStore(t *testing.T, endpoint string, store Store, ev *eventLog, mutate func(*JiraConfig)) *Jira {
	t.Helper()
	j := buildJira(t, endpoint, mutate)
	j.events = ev.events()
	j.SetStore(store)
	start(t, j)
	return j
}

func incidentVersion(id string, version int, resolved bool) *incident.Incident {
	inc := testIncident()
	inc.ID, inc.Version = id, version
	if resolved {
		r := resolvedIncident()
		r.ID, r.Version = id, version
		return r
	}
	return inc
}

func paths(reqs []request) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, r.Path)
	}
	return out
}

func TestJiraIssueKeysSurviveRestart(t *testing.T) {
	f := newFakeJira(t, 2)
	store := newMemStore()
	ev := newEventLog()
	ctx := context.Background()

	before := startJiraWithStore(t, f.rec.srv.URL, store, ev, nil)
	require.NoError(t, before.Send(ctx, incidentVersion("inc-42", 1, false)))
	require.NoError(t, before.Send(ctx, incidentVersion("inc-43", 1, false)))
	require.NoError(t, before.Send(ctx, incidentVersion("inc-43", 2, false)))
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"inc-42","key":"OPS-1","version":1},{"id":"inc-43","key":"OPS-2","version":2}]}`,
		store.value(jiraStateKey), "saved on every change, without waiting for shutdown")
	require.NoError(t, before.Shutdown(ctx)) // collector restart

	after := startJiraWithStore(t, f.rec.srv.URL, store, ev, nil)
	key, ok := after.IssueKey("inc-42")
	require.True(t, ok, "loaded on Start")
	assert.Equal(t, "OPS-1", key)
	require.NoError(t, after.Send(ctx, incidentVersion("inc-42", 2, false)))
	require.NoError(t, after.Send(ctx, incidentVersion("inc-43", 2, false)), "the delivered version survived too: duplicate skipped")
	require.NoError(t, after.Send(ctx, incidentVersion("inc-42", 3, true)))

	assert.Equal(t, int64(2), f.created.Load(), "no duplicate issue after the restart")
	assert.Equal(t, []string{
		"/rest/api/2/issue", "/rest/api/2/issue", "/rest/api/2/issue/OPS-2/comment", // before the restart
		"/rest/api/2/issue/OPS-1/comment", "/rest/api/2/issue/OPS-1/comment", // after: update, final comment
	}, paths(f.rec.all()))
	reqs := f.rec.all()
	assert.JSONEq(t, `{"body":"Incident resolved at 2026-03-04T10:10:00Z (version 3).\n"}`, string(reqs[4].Body))
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"inc-42","key":"OPS-1","version":3,"resolved":true},{"id":"inc-43","key":"OPS-2","version":2}]}`,
		store.value(jiraStateKey))
	dropped, storage := ev.snapshot()
	assert.Empty(t, dropped)
	assert.Empty(t, storage)

	// Without the store (the old behaviour) the same update opened a duplicate issue.
	memOnly := newJira(t, f.rec.srv.URL, nil)
	require.NoError(t, memOnly.Send(ctx, incidentVersion("inc-43", 3, false)))
	assert.Equal(t, int64(3), f.created.Load())
}

func TestJiraUnreadableStoredKeysStartEmpty(t *testing.T) {
	for name, tc := range map[string]struct {
		stored  string
		failGet bool
	}{
		"not json":            {stored: `{"format":1,"issues":[{"id":`},
		"unknown format":      {stored: `{"format":7,"issues":[]}`},
		"entry without a key": {stored: `{"format":1,"issues":[{"id":"inc-42"}]}`},
		"wrong types":         {stored: `{"format":1,"issues":{"inc-42":"OPS-9"}}`},
		"storage read error":  {failGet: true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeJira(t, 2)
			store := newMemStore()
			store.data[jiraStateKey] = []byte(tc.stored)
			store.failGet = tc.failGet
			ev := newEventLog()
			j := startJiraWithStore(t, f.rec.srv.URL, store, ev, nil) // never fails start-up
			_, storage := ev.snapshot()
			assert.Equal(t, map[string]int{"jira_load": 1}, storage)
			_, ok := j.IssueKey("inc-42")
			assert.False(t, ok)

			store.setFail(false, false)
			require.NoError(t, j.Send(context.Background(), testIncident()))
			assert.JSONEq(t, `{"format":1,"issues":[{"id":"inc-42","key":"OPS-1","version":1}]}`, store.value(jiraStateKey),
				"the unreadable data is replaced")
		})
	}
}

func TestJiraEmptyStoreLoadsNothing(t *testing.T) {
	f := newFakeJira(t, 2)
	store := newMemStore()
	ev := newEventLog()
	startJiraWithStore(t, f.rec.srv.URL, store, ev, nil)
	_, storage := ev.snapshot()
	assert.Empty(t, storage, "a missing key is not an error")
	assert.Zero(t, store.setCount(), "nothing to save")
}

func TestJiraFailedSaveIsCountedAndRetried(t *testing.T) {
	f := newFakeJira(t, 2)
	store := newMemStore()
	store.failSet = true
	ev := newEventLog()
	j := startJiraWithStore(t, f.rec.srv.URL, store, ev, nil)
	require.NoError(t, j.Send(context.Background(), testIncident()), "the issue exists: a storage failure does not fail the delivery")
	_, storage := ev.snapshot()
	assert.Equal(t, map[string]int{"jira_save": 1}, storage)
	assert.Empty(t, store.value(jiraStateKey))

	store.setFail(false, false)
	require.NoError(t, j.Shutdown(context.Background()))
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"inc-42","key":"OPS-1","version":1}]}`, store.value(jiraStateKey),
		"the unsaved change is written at shutdown")
	n := store.setCount()
	require.NoError(t, j.Shutdown(context.Background()))
	assert.Equal(t, n, store.setCount(), "nothing changed: no second write")
}

func TestJiraResolvedEntriesAreEvictedFirst(t *testing.T) {
	f := newFakeJira(t, 2)
	store := newMemStore()
	ev := newEventLog()
	ctx := context.Background()
	j := startJiraWithStore(t, f.rec.srv.URL, store, ev, func(c *JiraConfig) { c.MaxTrackedIncidents = 2 })

	require.NoError(t, j.Send(ctx, incidentVersion("a", 1, false)))
	require.NoError(t, j.Send(ctx, incidentVersion("b", 1, false)))
	require.NoError(t, j.Send(ctx, incidentVersion("b", 2, true))) // final comment, b becomes evictable
	require.NoError(t, j.Send(ctx, incidentVersion("c", 1, false)))
	_, ok := j.IssueKey("b")
	assert.False(t, ok, "the resolved incident made room")
	_, ok = j.IssueKey("a")
	assert.True(t, ok, "the older but open incident is kept")
	assert.Zero(t, j.Evictions())
	dropped, _ := ev.snapshot()
	assert.Empty(t, dropped, "evicting a resolved incident loses nothing")

	require.NoError(t, j.Send(ctx, incidentVersion("d", 1, false)))
	_, ok = j.IssueKey("a")
	assert.False(t, ok, "only open incidents left: the least recently used goes")
	assert.Equal(t, uint64(1), j.Evictions())
	dropped, _ = ev.snapshot()
	assert.Equal(t, map[string]int{"jira_issues_full": 1}, dropped)
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"c","key":"OPS-3","version":1},{"id":"d","key":"OPS-4","version":1}]}`,
		store.value(jiraStateKey))
	assert.Equal(t, "/rest/api/2/issue/OPS-2/comment", f.rec.all()[2].Path, "b got its final comment")
}

func TestJiraLoadIntoSmallerBound(t *testing.T) {
	f := newFakeJira(t, 2)
	store := newMemStore()
	store.data[jiraStateKey] = []byte(`{"format":1,"issues":[` +
		`{"id":"r1","key":"OPS-1","version":2,"resolved":true},` +
		`{"id":"o1","key":"OPS-2","version":1},{"id":"o2","key":"OPS-3","version":4},{"id":"o3","key":"OPS-4","version":1}]}`)
	ev := newEventLog()
	j := startJiraWithStore(t, f.rec.srv.URL, store, ev, func(c *JiraConfig) { c.MaxTrackedIncidents = 2 })
	dropped, _ := ev.snapshot()
	assert.Equal(t, map[string]int{"jira_issues_full": 1}, dropped, "r1 silently, then o1 counted")
	for id, want := range map[string]bool{"r1": false, "o1": false, "o2": true, "o3": true} {
		_, ok := j.IssueKey(id)
		assert.Equal(t, want, ok, id)
	}
	require.NoError(t, j.Shutdown(context.Background()))
	assert.JSONEq(t, `{"format":1,"issues":[{"id":"o2","key":"OPS-3","version":4},{"id":"o3","key":"OPS-4","version":1}]}`,
		store.value(jiraStateKey), "the trimmed map is written back")
}

func TestJiraMergedIncidentFinalComment(t *testing.T) {
	f := newFakeJira(t, 2)
	j := newJira(t, f.rec.srv.URL, nil)
	ctx := context.Background()
	require.NoError(t, j.Send(ctx, incidentVersion("inc-1", 1, false)))
	require.NoError(t, j.Send(ctx, incidentVersion("inc-2", 1, false)))
	merged := incidentVersion("inc-2", 2, true)
	merged.MergedInto = "inc-1"
	require.NoError(t, j.Send(ctx, merged))
	reqs := f.rec.all()
	require.Len(t, reqs, 3)
	assert.Equal(t, "/rest/api/2/issue/OPS-2/comment", reqs[2].Path)
	assert.JSONEq(t, `{"body":"Incident resolved at 2026-03-04T10:10:00Z (version 2).\nMerged into incident inc-1 (OPS-1).\n"}`, string(reqs[2].Body))
}

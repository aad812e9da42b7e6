// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"
)

// rcaAnswer is a model's RCA answer naming root as the root cause.
func rcaAnswer(root string) string {
	b, _ := json.Marshal(map[string]any{
		"root_cause_service": root,
		"root_cause_issue":   "connection pool of " + root + " exhausted",
		"propagation_path":   []string{root, "payment", "checkout"},
		"evidence":           []string{"db query failed: connection refused"},
		"confidence":         0.9,
		"explanation":        "payment logs connection refused from " + root + " first",
		"dependency_paths":   [][]string{{root, "payment"}},
		"remediation_steps":  []string{"check the connection pool of " + root, "restart " + root + " if it is saturated"},
	})
	return string(b)
}

var askIDRe = regexp.MustCompile(`id=([a-z][0-9]+)`)

// modelHandler answers like a model: plans and answers ask questions (citing the first item it
// was shown) and answers RCA questions naming root.
func modelHandler(root string) llmtest.Handler {
	return func(c llmtest.Call) llmtest.Reply {
		switch {
		case strings.Contains(c.System, "structured searches"):
			return llmtest.Reply{Content: `{"queries":[{"services":["payment"],"severity":"","since_minutes":600,"keywords":[],"kinds":[]}]}`}
		case strings.Contains(c.System, "root-cause analysis"):
			return llmtest.Reply{Content: rcaAnswer(root)}
		}
		cite := []string{}
		if m := askIDRe.FindStringSubmatch(c.Prompt); m != nil {
			cite = append(cite, m[1])
		}
		b, _ := json.Marshal(map[string]any{"answer": "payment could not reach orders-db", "citations": cite, "sufficient": len(cite) > 0})
		return llmtest.Reply{Content: string(b)}
	}
}

// withLLM adds an llm section talking to endpoint (an OpenAI-compatible server).
func withLLM(t *testing.T, cfg *Config, endpoint string, mut func(*LLMConfig)) *Config {
	t.Helper()
	lc := defaultLLMConfig()
	lc.Model.Provider = llm.ProviderOpenAI
	lc.Model.Model = "test-model"
	lc.Model.ClientConfig.Endpoint = endpoint
	lc.Model.ClientConfig.Timeout = 5 * time.Second
	lc.Retry.MaxAttempts = 2
	lc.Retry.InitialBackoff = 5 * time.Millisecond
	lc.Retry.MaxBackoff = 10 * time.Millisecond
	lc.Retry.MaxRetryAfter = 50 * time.Millisecond
	if mut != nil {
		mut(&lc)
	}
	cfg.LLM = configoptional.Some(lc)
	require.NoError(t, confmap.Validate(cfg))
	return cfg
}

func startLLMExporter(t *testing.T, cfg *Config, tel *componenttest.Telemetry) *rcaExporter {
	t.Helper()
	set := metadatatest.NewSettings(tel)
	e, err := newExporter(context.Background(), set, cfg, clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	return e
}

func newTel(t *testing.T) *componenttest.Telemetry {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	return tel
}

// counter reads an int sum of the exporter's telemetry for one attribute set (0 if absent).
func counter(tel *componenttest.Telemetry, name string, kvs ...attribute.KeyValue) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return 0
	}
	want := attribute.NewSet(kvs...)
	for _, dp := range sum.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

func narrativeResults(tel *componenttest.Telemetry, result string) int64 {
	return counter(tel, "otelcol_exporter_rca_llm_verdicts", attribute.String("result", result))
}

// feedHealthy plays two healthy minutes; feedFault 90 s of the database fault (the database's
// callers fail and log errors); feedRecovery quiet windows from the end of the fault on.
func feedHealthy(t *testing.T, e *rcaExporter) {
	t.Helper()
	for w := t0; w.Before(apiFaultStart); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
}

var faultEnd = apiFaultStart.Add(90 * time.Second)

func feedFault(t *testing.T, e *rcaExporter, payment func(i int) (line, tpl string)) {
	t.Helper()
	i := 0
	for w := apiFaultStart; w.Before(faultEnd); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		for s := 2 * time.Second; s < 15*time.Second; s += 3 * time.Second {
			line, tpl := "db query failed: connection refused 10.0.0.7:5432", "db query failed: connection refused <*>"
			if payment != nil {
				line, tpl = payment(i)
			}
			i++
			addAnomaly(ld, "payment", w.Add(s), 0.8, "error_burst", "p1", tpl, line)
			addAnomaly(ld, "checkout", w.Add(s+2*time.Second), 0.75, "error_burst", "c1", "payment call failed status <*>", "payment call failed status 503")
		}
		addEdges(ld, w, shopEdges(60, 40))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
}

func feedRecovery(t *testing.T, e *rcaExporter) {
	t.Helper()
	for w := faultEnd; w.Before(faultEnd.Add(8 * time.Minute)); w = w.Add(15 * time.Second) {
		ld := plog.NewLogs()
		addEdges(ld, w, shopEdges(0, 0))
		require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	}
}

func latestByID(incs []incident.Incident) map[string]incident.Incident {
	m := map[string]incident.Incident{}
	for _, inc := range incs {
		if old, ok := m[inc.ID]; !ok || inc.Version > old.Version {
			m[inc.ID] = inc
		}
	}
	return m
}

func hasSource(incs []incident.Incident, source string) bool {
	for _, inc := range incs {
		if inc.Source == source {
			return true
		}
	}
	return false
}

func TestNarrativeIsMergedIntoTheIncident(t *testing.T) {
	wh := newWebhookServer(t)
	srv := llmtest.NewServer(t, llmtest.OpenAI, modelHandler("orders-db"))
	tel := newTel(t)
	e := startLLMExporter(t, withLLM(t, testConfig(wh.srv.URL), srv.URL(), nil), tel)

	feedHealthy(t, e)
	feedFault(t, e, nil)
	require.Eventually(t, func() bool { return hasSource(wh.incidents(), "llm") }, 10*time.Second, 5*time.Millisecond,
		"the narrative version reaches the webhook")
	feedRecovery(t, e)
	require.NoError(t, e.Shutdown(context.Background()))

	got := wh.incidents()
	first := got[0]
	assert.Equal(t, 1, first.Version)
	assert.Equal(t, "statistical", first.Source, "the statistical incident goes out first")
	assert.Nil(t, first.LLM)

	var narrated incident.Incident
	for _, inc := range got {
		if inc.Source == "llm" {
			narrated = inc
			break
		}
	}
	assert.Equal(t, "orders-db", narrated.RootCauseService, "the ranking's root cause")
	assert.Equal(t, "connection pool of orders-db exhausted", narrated.RootCauseIssue)
	assert.InDelta(t, 0.9, narrated.Confidence, 1e-9)
	assert.Equal(t, []string{"check the connection pool of orders-db", "restart orders-db if it is saturated"}, narrated.RemediationSteps)
	assert.Contains(t, narrated.Explanation, "payment logs connection refused from orders-db first")
	assert.Contains(t, narrated.Explanation, "Statistical ranking: Timeline:", "the ranking's explanation stays")
	require.NotNil(t, narrated.LLM)
	assert.Equal(t, incident.LLMOpinion{
		Model: "test-model", RootCauseService: "orders-db", RootCauseIssue: "connection pool of orders-db exhausted",
		Confidence: 0.9, AgreesWithRanking: true, Explanation: "payment logs connection refused from orders-db first",
	}, *narrated.LLM)
	require.NotEmpty(t, narrated.Candidates)
	assert.Equal(t, "orders-db", narrated.Candidates[0].Service, "the deterministic ranking stays visible")
	assert.NotEmpty(t, narrated.Candidates[0].Reasons)

	last := latestByID(got)[first.ID]
	assert.Equal(t, incident.StatusResolved, last.Status)
	assert.Equal(t, "llm", last.Source, "later versions keep the narrative")

	// What the model was shown: the ranking, the paths, the logs, the graph's services.
	reqs := srv.Requests()
	require.NotEmpty(t, reqs)
	p := reqs[0].Prompt
	for _, want := range []string{"RANKING", "1. orders-db (database)", "propagation path", "db query failed: connection refused",
		"payment call failed status", "calls from payment to orders-db fail", "frontend"} {
		assert.Contains(t, p, want)
	}
	assert.Equal(t, int64(1), narrativeResults(tel, narrMerged))
	assert.Positive(t, counter(tel, "otelcol_exporter_rca_llm_requests",
		attribute.String("task", "rca"), attribute.String("model", "test-model"), attribute.String("outcome", "ok")))
}

func TestNarrativeDisagreeingKeepsTheRanking(t *testing.T) {
	wh := newWebhookServer(t)
	srv := llmtest.NewServer(t, llmtest.OpenAI, modelHandler("checkout"))
	tel := newTel(t)
	e := startLLMExporter(t, withLLM(t, testConfig(wh.srv.URL), srv.URL(), nil), tel)
	feedHealthy(t, e)
	feedFault(t, e, nil)
	require.Eventually(t, func() bool { return hasSource(wh.incidents(), "llm") }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, e.Shutdown(context.Background()))
	for _, inc := range wh.incidents() {
		if inc.Source != "llm" {
			continue
		}
		assert.Equal(t, "orders-db", inc.RootCauseService)
		require.NotNil(t, inc.LLM)
		assert.False(t, inc.LLM.AgreesWithRanking)
		assert.Equal(t, "checkout", inc.LLM.RootCauseService)
		assert.NotContains(t, inc.RootCauseIssue, "connection pool", "the ranking's issue stands")
		assert.Contains(t, inc.Explanation, "suggests checkout rather than the ranking's orders-db")
	}
	assert.Equal(t, int64(1), narrativeResults(tel, narrDisagreed))
}

// A model naming a service that is not in the graph is rejected (after the one repair attempt):
// the incident stays statistical.
func TestNarrativeWithUnknownServiceIsRejected(t *testing.T) {
	wh := newWebhookServer(t)
	srv := llmtest.NewServer(t, llmtest.OpenAI, modelHandler("mystery-db"))
	tel := newTel(t)
	e := startLLMExporter(t, withLLM(t, testConfig(wh.srv.URL), srv.URL(), nil), tel)
	feedHealthy(t, e)
	feedFault(t, e, nil)
	require.Eventually(t, func() bool { return narrativeResults(tel, narrFailed) == 1 }, 10*time.Second, 5*time.Millisecond)
	feedRecovery(t, e)
	require.NoError(t, e.Shutdown(context.Background()))
	got := wh.incidents()
	require.NotEmpty(t, got)
	for _, inc := range got {
		assert.Equal(t, "statistical", inc.Source)
		assert.Nil(t, inc.LLM)
		assert.Empty(t, inc.RemediationSteps)
	}
	assert.Equal(t, "orders-db", latestByID(got)[got[0].ID].RootCauseService)
	assert.Equal(t, 2, srv.Calls(), "the answer and its repair attempt")
	assert.Equal(t, int64(1), counter(tel, "otelcol_exporter_rca_llm_requests",
		attribute.String("task", "rca"), attribute.String("model", "test-model"), attribute.String("outcome", "invalid_json")))
}

// Whatever the model does, the statistical incident is delivered and the failure counted.
func TestNarrativeFailuresLeaveIncidentsStatistical(t *testing.T) {
	down := httptest.NewServer(nil)
	downURL := down.URL + "/v1"
	down.Close()
	for _, tc := range []struct {
		name    string
		reply   *llmtest.Reply // nil: nothing listens
		outcome string
		mut     func(*LLMConfig)
	}{
		{name: "down", outcome: "error"},
		{name: "hanging", reply: &llmtest.Reply{Hang: true}, outcome: "timeout", mut: func(c *LLMConfig) {
			c.Model.ClientConfig.Timeout = 200 * time.Millisecond
			c.Retry.MaxAttempts = 1
		}},
		{name: "429", reply: &llmtest.Reply{Status: 429, RetryAfter: "0"}, outcome: "rate_limited"},
		{name: "500", reply: &llmtest.Reply{Status: 500}, outcome: "server_error"},
		{name: "invalid json", reply: &llmtest.Reply{Content: "I think the database is down."}, outcome: "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wh := newWebhookServer(t)
			endpoint := downURL
			if tc.reply != nil {
				r := *tc.reply
				endpoint = llmtest.NewServer(t, llmtest.OpenAI, func(llmtest.Call) llmtest.Reply { return r }).URL()
			}
			tel := newTel(t)
			e := startLLMExporter(t, withLLM(t, testConfig(wh.srv.URL), endpoint, tc.mut), tel)
			feedHealthy(t, e)
			feedFault(t, e, nil)
			require.NotEmpty(t, wh.incidents(), "delivered before any answer")
			require.Eventually(t, func() bool { return narrativeResults(tel, narrFailed) == 1 }, 10*time.Second, 5*time.Millisecond)
			feedRecovery(t, e)
			require.NoError(t, e.Shutdown(context.Background()))
			got := wh.incidents()
			assert.Equal(t, incident.StatusResolved, latestByID(got)[got[0].ID].Status)
			for _, inc := range got {
				assert.Equal(t, "statistical", inc.Source)
				assert.Nil(t, inc.LLM)
			}
			assert.Equal(t, int64(1), counter(tel, "otelcol_exporter_rca_llm_requests",
				attribute.String("task", "rca"), attribute.String("model", "test-model"), attribute.String("outcome", tc.outcome)))
		})
	}
}

// Shutdown does not wait for a model that does not answer: the question is cancelled.
func TestShutdownCancelsNarrativesInFlight(t *testing.T) {
	wh := newWebhookServer(t)
	srv := llmtest.NewServer(t, llmtest.OpenAI, func(llmtest.Call) llmtest.Reply { return llmtest.Reply{Hang: true} })
	tel := newTel(t)
	e := startLLMExporter(t, withLLM(t, testConfig(wh.srv.URL), srv.URL(), func(c *LLMConfig) {
		c.Model.ClientConfig.Timeout = time.Minute
	}), tel)
	feedHealthy(t, e)
	feedFault(t, e, nil)
	require.Eventually(t, func() bool { return srv.Calls() == 1 }, 10*time.Second, 5*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- e.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown waited for the model")
	}
	assert.Equal(t, int64(1), narrativeResults(tel, narrFailed))
	for _, inc := range wh.incidents() {
		assert.Equal(t, "statistical", inc.Source)
	}
}

// The narrator asks when an incident opens and on significant updates, at most
// max_narratives_per_incident times, min_update_interval apart, and never queues beyond
// queue_size.
func TestNarratorScheduling(t *testing.T) {
	tel := newTel(t)
	cfg := withLLM(t, testConfig("http://127.0.0.1:1"), "http://127.0.0.1:1", func(c *LLMConfig) {
		c.QueueSize = 1
		c.MaxNarrativesPerIncident = 2
		c.MinUpdateInterval = time.Minute
	})
	e, err := newExporter(context.Background(), metadatatest.NewSettings(tel), cfg, clockwork.NewFakeClockAt(t0))
	require.NoError(t, err)
	clock := e.clock.(*clockwork.FakeClock)
	n := newNarrator(e, cfg.LLM.Get(), nil, identity, llmInstruments(e))
	skipped := func(reason string) int64 {
		return counter(tel, "otelcol_exporter_rca_llm_skipped", attribute.String("reason", reason))
	}
	inc := func(id, root string, sev incident.Severity, services ...string) incident.Incident {
		return incident.Incident{ID: id, Version: 1, Status: incident.StatusOpen, RootCauseService: root, Severity: sev, AffectedServices: services}
	}
	take := func() string {
		select {
		case id := <-n.queue:
			return id
		default:
			return ""
		}
	}

	n.observe([]incident.Incident{inc("a", "db", incident.SeverityHigh, "db", "api")})
	n.observe([]incident.Incident{inc("b", "db", incident.SeverityHigh, "db")})
	assert.Equal(t, int64(1), skipped(skipQueueFull), "b finds the queue full")
	require.Equal(t, "a", take())

	// Not significant: same root cause, severity lowered, a service left.
	n.observe([]incident.Incident{inc("a", "db", incident.SeverityMedium, "db")})
	n.done("a", false)
	assert.Empty(t, take())

	// Significant (a service joined) but within min_update_interval: asked once it has passed.
	n.observe([]incident.Incident{inc("a", "db", incident.SeverityMedium, "db", "web")})
	assert.Empty(t, take())
	clock.Advance(time.Minute)
	n.retry()
	require.Equal(t, "a", take())
	n.done("a", false)

	// The third significant change is beyond max_narratives_per_incident.
	clock.Advance(time.Minute)
	n.observe([]incident.Incident{inc("a", "web", incident.SeverityMedium, "db", "web")})
	assert.Empty(t, take())
	assert.Equal(t, int64(1), skipped(skipMaxNarratives))

	// Resolved incidents are forgotten.
	res := inc("a", "web", incident.SeverityMedium, "db", "web")
	res.Status = incident.StatusResolved
	n.observe([]incident.Incident{res})
	assert.NotContains(t, n.states, "a")

	// A stale answer (the ranking changed meanwhile) is asked again, min_update_interval later.
	n.observe([]incident.Incident{inc("c", "db", incident.SeverityHigh, "db")})
	require.Equal(t, "c", take())
	n.done("c", true)
	assert.Empty(t, take())
	clock.Advance(time.Minute)
	n.retry()

	// Queued questions left at shutdown are counted.
	n.stop()
	assert.Equal(t, int64(1), skipped(skipShutdown))
	require.NoError(t, e.Shutdown(context.Background()))
}

func TestLLMConfigValidate(t *testing.T) {
	cfg := withLLM(t, testConfig("http://127.0.0.1:1"), "http://127.0.0.1:1", nil)
	lc := cfg.LLM.Get()
	lc.MaxNarrativesPerIncident = 0
	lc.MinUpdateInterval = -time.Second
	err := confmap.Validate(cfg)
	require.ErrorContains(t, err, "max_narratives_per_incident must be between 1 and 100")
	require.ErrorContains(t, err, "min_update_interval must not be negative")

	cfg = withLLM(t, testConfig("http://127.0.0.1:1"), "http://127.0.0.1:1", nil)
	cfg.LLM.Get().Model.Model = ""
	require.ErrorContains(t, confmap.Validate(cfg), "model must be set", "the shared llm settings are validated")

	cfg = testConfig("http://127.0.0.1:1")
	cfg.Ask.MaxItems = 0
	cfg.Ask.Window = 0
	err = confmap.Validate(cfg)
	require.ErrorContains(t, err, "max_items must be between 1 and 1000000")
	require.ErrorContains(t, err, "window must be between 0 (excluded) and 168h")

	assert.False(t, createDefaultConfig().(*Config).LLM.HasValue(), "off by default")
}

// TestNarrativeIsNotAskedAgainAfterRestart: an incident narrated before a restart (state in
// storage) is not narrated again after it when nothing significant changed, and is when
// something did.
func TestNarrativeIsNotAskedAgainAfterRestart(t *testing.T) {
	wh := newWebhookServer(t)
	srv := llmtest.NewServer(t, llmtest.OpenAI, modelHandler("orders-db"))
	id := component.MustNewID("file_storage")
	host := storagetest.Host{id: storagetest.NewMemStorage()}
	start := func() *rcaExporter {
		cfg := withLLM(t, testConfig(wh.srv.URL), srv.URL(), nil)
		cfg.Storage = &id
		e, err := newExporter(context.Background(), metadatatest.NewSettings(newTel(t)), cfg, clockwork.NewFakeClockAt(t0.Add(time.Hour)))
		require.NoError(t, err)
		require.NoError(t, e.Start(context.Background(), host))
		return e
	}

	e := start()
	feedHealthy(t, e)
	feedFault(t, e, nil)
	require.Eventually(t, func() bool { return hasSource(wh.incidents(), "llm") }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, e.Shutdown(context.Background()))
	asked := len(srv.Requests())
	require.Equal(t, 1, asked, "one narrative before the restart")

	e = start()
	restored := e.engine.OpenIncidentList()
	require.Len(t, restored, 1)
	inc := restored[0]
	require.NotNil(t, inc.LLM, "the restored incident carries its narrative")
	e.llm.narr.mu.Lock()
	st := e.llm.narr.states[inc.ID]
	require.NotNil(t, st, "the narrator knows the restored incident")
	assert.Equal(t, 1, st.asked)
	assert.False(t, st.want)
	e.llm.narr.mu.Unlock()

	// An update that is not significant for a narrative (same root cause, severity and
	// services; the candidates below the root cause reordered) asks nothing.
	upd := inc
	upd.Version++
	upd.Candidates = slices.Clone(inc.Candidates)
	if len(upd.Candidates) > 2 {
		upd.Candidates[1], upd.Candidates[2] = upd.Candidates[2], upd.Candidates[1]
	}
	e.llm.narr.observe([]incident.Incident{upd})
	// A question would be in flight from when it is queued until its answer is in.
	require.Eventually(t, func() bool { return narratorIdle(e.llm.narr) }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, e.Shutdown(context.Background()))
	assert.Equal(t, asked, len(srv.Requests()), "the restored incident is not narrated again")

	// A significant change (a service joined) is narrated as before the restart.
	e = start()
	sig := upd
	sig.Version++
	sig.AffectedServices = append(slices.Clone(upd.AffectedServices), "shipping")
	e.llm.narr.observe([]incident.Incident{sig})
	require.Eventually(t, func() bool { return len(srv.Requests()) == asked+1 && narratorIdle(e.llm.narr) }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, e.Shutdown(context.Background()))
}

// narratorIdle reports whether no question is queued or in flight.
func narratorIdle(n *narrator) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, st := range n.states {
		if st.inFlight {
			return false
		}
	}
	return true
}

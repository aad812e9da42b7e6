// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/llmprompt"
)

func askReply(t *testing.T, c *apiClient, question string) (askResponse, apiReply) {
	t.Helper()
	r := c.post(askPath, map[string]any{"question": question})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	var resp askResponse
	require.NoError(t, json.Unmarshal(r.raw, &resp))
	return resp, r
}

// feedFaultWithVerdict plays the database fault with a verdict record of payment.
func feedFaultWithVerdict(t *testing.T, e *rcaExporter) {
	t.Helper()
	feedHealthy(t, e)
	ld := plog.NewLogs()
	addVerdict(ld, "payment", apiFaultStart.Add(30*time.Second), true, "payment cannot reach its database")
	require.NoError(t, e.ConsumeLogs(t.Context(), ld))
	feedFault(t, e, nil)
	feedRecovery(t, e)
}

func TestAskWithoutLLM(t *testing.T) {
	wh := newWebhookServer(t)
	tel := newTel(t)
	e, c := startAPIExporter(t, newAPIExporter(apiConfig(t, wh.srv.URL, nil), tel), componenttest.NewNopHost())
	feedFaultWithVerdict(t, e)

	resp, r := askReply(t, c, "Which errors did payment log in the last 30 minutes?")
	assert.Equal(t, "search", resp.Source)
	assert.True(t, resp.Sufficient)
	require.NotEmpty(t, resp.Items)
	assert.LessOrEqual(t, len(resp.Items), 20)
	assert.Greater(t, resp.Matched, 20, "more matched than shown")
	for i, it := range resp.Items {
		assert.Equal(t, "payment", it.Service, it)
		if i > 0 {
			assert.False(t, it.Time.After(resp.Items[i-1].Time), "most recent first")
		}
	}
	assert.Equal(t, "anomaly", resp.Items[0].Kind)
	assert.Len(t, resp.Citations, len(resp.Items))
	require.Len(t, resp.Queries, 1)
	assert.Equal(t, []string{"payment"}, resp.Queries[0].Services)
	assert.Equal(t, "High", resp.Queries[0].Severity)
	assert.Equal(t, e.eventNow(), resp.EventTime, "relative times are event times")
	assert.True(t, resp.EventTime.After(faultEnd))
	assert.Contains(t, resp.Answer, "items match")
	assert.Contains(t, resp.Answer, "for payment")
	for _, f := range []string{"question", "answer", "source", "sufficient", "citations", "items", "matched", "queries", "event_time"} {
		assert.Contains(t, r.body, f)
	}

	// Incidents, edge anomalies and verdicts are searched too.
	resp, _ = askReply(t, c, "show incidents of checkout")
	require.NotEmpty(t, resp.Items)
	assert.Equal(t, "incident", resp.Items[0].Kind)
	assert.Len(t, resp.Items, 1, "only the latest version of an incident")
	assert.Contains(t, resp.Items[0].Text, "Root cause orders-db")
	assert.Equal(t, "orders-db", resp.Items[0].Service)

	resp, _ = askReply(t, c, "slow or failing calls to orders-db?")
	require.NotEmpty(t, resp.Items)
	assert.Equal(t, "edge", resp.Items[0].Kind)
	assert.Equal(t, "payment -> orders-db", resp.Items[0].Service)

	resp, _ = askReply(t, c, "what did the verdict say about payment database")
	var verdictSeen bool
	for _, it := range resp.Items {
		verdictSeen = verdictSeen || strings.Contains(it.Text, "LLM verdict")
	}
	assert.True(t, verdictSeen, resp.Items)

	// Nothing matches: 200, not sufficient, a message.
	resp, _ = askReply(t, c, "any zebra stampede in the warehouse service?")
	assert.False(t, resp.Sufficient)
	assert.Empty(t, resp.Items)
	assert.Equal(t, []string{}, resp.Citations)
	assert.Contains(t, resp.Answer, "Nothing held matches")

	assert.Equal(t, int64(5), counter(tel, "otelcol_exporter_rca_api_requests", attribute.String("endpoint", "ask"), attribute.String("outcome", "ok")))
}

func TestAskWithLLM(t *testing.T) {
	wh := newWebhookServer(t)
	srv := llmtest.NewServer(t, llmtest.OpenAI, modelHandler("orders-db"))
	tel := newTel(t)
	cfg := withLLM(t, apiConfig(t, wh.srv.URL, nil), srv.URL(), nil)
	e, c := startAPIExporter(t, newAPIExporter(cfg, tel), componenttest.NewNopHost())
	feedFaultWithVerdict(t, e)

	resp, _ := askReply(t, c, "Why did checkout fail?")
	assert.Equal(t, "llm", resp.Source)
	assert.Equal(t, "payment could not reach orders-db", resp.Answer)
	assert.True(t, resp.Sufficient)
	require.Len(t, resp.Citations, 1)
	require.NotEmpty(t, resp.Items)
	assert.Equal(t, resp.Items[0].ID, resp.Citations[0], "cites an item shown")
	require.Len(t, resp.Queries, 1)
	assert.Equal(t, []string{"payment"}, resp.Queries[0].Services, "the model's plan")
	assert.Equal(t, "test-model", resp.Model)
	assert.Empty(t, resp.Note)

	var plan, answer bool
	for _, call := range srv.Requests() {
		plan = plan || strings.Contains(call.System, "structured searches")
		if strings.Contains(call.Prompt, "Items found") {
			answer = true
			assert.Contains(t, call.Prompt, "Why did checkout fail?")
		}
	}
	assert.True(t, plan)
	assert.True(t, answer)
}

// Any failure of the model falls back to the keyword search: never a 5xx.
func TestAskFallsBackWhenTheLLMFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply llmtest.Handler
		note  string
	}{
		{name: "500", reply: func(llmtest.Call) llmtest.Reply { return llmtest.Reply{Status: 500} }, note: "could not plan"},
		{name: "invalid answer", reply: func(c llmtest.Call) llmtest.Reply {
			if strings.Contains(c.System, "structured searches") {
				return modelHandler("orders-db")(c)
			}
			return llmtest.Reply{Content: `{"answer": "x", "citations": ["nope"], "sufficient": true}`}
		}, note: "could not answer (invalid_json)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wh := newWebhookServer(t)
			srv := llmtest.NewServer(t, llmtest.OpenAI, tc.reply)
			cfg := withLLM(t, apiConfig(t, wh.srv.URL, nil), srv.URL(), nil)
			e, c := startAPIExporter(t, newAPIExporter(cfg, nil), componenttest.NewNopHost())
			feedFaultWithVerdict(t, e)
			resp, _ := askReply(t, c, "errors of payment")
			assert.Equal(t, "search", resp.Source)
			assert.Contains(t, resp.Note, tc.note)
			assert.NotEmpty(t, resp.Items)
			assert.True(t, resp.Sufficient)
		})
	}
}

func TestAskBadRequests(t *testing.T) {
	wh := newWebhookServer(t)
	tel := newTel(t)
	_, c := startAPIExporter(t, newAPIExporter(apiConfig(t, wh.srv.URL, nil), tel), componenttest.NewNopHost())
	for _, tc := range []struct {
		name, method, ctype string
		body                string
		status              int
		msg                 string
	}{
		{"empty question", http.MethodPost, "application/json", `{"question": "  "}`, 400, "question is required"},
		{"no question", http.MethodPost, "application/json", `{}`, 400, "question is required"},
		{"unknown field", http.MethodPost, "application/json", `{"question": "x", "top": 3}`, 400, `unknown field "top"`},
		{"wrong type", http.MethodPost, "application/json", `{"question": 3}`, 400, `field "question" must be a string`},
		{"two values", http.MethodPost, "application/json", `{"question": "x"} {}`, 400, "single JSON object"},
		{"too long", http.MethodPost, "application/json", `{"question": "` + strings.Repeat("é", 1001) + `"}`, 400, "at most 1000 characters"},
		{"malformed", http.MethodPost, "application/json", `{"question": `, 400, "malformed JSON"},
		{"content type", http.MethodPost, "text/plain", `{"question": "x"}`, 415, "Content-Type must be application/json"},
		{"method", http.MethodGet, "", ``, 405, "use POST"},
		{"too large", http.MethodPost, "application/json", `{"question": "` + strings.Repeat("a", maxAPIBody) + `"}`, 413, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, askPath, tc.ctype, []byte(tc.body), nil)
			assert.Equal(t, tc.status, r.status, string(r.raw))
			assert.Contains(t, r.body["error"], tc.msg)
		})
	}
	assert.Equal(t, int64(7), counter(tel, "otelcol_exporter_rca_api_requests", attribute.String("endpoint", "ask"), attribute.String("outcome", "bad_request")))
}

func TestAskHonoursAuth(t *testing.T) {
	wh := newWebhookServer(t)
	cfg := apiConfig(t, wh.srv.URL, map[string]any{"auth": map[string]any{"authenticator": "testauth"}})
	host := extHost{Host: componenttest.NewNopHost(), ext: map[component.ID]component.Component{component.MustNewID("testauth"): testAuth{}}}
	_, c := startAPIExporter(t, newAPIExporter(cfg, nil), host)
	body := []byte(`{"question":"errors?"}`)
	r := c.do(http.MethodPost, askPath, "application/json", body, nil)
	assert.Equal(t, http.StatusUnauthorized, r.status, string(r.raw))
	r = c.do(http.MethodPost, askPath, "application/json", body, map[string]string{"Authorization": "Bearer s3cret"})
	assert.Equal(t, http.StatusOK, r.status, string(r.raw))
}

func TestAskIndexIsBounded(t *testing.T) {
	x := newAskIndex(AskConfig{Window: time.Hour, MaxItems: 3})
	item := func(svc string, at time.Time) askItem {
		return askItem{Item: llmprompt.Item{Kind: kindAnomaly, Service: svc, Time: at, Text: "boom"}, services: []string{svc}}
	}
	x.add(0, item("a", t0), item("b", t0.Add(time.Minute)), item("c", t0.Add(2*time.Minute)), item("d", t0.Add(3*time.Minute)))
	assert.Equal(t, []string{"b", "c", "d"}, x.services(), "the oldest went first")
	x.add(t0.Add(time.Hour + 90*time.Second).UnixNano())
	assert.Equal(t, []string{"c", "d"}, x.services(), "older than the window")

	all := llmprompt.Query{Since: t0, Until: t0.Add(time.Hour)}
	items, n := x.search([]llmprompt.Query{all, all}, 20)
	assert.Equal(t, 2, n, "an item matching two queries counts once")
	assert.Equal(t, "d", items[0].Service)
	assert.Equal(t, "a4", items[0].ID)
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llmtest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		sb.WriteString(sc.Text())
		sb.WriteString("\n")
	}
	return resp, sb.String()
}

func TestSequenceAndStatic(t *testing.T) {
	h := Sequence(Reply{Content: "a"}, Reply{Content: "b"})
	assert.Equal(t, "a", h(Call{N: 1}).Content)
	assert.Equal(t, "b", h(Call{N: 2}).Content)
	assert.Equal(t, "b", h(Call{N: 5}).Content, "the last one repeats")
	assert.Equal(t, "x", Static("x")(Call{N: 9}).Content)
	assert.Panics(t, func() { Sequence() })
}

func TestOpenAIWire(t *testing.T) {
	s := NewServer(t, OpenAI, Sequence(Reply{Content: `{"ok":true}`, InputTokens: 12, OutputTokens: 5}))
	resp, body := post(t, s.URL()+"/chat/completions",
		`{"model":"m","temperature":0.1,"max_tokens":64,"response_format":{"type":"json_object"},`+
			`"messages":[{"role":"system","content":"answer in JSON"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, `{"ok":true}`, got.Choices[0].Message.Content)
	assert.Equal(t, 17, got.Usage.TotalTokens)

	calls := s.Requests()
	require.Len(t, calls, 1)
	c := calls[0]
	assert.Equal(t, 1, c.N)
	assert.Equal(t, "answer in JSON", c.System)
	assert.Equal(t, "hi", c.Prompt)
	assert.Equal(t, 64, c.MaxTokens)
	assert.True(t, c.JSONMode)
	assert.InDelta(t, 0.1, *c.Temperature, 1e-9)

	// Requests OpenAI refuses are refused the same way, without the handler.
	resp, body = post(t, s.URL()+"/chat/completions",
		`{"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, "must contain the word 'json'")
	resp, body = post(t, s.URL()+"/chat/completions",
		`{"model":"m","max_tokens":1,"max_completion_tokens":1,"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, "at the same time")
	resp, _ = post(t, s.URL()+"/messages", `{}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, 4, s.Calls())
}

func TestAnthropicWire(t *testing.T) {
	s := NewServer(t, Anthropic, Sequence(
		Reply{Content: `"ok": true}`, InputTokens: 20, OutputTokens: 4},
		Reply{Status: http.StatusTooManyRequests, RetryAfter: "3"},
	))
	resp, body := post(t, s.URL()+"/messages",
		`{"model":"claude","max_tokens":100,"temperature":0.1,"system":"be brief",`+
			`"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":[{"type":"text","text":"{"}]}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `"stop_reason":"end_turn"`)
	assert.Contains(t, body, `"input_tokens":20`)
	c := s.Requests()[0]
	assert.Equal(t, "{", c.Prefill)
	assert.True(t, c.JSONMode)
	assert.Equal(t, "be brief", c.System)

	resp, body = post(t, s.URL()+"/messages", `{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	assert.Contains(t, body, "rate_limit_error")

	for _, bad := range []string{
		`{"model":"claude","messages":[{"role":"user","content":"hi"}]}`,                                                     // no max_tokens
		`{"model":"claude","max_tokens":10,"messages":[{"role":"assistant","content":"x"}]}`,                                 // starts with assistant
		`{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"{ "}]}`, // trailing space
		`{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`,              // empty block
		`{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`,        // no alternation
	} {
		resp, _ := post(t, s.URL()+"/messages", bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
}

func TestOllamaWire(t *testing.T) {
	content := `{"é": "streamed in pieces"}`
	s := NewServer(t, Ollama, Sequence(Reply{Content: content, InputTokens: 30, OutputTokens: 9}))

	// Without "stream": false, Ollama streams.
	resp, body := post(t, s.URL()+"/api/chat", `{"model":"llama3","format":"json","options":{"temperature":0.1,"num_predict":50},"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(body), "\n")
	require.Greater(t, len(lines), 2)
	var sb strings.Builder
	for i, l := range lines {
		var chunk struct {
			Message struct{ Content string } `json:"message"`
			Done    bool                     `json:"done"`
			Prompt  int                      `json:"prompt_eval_count"`
			Eval    int                      `json:"eval_count"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &chunk))
		sb.WriteString(chunk.Message.Content)
		assert.Equal(t, i == len(lines)-1, chunk.Done)
		if chunk.Done {
			assert.Equal(t, 30, chunk.Prompt)
			assert.Equal(t, 9, chunk.Eval)
		}
	}
	assert.Equal(t, content, sb.String())
	c := s.Requests()[0]
	assert.True(t, c.Stream)
	assert.True(t, c.JSONMode)
	assert.Equal(t, 50, c.MaxTokens)

	resp, body = post(t, s.URL()+"/api/chat", `{"model":"llama3","stream":false,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `"done":true`)
	assert.Contains(t, body, `streamed in pieces`)
	assert.False(t, s.Requests()[1].Stream)
}

func TestRequestsAreCopies(t *testing.T) {
	s := NewServer(t, Ollama, Static(`{}`))
	post(t, s.URL()+"/api/chat", `{"model":"m","stream":false,"messages":[{"role":"user","content":"hi"}]}`)
	a := s.Requests()
	a[0].Body[0] = 'X'
	a[0].Messages[0].Content = "changed"
	b := s.Requests()
	assert.Equal(t, byte('{'), b[0].Body[0])
	assert.Equal(t, "hi", b[0].Messages[0].Content)
}

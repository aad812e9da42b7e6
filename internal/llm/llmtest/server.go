// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package llmtest is an in-process LLM server for tests. It speaks the wire format of each
// provider the llm package supports, as langchaingo's clients use it:
//
//   - openai: POST {URL}/chat/completions (URL ends in /v1), answers a chat.completion with
//     choices[].message.content and usage{prompt_tokens, completion_tokens, total_tokens};
//     errors are {"error":{"message","type","param","code"}}.
//   - anthropic: POST {URL}/messages (URL ends in /v1), answers a message with
//     content[{type:text,text}], stop_reason and usage{input_tokens, output_tokens}; errors are
//     {"type":"error","error":{"type","message"}}.
//   - ollama: POST {URL}/api/chat. langchaingo omits "stream" when it does not stream, and
//     Ollama streams by default, so a request without "stream": false gets an
//     application/x-ndjson stream of chunks ending with a done:true chunk carrying
//     prompt_eval_count and eval_count; "stream": false gets one JSON object. Errors are
//     {"error": "..."}.
//
// Requests the real service would refuse are refused the same way (400) without calling the
// handler: no model or messages; for openai, response_format json_object without the word
// "json" in the messages, or both max_tokens and max_completion_tokens; for anthropic, no
// max_tokens, a conversation not starting with the user or not alternating, an empty text
// block, or a final assistant turn ending in whitespace.
package llmtest // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm/llmtest"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Provider names (the llm package's).
const (
	OpenAI    = "openai"
	Anthropic = "anthropic"
	Ollama    = "ollama"
)

// Call is what the server received in one request.
type Call struct {
	// N numbers the requests of the server from 1.
	N        int
	Provider string
	Path     string
	Model    string
	// System is the system prompt; Prompt the last user message.
	System string
	Prompt string
	Body   []byte
	Header http.Header
	// MaxTokens is the output bound the request carries: max_completion_tokens or max_tokens
	// (openai), max_tokens (anthropic), options.num_predict (ollama); 0 when absent.
	MaxTokens int
	// JSONMode: response_format json_object or json_schema (openai), format "json" or a
	// schema (ollama), a final assistant turn starting with "{" (anthropic prefill).
	JSONMode bool
	// Temperature as sent (nil when absent).
	Temperature *float64
	// Messages are the conversation's messages in order, the system prompt excluded.
	Messages []Message
	// Prefill is the final assistant turn of an anthropic request ("" when none).
	Prefill string
	// Stream is whether the client asked for a stream (ollama's default when absent).
	Stream bool
}

// Message is one message of a conversation.
type Message struct {
	Role    string
	Content string
}

// Reply is what the server answers to one request.
type Reply struct {
	// Content is the answer's text.
	Content string
	// Status is the HTTP status; 0 is 200. Other statuses get the provider's error body.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Delay is waited before answering (a slow server); it ends early when the client goes
	// away or the server closes, so tests never depend on it elapsing exactly.
	Delay time.Duration
	// Hang never answers: the handler returns when the client's request ends or the server
	// closes.
	Hang bool
	// InputTokens and OutputTokens are the usage reported. 0 reports an estimate of the
	// request's and the answer's size; a negative value leaves the usage out of the body.
	InputTokens, OutputTokens int
	// RawBody, when set, is sent as the body verbatim (malformed answers).
	RawBody string
}

// Handler decides the reply to a request.
type Handler func(Call) Reply

// Static answers every request with the same content.
func Static(content string) Handler {
	return func(Call) Reply { return Reply{Content: content} }
}

// Sequence answers the n-th request with the n-th reply; the last one repeats.
func Sequence(replies ...Reply) Handler {
	if len(replies) == 0 {
		panic("llmtest.Sequence needs at least one reply")
	}
	return func(c Call) Reply {
		return replies[min(c.N, len(replies))-1]
	}
}

// Server is an in-process LLM server.
type Server struct {
	provider string
	h        Handler
	srv      *httptest.Server
	done     chan struct{}

	mu    sync.Mutex
	calls []Call
}

// NewServer starts a server for the provider; it is closed when the test ends.
func NewServer(tb testing.TB, provider string, h Handler) *Server {
	tb.Helper()
	switch provider {
	case OpenAI, Anthropic, Ollama:
	default:
		tb.Fatalf("llmtest: unknown provider %q", provider)
	}
	s := &Server{provider: provider, h: h, done: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(func() {
		close(s.done) // releases hanging and delayed handlers, which Close waits for
		s.srv.Close()
	})
	return s
}

// URL is the base URL to put in the llm options' Endpoint.
func (s *Server) URL() string {
	if s.provider == Ollama {
		return s.srv.URL
	}
	return s.srv.URL + "/v1"
}

// Calls is the number of requests received.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Requests returns copies of the requests received, in order.
func (s *Server) Requests() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = copyCall(c)
	}
	return out
}

func copyCall(c Call) Call {
	c.Body = bytes.Clone(c.Body)
	c.Header = c.Header.Clone()
	c.Messages = append([]Message(nil), c.Messages...)
	if c.Temperature != nil {
		t := *c.Temperature
		c.Temperature = &t
	}
	return c
}

func (s *Server) path() string {
	switch s.provider {
	case OpenAI:
		return "/v1/chat/completions"
	case Anthropic:
		return "/v1/messages"
	default:
		return "/api/chat"
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	call := Call{Provider: s.provider, Path: r.URL.Path, Body: body, Header: r.Header.Clone()}
	problem := ""
	if err := s.parse(&call); err != nil {
		problem = err.Error()
	}
	s.mu.Lock()
	call.N = len(s.calls) + 1
	s.calls = append(s.calls, copyCall(call))
	s.mu.Unlock()

	switch {
	case r.URL.Path != s.path():
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		return
	case r.Method != http.MethodPost:
		s.writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	case problem != "":
		s.writeError(w, http.StatusBadRequest, problem)
		return
	}

	reply := s.h(call)
	if reply.Hang {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if reply.Delay > 0 {
		t := time.NewTimer(reply.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.done:
			t.Stop()
			return
		}
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	if reply.RawBody != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply.RawBody)
		return
	}
	if status != http.StatusOK {
		msg := reply.Content
		if msg == "" {
			msg = http.StatusText(status)
		}
		s.writeError(w, status, msg)
		return
	}
	in, out := reply.InputTokens, reply.OutputTokens
	if in == 0 {
		in = estimate(call)
	}
	if out == 0 {
		out = (len(reply.Content)+3)/4 + 1
	}
	switch s.provider {
	case OpenAI:
		writeJSON(w, status, openAIResponse(call, reply.Content, in, out))
	case Anthropic:
		writeJSON(w, status, anthropicResponse(call, reply.Content, in, out))
	default:
		s.writeOllama(w, r, call, reply.Content, in, out)
	}
}

// estimate is a plausible prompt size in tokens: a little more than four bytes a token,
// plus a few tokens of framing per message.
func estimate(c Call) int {
	n := (len(c.System)+3)/4 + 3
	for _, m := range c.Messages {
		n += (len(m.Content)+3)/4 + 4
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// --- requests ---

// text returns the text of a message content: a string, or an array of parts whose text
// parts are concatenated.
func text(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("content must be a string or an array of content blocks: %w", err)
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			if p.Text == "" {
				return "", fmt.Errorf("text content blocks must be non-empty")
			}
			sb.WriteString(p.Text)
		}
	}
	return sb.String(), nil
}

// badRequest is a refusal worded as the provider words it.
type badRequest string

func (b badRequest) Error() string { return string(b) }

type wireMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func (s *Server) parse(c *Call) error {
	switch s.provider {
	case OpenAI:
		return parseOpenAI(c)
	case Anthropic:
		return parseAnthropic(c)
	default:
		return parseOllama(c)
	}
}

func parseOpenAI(c *Call) error {
	var req struct {
		Model               string        `json:"model"`
		Messages            []wireMessage `json:"messages"`
		Temperature         *float64      `json:"temperature"`
		MaxTokens           *int          `json:"max_tokens"`
		MaxCompletionTokens *int          `json:"max_completion_tokens"`
		Stream              bool          `json:"stream"`
		ResponseFormat      *struct {
			Type string `json:"type"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(c.Body, &req); err != nil {
		return badRequest(fmt.Sprintf("We could not parse the JSON body of your request. (%v)", err))
	}
	c.Model, c.Temperature, c.Stream = req.Model, req.Temperature, req.Stream
	if req.MaxCompletionTokens != nil {
		c.MaxTokens = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		c.MaxTokens = *req.MaxTokens
	}
	mentionsJSON := false
	for _, m := range req.Messages {
		t, err := text(m.Content)
		if err != nil {
			return err
		}
		if strings.Contains(strings.ToLower(t), "json") {
			mentionsJSON = true
		}
		if m.Role == "system" || m.Role == "developer" {
			c.System += t
			continue
		}
		c.Messages = append(c.Messages, Message{Role: m.Role, Content: t})
		if m.Role == "user" {
			c.Prompt = t
		}
	}
	if req.ResponseFormat != nil {
		c.JSONMode = req.ResponseFormat.Type == "json_object" || req.ResponseFormat.Type == "json_schema"
	}
	switch {
	case c.Model == "":
		return fmt.Errorf("you must provide a model parameter")
	case len(req.Messages) == 0:
		return fmt.Errorf("[] is too short - 'messages'")
	case req.MaxTokens != nil && req.MaxCompletionTokens != nil:
		return badRequest("Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.")
	case req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object" && !mentionsJSON:
		return badRequest("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
	case req.Stream:
		return fmt.Errorf("llmtest: streaming requests are refused (the llm client never streams)")
	}
	return nil
}

func parseAnthropic(c *Call) error {
	var req struct {
		Model       string          `json:"model"`
		System      json.RawMessage `json:"system"`
		Messages    []wireMessage   `json:"messages"`
		MaxTokens   *int            `json:"max_tokens"`
		Temperature *float64        `json:"temperature"`
		Stream      bool            `json:"stream"`
	}
	if err := json.Unmarshal(c.Body, &req); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	c.Model, c.Temperature, c.Stream = req.Model, req.Temperature, req.Stream
	sys, err := text(req.System)
	if err != nil {
		return fmt.Errorf("system: %w", err)
	}
	c.System = sys
	if req.MaxTokens != nil {
		c.MaxTokens = *req.MaxTokens
	}
	for i, m := range req.Messages {
		t, err := text(m.Content)
		if err != nil {
			return fmt.Errorf("messages.%d.content: %w", i, err)
		}
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			return fmt.Errorf("messages: roles must alternate between \"user\" and \"assistant\", starting with \"user\"")
		}
		c.Messages = append(c.Messages, Message{Role: m.Role, Content: t})
		if m.Role == "user" {
			c.Prompt = t
		}
	}
	if n := len(c.Messages); n > 0 && c.Messages[n-1].Role == "assistant" {
		c.Prefill = c.Messages[n-1].Content
		c.JSONMode = strings.HasPrefix(c.Prefill, "{")
		if strings.TrimRightFunc(c.Prefill, isSpace) != c.Prefill {
			return fmt.Errorf("messages: final assistant content cannot end with trailing whitespace")
		}
	}
	switch {
	case c.Model == "":
		return fmt.Errorf("model: Field required")
	case req.MaxTokens == nil || *req.MaxTokens < 1:
		return fmt.Errorf("max_tokens: Field required")
	case len(req.Messages) == 0:
		return fmt.Errorf("messages: at least one message is required")
	case req.Stream:
		return fmt.Errorf("llmtest: streaming requests are refused (the llm client never streams)")
	}
	return nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '\r' }

func parseOllama(c *Call) error {
	var req struct {
		Model    string          `json:"model"`
		Messages []wireMessage   `json:"messages"`
		Format   json.RawMessage `json:"format"`
		Stream   *bool           `json:"stream"`
		Options  struct {
			Temperature *float64 `json:"temperature"`
			NumPredict  int      `json:"num_predict"`
		} `json:"options"`
	}
	if err := json.Unmarshal(c.Body, &req); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	c.Model, c.Temperature, c.MaxTokens = req.Model, req.Options.Temperature, req.Options.NumPredict
	c.Stream = req.Stream == nil || *req.Stream
	var format string
	if json.Unmarshal(req.Format, &format) == nil {
		c.JSONMode = format == "json"
	} else if len(req.Format) > 0 && req.Format[0] == '{' {
		c.JSONMode = true // a JSON schema
	}
	for _, m := range req.Messages {
		t, err := text(m.Content)
		if err != nil {
			return err
		}
		if m.Role == "system" {
			c.System += t
			continue
		}
		c.Messages = append(c.Messages, Message{Role: m.Role, Content: t})
		if m.Role == "user" {
			c.Prompt = t
		}
	}
	if c.Model == "" {
		return fmt.Errorf("model is required")
	}
	return nil
}

// --- responses ---

func openAIResponse(c Call, content string, in, out int) map[string]any {
	resp := map[string]any{
		"id":      fmt.Sprintf("chatcmpl-llmtest%06d", c.N),
		"object":  "chat.completion",
		"created": 1764028800 + c.N,
		"model":   c.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content, "refusal": nil, "annotations": []any{}},
			"logprobs":      nil,
			"finish_reason": "stop",
		}},
		"service_tier":       "default",
		"system_fingerprint": "fp_llmtest",
	}
	if in >= 0 && out >= 0 {
		resp["usage"] = map[string]any{
			"prompt_tokens":     in,
			"completion_tokens": out,
			"total_tokens":      in + out,
			"prompt_tokens_details": map[string]any{
				"cached_tokens": 0, "audio_tokens": 0,
			},
			"completion_tokens_details": map[string]any{
				"reasoning_tokens": 0, "audio_tokens": 0,
				"accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
			},
		}
	}
	return resp
}

func anthropicResponse(c Call, content string, in, out int) map[string]any {
	blocks := []any{}
	if content != "" {
		blocks = append(blocks, map[string]any{"type": "text", "text": content})
	}
	resp := map[string]any{
		"id":            fmt.Sprintf("msg_llmtest%06d", c.N),
		"type":          "message",
		"role":          "assistant",
		"model":         c.Model,
		"content":       blocks,
		"stop_reason":   "end_turn",
		"stop_sequence": nil,
	}
	if in >= 0 && out >= 0 {
		resp["usage"] = map[string]any{
			"input_tokens":                in,
			"cache_creation_input_tokens": 0,
			"cache_read_input_tokens":     0,
			"output_tokens":               out,
			"service_tier":                "standard",
		}
	}
	return resp
}

func (s *Server) writeOllama(w http.ResponseWriter, r *http.Request, c Call, content string, in, out int) {
	created := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Add(time.Duration(c.N) * time.Second)
	final := map[string]any{
		"model":                c.Model,
		"created_at":           created.Format(time.RFC3339Nano),
		"message":              map[string]any{"role": "assistant", "content": ""},
		"done_reason":          "stop",
		"done":                 true,
		"total_duration":       int64(850_000_000),
		"load_duration":        int64(20_000_000),
		"prompt_eval_duration": int64(300_000_000),
		"eval_duration":        int64(500_000_000),
	}
	if in >= 0 && out >= 0 {
		final["prompt_eval_count"] = in
		final["eval_count"] = out
	}
	if !c.Stream {
		final["message"] = map[string]any{"role": "assistant", "content": content}
		writeJSON(w, http.StatusOK, final)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w) // one object per line
	for _, piece := range chunks(content, 4) {
		_ = enc.Encode(map[string]any{
			"model":      c.Model,
			"created_at": created.Format(time.RFC3339Nano),
			"message":    map[string]any{"role": "assistant", "content": piece},
			"done":       false,
		})
		if flusher != nil {
			flusher.Flush()
		}
		if r.Context().Err() != nil {
			return
		}
	}
	_ = enc.Encode(final)
}

// chunks splits s into at most n pieces on rune boundaries.
func chunks(s string, n int) []string {
	if s == "" {
		return nil
	}
	size := max((len(s)+n-1)/n, 1)
	var out []string
	for len(s) > 0 {
		end := min(size, len(s))
		for end < len(s) && !utf8.RuneStart(s[end]) {
			end++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg string) {
	switch s.provider {
	case OpenAI:
		typ, code := "invalid_request_error", any(nil)
		switch {
		case status == http.StatusUnauthorized:
			typ, code = "invalid_request_error", "invalid_api_key"
		case status == http.StatusNotFound:
			code = "model_not_found"
		case status == http.StatusTooManyRequests:
			typ, code = "requests", "rate_limit_exceeded"
		case status >= 500:
			typ = "server_error"
		}
		writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
	case Anthropic:
		typ := "invalid_request_error"
		switch {
		case status == http.StatusUnauthorized:
			typ = "authentication_error"
		case status == http.StatusForbidden:
			typ = "permission_error"
		case status == http.StatusNotFound:
			typ = "not_found_error"
		case status == http.StatusTooManyRequests:
			typ = "rate_limit_error"
		case status == 529:
			typ = "overloaded_error"
		case status >= 500:
			typ = "api_error"
		}
		writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	default:
		writeJSON(w, status, map[string]any{"error": msg})
	}
}

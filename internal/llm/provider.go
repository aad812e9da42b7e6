// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"
	"github.com/tmc/langchaingo/llms/ollama"
	"github.com/tmc/langchaingo/llms/openai"
)

// jsonHint is added to the system prompt in OpenAI JSON mode when no message mentions JSON:
// OpenAI answers 400 to response_format json_object without the word "json" in the messages.
const jsonHint = "Answer with a single JSON object."

// repairInstruction is the follow-up message of the repair attempt.
const repairInstruction = "Your previous answer could not be used: %s.\n" +
	"Reply with only the corrected JSON object: no prose, no code fences."

// newModel builds the langchaingo model of the options (with defaults applied), always on
// the given HTTP client and base URL. langchaingo's clients do not retry by themselves, so
// the attempts are only ours.
func newModel(o Options, hc *http.Client) (llms.Model, error) {
	key := o.APIKey
	if key == "" {
		key = noKey // langchaingo refuses an empty key; the transport drops the header
	}
	switch o.Provider {
	case ProviderOpenAI:
		return openai.New(
			openai.WithToken(key),
			openai.WithModel(o.Model),
			openai.WithBaseURL(o.Endpoint),
			openai.WithHTTPClient(hc),
			openai.WithOrganization(""), // not from OPENAI_ORGANIZATION
			openai.WithAPIType(openai.APITypeOpenAI),
		)
	case ProviderAnthropic:
		return anthropic.New(
			anthropic.WithToken(key),
			anthropic.WithModel(o.Model),
			anthropic.WithBaseURL(o.Endpoint),
			anthropic.WithHTTPClient(hc),
		)
	case ProviderOllama:
		u, err := url.Parse(o.Endpoint) // checked by Validate; WithServerURL would log.Fatal
		if err != nil {
			return nil, fmt.Errorf("ollama endpoint: %w", err)
		}
		return ollama.New(
			ollama.WithModel(o.Model),
			ollama.WithServerURL(u.String()),
			ollama.WithHTTPClient(hc),
		)
	default:
		return nil, fmt.Errorf("unknown provider %q", o.Provider)
	}
}

// authHeader is the header that carries the API key for a provider ("" when none).
func authHeader(provider string) string {
	switch provider {
	case ProviderOpenAI:
		return "Authorization"
	case ProviderAnthropic:
		return "X-Api-Key"
	default:
		return ""
	}
}

// conversation is one exchange's messages.
type conversation struct {
	system, prompt string
	// previous and problem are set for the repair attempt.
	previous, problem string
}

// messages builds the langchaingo messages of a conversation.
func (c *Client) messages(cv conversation) []llms.MessageContent {
	system := cv.system
	if c.opts.JSONMode && c.opts.Provider == ProviderOpenAI &&
		!strings.Contains(strings.ToLower(cv.system+cv.prompt), "json") {
		system = strings.TrimSpace(system + "\n\n" + jsonHint)
	}
	msgs := make([]llms.MessageContent, 0, 5)
	if system != "" {
		msgs = append(msgs, llms.TextParts(llms.ChatMessageTypeSystem, system))
	}
	msgs = append(msgs, llms.TextParts(llms.ChatMessageTypeHuman, cv.prompt))
	if cv.problem != "" {
		prev := cv.previous
		if strings.TrimSpace(prev) == "" {
			prev = "(empty answer)" // Anthropic refuses empty text blocks
		}
		msgs = append(msgs,
			llms.TextParts(llms.ChatMessageTypeAI, prev),
			llms.TextParts(llms.ChatMessageTypeHuman, fmt.Sprintf(repairInstruction, cv.problem)))
	}
	if c.prefill() {
		msgs = append(msgs, llms.TextParts(llms.ChatMessageTypeAI, "{"))
	}
	return msgs
}

// prefill reports whether the assistant turn is prefilled with "{" (Anthropic's JSON mode).
func (c *Client) prefill() bool {
	return c.opts.JSONMode && c.opts.Provider == ProviderAnthropic
}

// callOptions are the langchaingo options of one call.
func (c *Client) callOptions(maxTokens int) []llms.CallOption {
	opts := []llms.CallOption{
		llms.WithTemperature(c.opts.Temperature),
		llms.WithMaxTokens(maxTokens),
	}
	if c.opts.JSONMode && c.opts.Provider != ProviderAnthropic {
		opts = append(opts, llms.WithJSONMode())
	}
	if c.opts.Provider == ProviderOpenAI && !isOpenAIHosted(c.opts.Endpoint) {
		// langchaingo sends max_completion_tokens only, which llama.cpp, LM Studio and older
		// vLLM ignore (or reject). Every OpenAI-compatible server reads max_tokens, and
		// langchaingo never sends both (OpenAI itself refuses a request with both).
		opts = append(opts, openai.WithLegacyMaxTokensField())
	}
	return opts
}

// answer is the text of a response and its token usage (0 when not reported).
type answer struct {
	text          string
	input, output int
	stop          string
}

// readAnswer takes the text and usage out of a langchaingo response.
func (c *Client) readAnswer(resp *llms.ContentResponse) answer {
	var a answer
	if resp == nil {
		return a
	}
	inKey, outKey := "PromptTokens", "CompletionTokens"
	if c.opts.Provider == ProviderAnthropic {
		inKey, outKey = "InputTokens", "OutputTokens"
	}
	var sb strings.Builder
	for i, ch := range resp.Choices {
		if ch == nil {
			continue
		}
		if i == 0 || c.opts.Provider == ProviderAnthropic { // Anthropic: one choice per content block
			sb.WriteString(ch.Content)
		}
		if a.input == 0 {
			a.input = intInfo(ch.GenerationInfo, inKey)
		}
		if a.output == 0 {
			a.output = intInfo(ch.GenerationInfo, outKey)
		}
		if a.stop == "" {
			a.stop = ch.StopReason
		}
	}
	a.text = sb.String()
	return a
}

func intInfo(info map[string]any, key string) int {
	switch v := info[key].(type) {
	case int:
		return v
	case int32:
		return int(v)
	case int64:
		return int(v)
	case float64:
		return int(v)
	default:
		return 0
	}
}

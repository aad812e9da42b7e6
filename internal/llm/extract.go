// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// EstimateTokens estimates the tokens of a text without a tokenizer (nothing is downloaded):
// about four bytes per token, rounded up.
func EstimateTokens(s string) int {
	return (len(s) + 3) / 4
}

var errNoObject = errors.New("the answer holds no JSON object")

// extractJSON returns the first balanced top-level {...} object of an answer that is valid
// JSON. Code fences, leading prose and trailing text are skipped, since the scan starts at
// the first '{' and ends at its matching '}' (braces inside strings do not count).
func extractJSON(answer string) ([]byte, error) {
	var firstErr error
	for i := 0; i < len(answer); {
		start := strings.IndexByte(answer[i:], '{')
		if start < 0 {
			break
		}
		start += i
		end := matchBrace(answer, start)
		if end < 0 {
			if firstErr == nil {
				firstErr = errors.New("the JSON object is not terminated (answer cut off?)")
			}
			break
		}
		cand := answer[start : end+1]
		var v map[string]json.RawMessage
		err := json.Unmarshal([]byte(cand), &v)
		if err == nil {
			return []byte(cand), nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("invalid JSON object: %w", err)
		}
		i = end + 1
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, errNoObject
}

// matchBrace returns the index of the '}' closing the '{' at start, or -1.
func matchBrace(s string, start int) int {
	depth := 0
	inStr, esc := false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

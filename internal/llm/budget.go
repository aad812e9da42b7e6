// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import (
	"fmt"
	"sync"
	"time"
)

// window is the span of the per-minute limits.
const window = time.Minute

// limiter enforces the budgets on the injected clock: sliding one-minute logs of calls and
// tokens, and the money spent in the current UTC day.
type limiter struct {
	opts BudgetOptions

	mu     sync.Mutex
	calls  []time.Time // provider calls in the last minute (only with a calls limit)
	tokens []*tokenUse // token reservations in the last minute (only with a tokens limit)
	day    time.Time   // UTC midnight of the day that spent is for
	spent  float64
}

// tokenUse is one request's tokens in the per-minute window: its estimate until the usage
// is known.
type tokenUse struct {
	at time.Time
	n  int
}

func newLimiter(opts BudgetOptions) *limiter {
	return &limiter{opts: opts}
}

// admit decides whether a request may start at now and, if so, books its first call and
// its estimated tokens. It never waits.
func (l *limiter) admit(now time.Time, estTokens int, estCost float64) (*tokenUse, *Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	if lim := l.opts.CallsPerMinute; lim > 0 && len(l.calls) >= lim {
		return nil, &Error{Outcome: OutcomeRate, Err: fmt.Errorf("calls per minute limit (%d) reached", lim)}
	}
	if lim := l.opts.TokensPerMinute; lim > 0 {
		used := 0
		for _, t := range l.tokens {
			used += t.n
		}
		if used+estTokens > lim {
			return nil, &Error{Outcome: OutcomeBudget, Err: fmt.Errorf("tokens per minute budget (%d) reached: %d used, this request needs up to %d", lim, used, estTokens)}
		}
	}
	if lim := l.opts.CostPerDay; lim > 0 {
		l.rollDay(now)
		if l.spent+estCost > lim {
			return nil, &Error{Outcome: OutcomeBudget, Err: fmt.Errorf("cost per day budget (%g) reached: %g spent today (UTC), this request may cost up to %g", lim, l.spent, estCost)}
		}
	}
	if l.opts.CallsPerMinute > 0 {
		l.calls = append(l.calls, now)
	}
	tu := &tokenUse{at: now, n: estTokens}
	if l.opts.TokensPerMinute > 0 {
		l.tokens = append(l.tokens, tu)
	}
	return tu, nil
}

// noteCall books a further provider call (a retry or the repair) of an admitted request.
func (l *limiter) noteCall(now time.Time) {
	if l.opts.CallsPerMinute <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	l.calls = append(l.calls, now)
}

// settle replaces a request's token estimate by its known usage.
func (l *limiter) settle(tu *tokenUse, tokens int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tu.n = tokens
}

// spend adds money to the day's spend.
func (l *limiter) spend(now time.Time, cost float64) {
	if cost <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollDay(now)
	l.spent += cost
}

func (l *limiter) prune(now time.Time) {
	cut := 0
	for cut < len(l.calls) && now.Sub(l.calls[cut]) >= window {
		cut++
	}
	l.calls = l.calls[cut:]
	cut = 0
	for cut < len(l.tokens) && now.Sub(l.tokens[cut].at) >= window {
		cut++
	}
	l.tokens = l.tokens[cut:]
}

func (l *limiter) rollDay(now time.Time) {
	u := now.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	if !day.Equal(l.day) {
		l.day = day
		l.spent = 0
	}
}

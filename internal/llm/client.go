// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package llm // import "github.com/otelcol-aiops/otelcol-aiops/internal/llm"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/tmc/langchaingo/llms"
	"golang.org/x/sync/singleflight"
)

// ErrClosed is the error of a Do on a closed client.
var ErrClosed = errors.New("llm client is closed")

type nopObserver struct{}

func (nopObserver) Request(string, string, Outcome, time.Duration, int, int, float64) {}
func (nopObserver) Cache(string, bool)                                                {}

// Client is the LLM client. It is safe for concurrent use.
type Client struct {
	opts   Options // defaults applied
	model  llms.Model
	hc     *http.Client
	obs    Observer
	clock  clockwork.Clock
	cache  *resultCache // nil without a cache
	limits *limiter
	group  singleflight.Group

	// jitter returns a duration in [0, limit] (full jitter of the backoff).
	jitter func(limit time.Duration) time.Duration
	// beforeFlight, when set (tests), runs before a request joins the in-flight group.
	beforeFlight func()

	closed    atomic.Bool
	closeOnce sync.Once
}

// New builds a client. hc nil is a new client without a global timeout (each attempt is
// bounded by Options.Timeout); obs nil measures nothing; clock nil is the real clock.
func New(opts Options, hc *http.Client, obs Observer, clock clockwork.Clock) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("llm options: %w", err)
	}
	o := opts.withDefaults()
	if obs == nil {
		obs = nopObserver{}
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if hc == nil {
		hc = &http.Client{}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			hc.Transport = dt.Clone() // our own connections, closed by Close
		}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	strip := ""
	if o.APIKey == "" {
		strip = authHeader(o.Provider)
	}
	// A copy of the caller's client around the recording transport. Its Timeout becomes part
	// of the per-attempt context deadline: http.Client's own timer cancels the request in a
	// way that cannot be told apart from other failures once langchaingo has flattened the
	// error, while a context deadline always can.
	own := &http.Client{
		Transport:     &transport{base: base, stripHeader: strip},
		CheckRedirect: hc.CheckRedirect,
		Jar:           hc.Jar,
	}
	if hc.Timeout > 0 && hc.Timeout < o.Timeout {
		o.Timeout = hc.Timeout
	}
	model, err := newModel(o, own)
	if err != nil {
		return nil, fmt.Errorf("llm %s: %w", o.Provider, err)
	}
	c := &Client{
		opts:   o,
		model:  model,
		hc:     own,
		obs:    obs,
		clock:  clock,
		limits: newLimiter(o.Budget),
	}
	var rmu sync.Mutex
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15)) //nolint:gosec // jitter, not security
	c.jitter = func(limit time.Duration) time.Duration {
		if limit <= 0 {
			return 0
		}
		rmu.Lock()
		defer rmu.Unlock()
		return time.Duration(rnd.Int64N(int64(limit) + 1))
	}
	if o.Cache.MaxSizeMiB > 0 {
		if c.cache, err = newResultCache(o.Cache); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Model returns the model name.
func (c *Client) Model() string { return c.opts.Model }

// Close releases the cache and the idle connections. Calls in flight finish; later ones fail
// with ErrClosed.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.cache != nil {
			err = c.cache.close()
		}
		c.hc.CloseIdleConnections()
	})
	return err
}

// Cached looks the cache up without calling the model; the lookup is counted.
func (c *Client) Cached(task, key string) (Result, bool) {
	if c.cache == nil || key == "" || c.closed.Load() {
		return Result{}, false
	}
	res, ok := c.lookup(cacheKey(c.opts.Model, task, key))
	c.obs.Cache(task, ok)
	return res, ok
}

func (c *Client) lookup(key string) (Result, bool) {
	raw, model, ok := c.cache.get(key, c.clock.Now())
	if !ok {
		return Result{}, false
	}
	return Result{Raw: raw, Outcome: OutcomeCached, Model: model}, true
}

// flight is the shared outcome of a de-duplicated call.
type flight struct {
	res      Result
	err      error
	leader   *byte // identifies the request whose function ran
	cached   bool  // the leader found the answer in the cache after all
	ctxEnded bool  // the leader's context ended (its failure is not the others')
}

// Do asks the model. Every failure is an *Error; see the package documentation for the steps.
func (c *Client) Do(ctx context.Context, req Request) (Result, error) {
	if c.closed.Load() {
		return Result{}, &Error{Outcome: OutcomeError, Err: ErrClosed}
	}
	if c.opts.Redact != nil {
		req.System = c.opts.Redact(req.System)
		req.Prompt = c.opts.Redact(req.Prompt)
	}
	if req.CacheKey == "" {
		return c.run(ctx, req, "")
	}
	key := cacheKey(c.opts.Model, req.Task, req.CacheKey)
	if c.cache != nil {
		if res, ok := c.lookup(key); ok {
			c.obs.Cache(req.Task, true)
			return res, nil
		}
		c.obs.Cache(req.Task, false)
	}
	for {
		me := new(byte)
		if c.beforeFlight != nil {
			c.beforeFlight()
		}
		ch := c.group.DoChan(key, func() (any, error) {
			// A request that just missed the previous flight finds its answer here.
			if c.cache != nil {
				if res, ok := c.lookup(key); ok {
					return flight{res: res, leader: me, cached: true}, nil
				}
			}
			res, err := c.run(ctx, req, key)
			return flight{res: res, err: err, leader: me, ctxEnded: ctx.Err() != nil}, nil
		})
		select {
		case <-ctx.Done():
			// The flight goes on for the others (or ends at once if this was the leader,
			// whose context it uses, and then reports the cancellation).
			return Result{}, ctxError(ctx)
		case r := <-ch:
			f := r.Val.(flight)
			if f.leader == me {
				return f.res, f.err
			}
			if f.ctxEnded && ctx.Err() == nil {
				continue // the leader gave up; ask again
			}
			if f.err != nil {
				return Result{}, f.err
			}
			return Result{Raw: bytes.Clone(f.res.Raw), Outcome: OutcomeCached, Model: f.res.Model}, nil
		}
	}
}

func ctxError(ctx context.Context) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Outcome: OutcomeTimeout, Err: ctx.Err()}
	}
	return &Error{Outcome: OutcomeCanceled, Err: ctx.Err()}
}

// usage sums the tokens of the responses of one Do.
type usage struct {
	in, out int
	known   bool // at least one response arrived
}

// run makes the calls of one request and reports its decision. key is its cache key ("" =
// not cached).
func (c *Client) run(ctx context.Context, req Request, key string) (Result, error) {
	start := c.clock.Now()
	var u usage
	report := func(res Result, err error) (Result, error) {
		outcome := res.Outcome
		var e *Error
		if errors.As(err, &e) {
			outcome = e.Outcome
		}
		c.obs.Request(req.Task, c.opts.Model, outcome, c.clock.Since(start), u.in, u.out, c.cost(u.in, u.out))
		return res, err
	}
	if strings.TrimSpace(req.Prompt) == "" {
		return report(Result{}, &Error{Outcome: OutcomeError, Err: errors.New("empty prompt")})
	}
	if ctx.Err() != nil {
		return report(Result{}, ctxError(ctx))
	}
	maxOut := c.opts.MaxOutputTokens
	if req.MaxOutputTokens > 0 {
		maxOut = req.MaxOutputTokens
	}
	estIn := EstimateTokens(req.System) + EstimateTokens(req.Prompt)
	tu, berr := c.limits.admit(start, estIn+maxOut, c.cost(estIn, maxOut))
	if berr != nil {
		return report(Result{}, berr)
	}
	defer func() {
		if u.known {
			c.limits.settle(tu, u.in+u.out)
		}
	}()

	cv := conversation{system: req.System, prompt: req.Prompt}
	text, err := c.call(ctx, cv, maxOut, &u)
	if err != nil {
		return report(Result{}, err)
	}
	outcome := OutcomeOK
	raw, perr := parseAnswer(text, req.Validate)
	if perr != nil {
		// The one repair attempt: the previous answer and what is wrong with it.
		cv.previous, cv.problem = text, perr.Error()
		c.limits.noteCall(c.clock.Now())
		text, err = c.call(ctx, cv, maxOut, &u)
		if err != nil {
			return report(Result{}, err)
		}
		var perr2 error
		if raw, perr2 = parseAnswer(text, req.Validate); perr2 != nil {
			return report(Result{}, &Error{Outcome: OutcomeInvalidJSON, Err: fmt.Errorf("%w (after one repair attempt; first answer: %w)", perr2, perr)})
		}
		outcome = OutcomeRepaired
	}
	res := Result{
		Raw:          raw,
		Outcome:      outcome,
		Model:        c.opts.Model,
		InputTokens:  u.in,
		OutputTokens: u.out,
		Cost:         c.cost(u.in, u.out),
		Latency:      c.clock.Since(start),
	}
	if key != "" && c.cache != nil && !c.closed.Load() {
		_ = c.cache.set(key, c.opts.Model, raw, c.clock.Now()) // too large an entry is just not cached
	}
	return report(res, nil)
}

// parseAnswer extracts the JSON object of an answer and validates it.
func parseAnswer(text string, validate func([]byte) error) ([]byte, error) {
	raw, err := extractJSON(text)
	if err != nil {
		return nil, err
	}
	if validate != nil {
		if err := validate(raw); err != nil {
			return nil, fmt.Errorf("the JSON object does not match the schema: %w", err)
		}
	}
	return raw, nil
}

func (c *Client) cost(in, out int) float64 {
	return float64(in)/1000*c.opts.PriceInputPer1K + float64(out)/1000*c.opts.PriceOutputPer1K
}

// call makes one exchange, with its retries, and returns the answer's text (with the "{"
// of a prefill put back). Usage and spend are booked for every response that arrived.
func (c *Client) call(ctx context.Context, cv conversation, maxOut int, u *usage) (string, *Error) {
	msgs := c.messages(cv)
	opts := c.callOptions(maxOut)
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			c.limits.noteCall(c.clock.Now())
		}
		a, err := c.attempt(ctx, msgs, opts)
		if err == nil {
			in, out := a.input, a.output
			if in == 0 {
				in = estimateInput(msgs)
			}
			if out == 0 {
				out = EstimateTokens(a.text)
			}
			u.in += in
			u.out += out
			u.known = true
			c.limits.spend(c.clock.Now(), c.cost(in, out))
			if strings.TrimSpace(a.text) == "" {
				return "", &Error{Outcome: OutcomeError, Err: fmt.Errorf("empty answer (stop reason %q)", a.stop)}
			}
			text := a.text
			if c.prefill() && !strings.HasPrefix(strings.TrimSpace(text), "{") {
				text = "{" + text
			}
			return text, nil
		}
		if !err.retry || attempt >= c.opts.Retry.MaxAttempts {
			return "", err.Error
		}
		var wait time.Duration
		switch {
		case err.hasRetryAfter:
			wait = err.retryAfter
		case err.Outcome == OutcomeRateLimited:
			wait = c.backoff(attempt) // no hint: a longer wait than after a 5xx
		default:
			wait = c.backoff(attempt - 1)
		}
		if err.hasRetryAfter && wait > c.opts.Retry.MaxRetryAfter {
			return "", &Error{Outcome: err.Outcome, Err: fmt.Errorf("%w; Retry-After %v is longer than the %v allowed", err.Err, wait, c.opts.Retry.MaxRetryAfter)}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return "", &Error{Outcome: err.Outcome, Err: fmt.Errorf("%w; the wait of %v before a retry ends after the caller's deadline", err.Err, wait)}
		}
		if wait > 0 {
			t := c.clock.NewTimer(wait)
			select {
			case <-t.Chan():
			case <-ctx.Done():
				t.Stop()
				return "", ctxError(ctx)
			}
		}
	}
}

func estimateInput(msgs []llms.MessageContent) int {
	n := 0
	for _, m := range msgs {
		for _, p := range m.Parts {
			if t, ok := p.(llms.TextContent); ok {
				n += EstimateTokens(t.Text)
			}
		}
	}
	return n
}

// attemptError is a failed attempt: its outcome, whether to retry, and the server's
// Retry-After if it sent one.
type attemptError struct {
	*Error
	retry         bool
	retryAfter    time.Duration
	hasRetryAfter bool
}

// attempt makes one HTTP exchange bounded by the per-attempt timeout.
func (c *Client) attempt(ctx context.Context, msgs []llms.MessageContent, opts []llms.CallOption) (answer, *attemptError) {
	ai := &attemptInfo{}
	actx, cancel := context.WithTimeout(withAttemptInfo(ctx, ai), c.opts.Timeout)
	defer cancel()
	resp, err := c.model.GenerateContent(actx, msgs, opts...)
	if err == nil {
		return c.readAnswer(resp), nil
	}
	status, retryAfter, retryMs, timedOut, netErr := ai.snapshot()
	fail := func(o Outcome, retry bool, e error) *attemptError {
		return &attemptError{Error: &Error{Outcome: o, Err: e}, retry: retry}
	}
	switch {
	case ctx.Err() != nil:
		return answer{}, &attemptError{Error: ctxError(ctx)}
	case status == http.StatusTooManyRequests:
		ae := fail(OutcomeRateLimited, true, fmt.Errorf("status 429: %w", err))
		ae.retryAfter, ae.hasRetryAfter = parseRetryAfter(retryAfter, retryMs, c.clock.Now())
		return answer{}, ae
	case status == http.StatusRequestTimeout:
		return answer{}, fail(OutcomeTimeout, true, fmt.Errorf("status 408: %w", err))
	case status >= 500:
		return answer{}, fail(OutcomeServerError, true, fmt.Errorf("status %d: %w", status, err))
	case status >= 400:
		return answer{}, fail(OutcomeClientError, false, fmt.Errorf("status %d: %w", status, err))
	case timedOut || errors.Is(actx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return answer{}, fail(OutcomeTimeout, true, fmt.Errorf("attempt timed out after %v: %w", c.opts.Timeout, err))
	case netErr:
		return answer{}, fail(OutcomeError, true, fmt.Errorf("network: %w", err))
	default:
		return answer{}, fail(OutcomeError, false, err)
	}
}

// backoff is the full-jitter exponential backoff: a random wait in [0, min(MaxBackoff,
// InitialBackoff*2^n)].
func (c *Client) backoff(n int) time.Duration {
	limit := c.opts.Retry.InitialBackoff
	for i := 0; i < n && limit < c.opts.Retry.MaxBackoff; i++ {
		limit *= 2
	}
	return c.jitter(min(limit, c.opts.Retry.MaxBackoff))
}

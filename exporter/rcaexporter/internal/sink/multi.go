// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// maxSinks is the number of sinks one Multi can hold (the delivered set is a bitmask).
const maxSinks = 64

// DefaultMaxDelivered bounds the (incident id, version) -> delivered sinks memory of Multi.
const DefaultMaxDelivered = 4096

// Counts is the per-sink outcome of one Multi.Send call.
type Counts struct {
	// Sent counts incidents the sink accepted.
	Sent int
	// Failed counts incidents the sink rejected (retryable or permanent).
	Failed int
	// Skipped counts incidents not sent again because this sink already handled the same
	// incident version (an exporterhelper retry after another sink failed).
	Skipped int
	// Rejected counts incident versions given up because the sink refused them permanently
	// (a non-retryable 4xx, an unencodable payload): a subset of Failed, never retried.
	Rejected int
	// Exhausted counts incident versions given up after retryable failures because the
	// RetryPolicy ran out (or retries are disabled): a subset of Failed.
	Exhausted int
}

// Reasons of incident versions given up at a sink (the exporter's dropped counter).
const (
	ReasonRejected  = "rejected"
	ReasonExhausted = "retries_exhausted"
	ReasonShutdown  = "shutdown"
)

// RetryPolicy decides when Multi gives up a sink that keeps failing retryably. exporterhelper
// retries a request as long as the push function returns a retryable error; Multi owns the
// give-up decision (it turns the error permanent) so that every incident version given up is
// known and counted by sink and reason. The zero value retries without limit.
type RetryPolicy struct {
	// Disabled gives a version up at its first failure (retry_on_failure.enabled: false).
	Disabled bool
	// MaxElapsedTime gives a version up at a sink when it fails retryably this long or longer
	// after its first failure there (the attempt that fails at or after the limit is the last);
	// 0 means no limit.
	MaxElapsedTime time.Duration
}

// Exhausted reports whether a delivery failing since `since` is given up when it fails at now.
func (p RetryPolicy) Exhausted(since, now time.Time) bool {
	return p.Disabled || (p.MaxElapsedTime > 0 && now.Sub(since) >= p.MaxElapsedTime)
}

// Multi fans incidents out to every configured sink concurrently.
//
// exporterhelper retries the whole request when any sink fails retryably; Multi remembers,
// per (incident id, version > 0), which sinks already succeeded or were given up and does not
// send to them again, and since when the others have been failing. That memory is bounded
// (oldest entries evicted, counted).
type Multi struct {
	sinks []Sink
	retry RetryPolicy
	now   func() time.Time

	mu        sync.Mutex
	delivered map[deliveryKey]*list.Element // value *deliveryEntry
	order     *list.List
	maxDone   int
	evictions atomic.Uint64
}

type deliveryKey struct {
	id      string
	version int
}

type deliveryEntry struct {
	key     deliveryKey
	done    uint64      // bit i set: sinks[i] accepted or refused the version: never sent again
	pending uint64      // bit i set: sinks[i] failed retryably and waits for a retry
	since   []time.Time // first retryable failure per sink (nil until one fails)
	// exhausted: sinks given up after retryable failures in the request handed off at
	// exhaustedReq. Retries of that request skip them; a new hand-off of the same version
	// (the investigation API re-forwards after a failure) tries them again from scratch.
	exhausted    uint64
	exhaustedReq time.Time
}

// NewMulti builds a fan-out over sinks (at most 64); maxDelivered <= 0 means DefaultMaxDelivered.
func NewMulti(maxDelivered int, sinks ...Sink) (*Multi, error) {
	if len(sinks) > maxSinks {
		return nil, fmt.Errorf("at most %d sinks are supported", maxSinks)
	}
	if maxDelivered <= 0 {
		maxDelivered = DefaultMaxDelivered
	}
	return &Multi{sinks: sinks, now: time.Now, delivered: map[deliveryKey]*list.Element{}, order: list.New(), maxDone: maxDelivered}, nil
}

// SetRetryPolicy sets when failing sinks are given up (call it before Send).
func (m *Multi) SetRetryPolicy(p RetryPolicy) { m.retry = p }

// Abandon gives up every incident version still waiting for a retry, clears them and returns
// their number per sink name: call it when no retry will follow (shutdown, in-memory queue).
func (m *Multi) Abandon() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for e := m.order.Front(); e != nil; e = e.Next() {
		de := e.Value.(*deliveryEntry)
		for i, s := range m.sinks {
			if de.pending&(1<<i) != 0 {
				out[s.Name()]++
			}
		}
		de.done |= de.pending
		de.pending = 0
	}
	return out
}

// Sinks returns the sinks in order.
func (m *Multi) Sinks() []Sink { return m.sinks }

// Evictions counts entries dropped from the bounded delivered-set memory.
func (m *Multi) Evictions() uint64 { return m.evictions.Load() }

// SetStore gives every sink that keeps state across restarts (Jira) the store s. Call it
// before Start.
func (m *Multi) SetStore(s Store) {
	for _, sk := range m.sinks {
		if st, ok := sk.(stateful); ok {
			st.SetStore(s)
		}
	}
}

// Start starts every sink; on failure the sinks already started are shut down.
func (m *Multi) Start(ctx context.Context, host component.Host) error {
	for i, s := range m.sinks {
		if err := s.Start(ctx, host); err != nil {
			for _, started := range m.sinks[:i] {
				_ = started.Shutdown(ctx)
			}
			return err
		}
	}
	return nil
}

// Shutdown shuts every sink down and joins the errors. Safe without Start and twice.
func (m *Multi) Shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range m.sinks {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Send delivers every incident to every sink and returns per-sink counts keyed by Sink.Name.
// The error joins all sink failures; it is permanent only if every failure is final (a
// permanent error, or a retryable one the RetryPolicy gives up: then retrying cannot help),
// otherwise it is retryable (and carries any Retry-After delay). Every version given up is
// counted in Counts.Rejected or Counts.Exhausted.
func (m *Multi) Send(ctx context.Context, incs ...*incident.Incident) (map[string]Counts, error) {
	return m.SendRequest(ctx, time.Time{}, incs...)
}

// SendRequest is Send for the request handed off at req (the same for every retry of that
// request, see deliveryEntry.exhausted).
func (m *Multi) SendRequest(ctx context.Context, req time.Time, incs ...*incident.Incident) (map[string]Counts, error) {
	counts := make(map[string]Counts, len(m.sinks))
	for _, s := range m.sinks {
		counts[s.Name()] = Counts{}
	}
	var failures []error
	// blocked: sinks that failed retryably on an earlier version of an incident in this call;
	// its later versions wait for the retry, so every sink sees an incident's versions in order.
	var blocked map[string]uint64
	// gaveUp: sinks given up for an earlier version of an incident in this call after failing
	// too long; its later versions waited as long and are given up at their first failure.
	var gaveUp map[string]uint64
	for _, inc := range incs {
		if inc == nil {
			continue
		}
		key := deliveryKey{id: inc.ID, version: inc.Version}
		done, gone, since := m.state(key, req)
		wait := blocked[inc.ID]
		errs := make([]error, len(m.sinks))
		var wg sync.WaitGroup
		for i, s := range m.sinks {
			if (done|gone|wait)&(1<<i) != 0 {
				continue
			}
			wg.Go(func() { errs[i] = s.Send(ctx, inc) })
		}
		wg.Wait()
		now := m.now()
		var pending, exhausted uint64
		for i, s := range m.sinks {
			c := counts[s.Name()]
			switch {
			case (done|gone)&(1<<i) != 0:
				c.Skipped++
			case wait&(1<<i) != 0:
				// not attempted: the earlier version's failure makes the request retry
				pending |= 1 << i
			case errs[i] == nil:
				c.Sent++
				done |= 1 << i
			default:
				c.Failed++
				first := now
				if since != nil && !since[i].IsZero() {
					first = since[i]
				}
				switch {
				case consumererror.IsPermanent(errs[i]):
					c.Rejected++
					done |= 1 << i
					failures = append(failures, errs[i])
				case m.retry.Exhausted(first, now) || gaveUp[inc.ID]&(1<<i) != 0:
					c.Exhausted++
					exhausted |= 1 << i
					failures = append(failures, consumererror.NewPermanent(errs[i]))
					if gaveUp == nil {
						gaveUp = map[string]uint64{}
					}
					gaveUp[inc.ID] |= 1 << i
				default:
					if since == nil {
						since = make([]time.Time, len(m.sinks))
					}
					since[i] = first
					pending |= 1 << i
					failures = append(failures, errs[i])
					if blocked == nil {
						blocked = map[string]uint64{}
					}
					blocked[inc.ID] |= 1 << i
				}
			}
			counts[s.Name()] = c
		}
		m.setState(key, req, done, pending, exhausted, since)
	}
	return counts, JoinErrors(failures...)
}

// JoinErrors joins delivery errors (nil ones are skipped) for exporterhelper: the result is
// permanent only if every error is permanent, otherwise retryable, keeping any Retry-After
// delay (exporterhelper uses the first one found).
func JoinErrors(errs ...error) error {
	var failures []error
	allPermanent := true
	for _, err := range errs {
		if err != nil {
			failures = append(failures, err)
			allPermanent = allPermanent && consumererror.IsPermanent(err)
		}
	}
	if len(failures) == 0 {
		return nil
	}
	if allPermanent {
		return consumererror.NewPermanent(errors.Join(failures...))
	}
	// A permanent error inside a join would make the whole error permanent for exporterhelper;
	// flatten those to their text so the request is retried for the retryable sinks.
	for i, err := range failures {
		if consumererror.IsPermanent(err) {
			failures[i] = errors.New(err.Error())
		}
	}
	return errors.Join(failures...)
}

// state returns the sinks done with key, the sinks given up in the request req, and the first
// retryable failure times (nil if none).
func (m *Multi) state(key deliveryKey, req time.Time) (done, gone uint64, since []time.Time) {
	if key.version <= 0 {
		return 0, 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.delivered[key]
	if !ok {
		return 0, 0, nil
	}
	de := e.Value.(*deliveryEntry)
	done, since = de.done, append([]time.Time(nil), de.since...)
	if de.exhausted != 0 {
		if de.exhaustedReq.Equal(req) {
			gone = de.exhausted
		} else {
			for i := range since {
				if de.exhausted&(1<<i) != 0 {
					since[i] = time.Time{}
				}
			}
		}
	}
	return done, gone, since
}

// setState records the outcome of one attempt of key in request req: the sinks now done, the
// sinks waiting for a retry (every other attempted sink stops waiting), the sinks given up and
// the failure times.
func (m *Multi) setState(key deliveryKey, req time.Time, done, pending, exhausted uint64, since []time.Time) {
	if key.version <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.delivered[key]; ok {
		de := e.Value.(*deliveryEntry)
		de.done |= done
		if exhausted != 0 {
			de.exhausted |= exhausted
			de.exhaustedReq = req
		}
		de.exhausted &^= de.done
		de.pending = (de.pending | pending) &^ (de.done | de.exhausted)
		if since != nil {
			de.since = since
		}
		m.order.MoveToBack(e)
		return
	}
	for m.order.Len() >= m.maxDone {
		old := m.order.Front()
		m.order.Remove(old)
		delete(m.delivered, old.Value.(*deliveryEntry).key)
		m.evictions.Add(1)
	}
	m.delivered[key] = m.order.PushBack(&deliveryEntry{
		key: key, done: done, pending: pending &^ (done | exhausted), since: since,
		exhausted: exhausted, exhaustedReq: req,
	})
}

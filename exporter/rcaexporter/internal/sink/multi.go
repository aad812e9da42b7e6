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
}

// Multi fans incidents out to every configured sink concurrently.
//
// exporterhelper retries the whole request when any sink fails retryably; Multi remembers,
// per (incident id, version > 0), which sinks already succeeded or failed permanently and does
// not send to them again. That memory is bounded (oldest entries evicted, counted).
type Multi struct {
	sinks []Sink

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
	key  deliveryKey
	done uint64 // bit i set: sinks[i] needs no further attempt
}

// NewMulti builds a fan-out over sinks (at most 64); maxDelivered <= 0 means DefaultMaxDelivered.
func NewMulti(maxDelivered int, sinks ...Sink) (*Multi, error) {
	if len(sinks) > maxSinks {
		return nil, fmt.Errorf("at most %d sinks are supported", maxSinks)
	}
	if maxDelivered <= 0 {
		maxDelivered = DefaultMaxDelivered
	}
	return &Multi{sinks: sinks, delivered: map[deliveryKey]*list.Element{}, order: list.New(), maxDone: maxDelivered}, nil
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
// The error joins all sink failures; it is permanent only if every failure is permanent
// (then retrying cannot help), otherwise it is retryable (and carries any Retry-After delay).
func (m *Multi) Send(ctx context.Context, incs ...*incident.Incident) (map[string]Counts, error) {
	counts := make(map[string]Counts, len(m.sinks))
	for _, s := range m.sinks {
		counts[s.Name()] = Counts{}
	}
	var failures []error
	// blocked: sinks that failed retryably on an earlier version of an incident in this call;
	// its later versions wait for the retry, so every sink sees an incident's versions in order.
	var blocked map[string]uint64
	for _, inc := range incs {
		if inc == nil {
			continue
		}
		key := deliveryKey{id: inc.ID, version: inc.Version}
		done := m.doneMask(key)
		wait := blocked[inc.ID]
		errs := make([]error, len(m.sinks))
		var wg sync.WaitGroup
		for i, s := range m.sinks {
			if (done|wait)&(1<<i) != 0 {
				continue
			}
			wg.Go(func() { errs[i] = s.Send(ctx, inc) })
		}
		wg.Wait()
		for i, s := range m.sinks {
			c := counts[s.Name()]
			switch {
			case done&(1<<i) != 0:
				c.Skipped++
			case wait&(1<<i) != 0:
				// not attempted: the earlier version's failure makes the request retry
			case errs[i] == nil:
				c.Sent++
				done |= 1 << i
			default:
				c.Failed++
				failures = append(failures, errs[i])
				if consumererror.IsPermanent(errs[i]) {
					done |= 1 << i
				} else {
					if blocked == nil {
						blocked = map[string]uint64{}
					}
					blocked[inc.ID] |= 1 << i
				}
			}
			counts[s.Name()] = c
		}
		m.setDone(key, done)
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

func (m *Multi) doneMask(key deliveryKey) uint64 {
	if key.version <= 0 {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.delivered[key]; ok {
		return e.Value.(*deliveryEntry).done
	}
	return 0
}

func (m *Multi) setDone(key deliveryKey, done uint64) {
	if key.version <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.delivered[key]; ok {
		e.Value.(*deliveryEntry).done |= done
		m.order.MoveToBack(e)
		return
	}
	for m.order.Len() >= m.maxDone {
		old := m.order.Front()
		m.order.Remove(old)
		delete(m.delivered, old.Value.(*deliveryEntry).key)
		m.evictions.Add(1)
	}
	m.delivered[key] = m.order.PushBack(&deliveryEntry{key: key, done: done})
}

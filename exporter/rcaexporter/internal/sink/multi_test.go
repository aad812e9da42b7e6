// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// fakeSink returns queued errors (nil when the queue is empty) and counts calls.
type fakeSink struct {
	name string

	mu       sync.Mutex
	errs     []error
	calls    int
	startErr error
	started  bool
	stopped  int
	versions []int // versions attempted, in order
}

func (f *fakeSink) Name() string { return f.name }
func (f *fakeSink) Start(context.Context, component.Host) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = f.startErr == nil
	return f.startErr
}

func (f *fakeSink) Shutdown(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped++
	return nil
}

func (f *fakeSink) Send(_ context.Context, inc *incident.Incident) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.versions = append(f.versions, inc.Version)
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func (f *fakeSink) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestMultiAllSucceed(t *testing.T) {
	a, b := &fakeSink{name: "a"}, &fakeSink{name: "b"}
	m, err := NewMulti(0, a, b)
	require.NoError(t, err)
	i1, i2 := testIncident(), testIncident()
	i2.ID = "other"
	counts, err := m.Send(context.Background(), i1, nil, i2)
	require.NoError(t, err)
	assert.Equal(t, map[string]Counts{"a": {Sent: 2}, "b": {Sent: 2}}, counts)
}

func TestMultiMixedFailuresAreRetryableAndRetrySkipsDone(t *testing.T) {
	ok := &fakeSink{name: "ok"}
	perm := &fakeSink{name: "perm", errs: []error{consumererror.NewPermanent(errors.New("perm sink: HTTP 400 Bad Request"))}}
	retry := &fakeSink{name: "retry", errs: []error{exporterhelper.NewThrottleRetry(errors.New("retry sink: HTTP 429 Too Many Requests"), 3*time.Second)}}
	m, err := NewMulti(0, ok, perm, retry)
	require.NoError(t, err)

	inc := testIncident()
	counts, err := m.Send(context.Background(), inc)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "one retryable failure makes the whole error retryable")
	assert.Contains(t, err.Error(), "Permanent error: perm sink: HTTP 400 Bad Request")
	assert.Contains(t, err.Error(), "Throttle (3s), error: retry sink: HTTP 429 Too Many Requests")
	assert.Equal(t, map[string]Counts{"ok": {Sent: 1}, "perm": {Failed: 1, Rejected: 1}, "retry": {Failed: 1}}, counts)

	// exporterhelper retries the same request: only the retryable sink is called again.
	counts, err = m.Send(context.Background(), inc)
	require.NoError(t, err)
	assert.Equal(t, map[string]Counts{"ok": {Skipped: 1}, "perm": {Skipped: 1}, "retry": {Sent: 1}}, counts)
	assert.Equal(t, 1, ok.callCount())
	assert.Equal(t, 1, perm.callCount())
	assert.Equal(t, 2, retry.callCount())

	// A new version goes to everybody.
	inc.Version++
	counts, err = m.Send(context.Background(), inc)
	require.NoError(t, err)
	assert.Equal(t, map[string]Counts{"ok": {Sent: 1}, "perm": {Sent: 1}, "retry": {Sent: 1}}, counts)
}

func TestMultiAllPermanent(t *testing.T) {
	a := &fakeSink{name: "a", errs: []error{consumererror.NewPermanent(errors.New("a failed"))}}
	b := &fakeSink{name: "b", errs: []error{consumererror.NewPermanent(errors.New("b failed"))}}
	c := &fakeSink{name: "c"}
	m, err := NewMulti(0, a, b, c)
	require.NoError(t, err)
	counts, err := m.Send(context.Background(), testIncident())
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "a failed")
	assert.Contains(t, err.Error(), "b failed")
	assert.Equal(t, map[string]Counts{"a": {Failed: 1, Rejected: 1}, "b": {Failed: 1, Rejected: 1}, "c": {Sent: 1}}, counts)
}

func TestMultiVersionZeroIsNotDeduplicated(t *testing.T) {
	a := &fakeSink{name: "a"}
	m, err := NewMulti(0, a)
	require.NoError(t, err)
	inc := testIncident()
	inc.Version = 0
	for range 2 {
		_, err = m.Send(context.Background(), inc)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, a.callCount())
}

func TestMultiBoundedMemory(t *testing.T) {
	a := &fakeSink{name: "a"}
	m, err := NewMulti(2, a)
	require.NoError(t, err)
	for _, id := range []string{"x", "y", "z"} {
		inc := testIncident()
		inc.ID = id
		_, err = m.Send(context.Background(), inc)
		require.NoError(t, err)
	}
	assert.Equal(t, uint64(1), m.Evictions())
	assert.Len(t, m.delivered, 2)
	inc := testIncident()
	inc.ID = "x" // evicted: sent again
	counts, err := m.Send(context.Background(), inc)
	require.NoError(t, err)
	assert.Equal(t, Counts{Sent: 1}, counts["a"])
}

func TestMultiLifecycle(t *testing.T) {
	a, b := &fakeSink{name: "a"}, &fakeSink{name: "b", startErr: errors.New("boom")}
	m, err := NewMulti(0, a, b)
	require.NoError(t, err)
	require.EqualError(t, m.Start(context.Background(), componenttest.NewNopHost()), "boom")
	assert.Equal(t, 1, a.stopped, "started sinks are shut down when a later one fails")
	require.NoError(t, m.Shutdown(context.Background()))
	require.NoError(t, m.Shutdown(context.Background()))

	sinks := make([]Sink, 65)
	for i := range sinks {
		sinks[i] = &fakeSink{name: "s"}
	}
	_, err = NewMulti(0, sinks...)
	assert.Error(t, err)
}

func TestMultiWithRealSinks(t *testing.T) {
	good := newRecorder(t, http.StatusOK, "")
	bad := newRecorder(t, http.StatusServiceUnavailable, "")
	set := componenttest.NewNopTelemetrySettings()
	wc := NewDefaultWebhookConfig()
	wc.ClientConfig = clientConfig(good.srv.URL)
	ac := NewDefaultAlertmanagerConfig()
	ac.ClientConfig = clientConfig(bad.srv.URL)
	m, err := NewMulti(0, NewWebhook(wc, set), NewAlertmanager(ac, set))
	require.NoError(t, err)
	require.NoError(t, m.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { assert.NoError(t, m.Shutdown(context.Background())) }()

	counts, err := m.Send(context.Background(), testIncident())
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "alertmanager sink: HTTP 503")
	assert.Equal(t, map[string]Counts{"webhook": {Sent: 1}, "alertmanager": {Failed: 1}}, counts)

	bad.set(http.StatusOK, "")
	counts, err = m.Send(context.Background(), testIncident())
	require.NoError(t, err)
	assert.Equal(t, map[string]Counts{"webhook": {Skipped: 1}, "alertmanager": {Sent: 1}}, counts)
	assert.Len(t, good.all(), 1, "the webhook got the incident once")
}

// When a version of an incident fails retryably, its later versions in the same request are not
// sent to that sink: the retry delivers them in order, so a sink never sees v2 before v1.
func TestVersionsReachEachSinkInOrder(t *testing.T) {
	flaky := &fakeSink{name: "flaky", errs: []error{errors.New("503")}}
	steady := &fakeSink{name: "steady"}
	m, err := NewMulti(0, flaky, steady)
	require.NoError(t, err)
	v := func(n int) *incident.Incident { return &incident.Incident{ID: "inc", Version: n} }
	counts, err := m.Send(context.Background(), v(1), v(2), v(3))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	assert.Equal(t, []int{1}, flaky.versions, "v2 and v3 wait for v1")
	assert.Equal(t, Counts{Failed: 1}, counts["flaky"])
	assert.Equal(t, Counts{Sent: 3}, counts["steady"])

	counts, err = m.Send(context.Background(), v(1), v(2), v(3)) // the exporterhelper retry
	require.NoError(t, err)
	assert.Equal(t, []int{1, 1, 2, 3}, flaky.versions)
	assert.Equal(t, Counts{Sent: 3}, counts["flaky"])
	assert.Equal(t, Counts{Skipped: 3}, counts["steady"])
}

// fakeNow is a settable clock for Multi.now.
type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

func TestMultiGivesUpAfterMaxElapsedTime(t *testing.T) {
	retryErr := errors.New("flaky sink: HTTP 500 Internal Server Error")
	flaky := &fakeSink{name: "flaky", errs: []error{retryErr, retryErr, retryErr}}
	steady := &fakeSink{name: "steady"}
	m, err := NewMulti(0, flaky, steady)
	require.NoError(t, err)
	clock := &fakeNow{t: time.Unix(1000, 0)}
	m.now = clock.now
	m.SetRetryPolicy(RetryPolicy{MaxElapsedTime: time.Minute})
	inc := testIncident()

	counts, err := m.Send(context.Background(), inc)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	assert.Equal(t, map[string]Counts{"flaky": {Failed: 1}, "steady": {Sent: 1}}, counts)

	clock.t = clock.t.Add(59 * time.Second) // still within the limit: retried
	counts, err = m.Send(context.Background(), inc)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	assert.Equal(t, map[string]Counts{"flaky": {Failed: 1}, "steady": {Skipped: 1}}, counts)

	clock.t = clock.t.Add(time.Second) // a minute after the first failure: given up
	counts, err = m.Send(context.Background(), inc)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err), "nothing is left to retry")
	assert.Contains(t, err.Error(), "HTTP 500")
	assert.Equal(t, map[string]Counts{"flaky": {Failed: 1, Exhausted: 1}, "steady": {Skipped: 1}}, counts)
	assert.Equal(t, 3, flaky.callCount())
	assert.Empty(t, m.Abandon(), "a version given up is no longer pending")
}

func TestMultiRetryDisabledGivesUpAtFirstFailure(t *testing.T) {
	flaky := &fakeSink{name: "flaky", errs: []error{errors.New("flaky sink: HTTP 503 Service Unavailable")}}
	m, err := NewMulti(0, flaky)
	require.NoError(t, err)
	m.SetRetryPolicy(RetryPolicy{Disabled: true})
	counts, err := m.Send(context.Background(), testIncident())
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Equal(t, Counts{Failed: 1, Exhausted: 1}, counts["flaky"])
}

func TestMultiPermanentFailureIsRejected(t *testing.T) {
	bad := &fakeSink{name: "bad", errs: []error{consumererror.NewPermanent(errors.New("bad sink: HTTP 400 Bad Request"))}}
	m, err := NewMulti(0, bad)
	require.NoError(t, err)
	counts, err := m.Send(context.Background(), testIncident())
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Equal(t, Counts{Failed: 1, Rejected: 1}, counts["bad"])
}

// Later versions waiting behind a version given up have waited as long: they are given up at
// their first failure too, instead of starting a new max_elapsed_time each.
func TestMultiLaterVersionsFollowAnEarlierGiveUp(t *testing.T) {
	down := errors.New("flaky sink: HTTP 502 Bad Gateway")
	flaky := &fakeSink{name: "flaky", errs: []error{down, down, down, down}}
	m, err := NewMulti(0, flaky)
	require.NoError(t, err)
	clock := &fakeNow{t: time.Unix(1000, 0)}
	m.now = clock.now
	m.SetRetryPolicy(RetryPolicy{MaxElapsedTime: time.Minute})
	v := func(n int) *incident.Incident { return &incident.Incident{ID: "inc", Version: n} }

	counts, err := m.Send(context.Background(), v(1), v(2), v(3))
	require.Error(t, err)
	assert.Equal(t, Counts{Failed: 1}, counts["flaky"])
	assert.Equal(t, map[string]int{"flaky": 3}, pendingCopy(m), "v1 failed, v2 and v3 wait")

	clock.t = clock.t.Add(time.Minute)
	counts, err = m.Send(context.Background(), v(1), v(2), v(3))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Equal(t, Counts{Failed: 3, Exhausted: 3}, counts["flaky"])
	assert.Equal(t, []int{1, 1, 2, 3}, flaky.versions)
	assert.Empty(t, m.Abandon())
}

func TestMultiAbandonCountsPendingVersions(t *testing.T) {
	flaky := &fakeSink{name: "flaky", errs: []error{errors.New("flaky sink: request failed: EOF")}}
	steady := &fakeSink{name: "steady"}
	m, err := NewMulti(0, flaky, steady)
	require.NoError(t, err)
	_, err = m.Send(context.Background(), testIncident())
	require.Error(t, err)
	assert.Equal(t, map[string]int{"flaky": 1}, m.Abandon())
	assert.Empty(t, m.Abandon(), "counted once")

	// a pending version that is later delivered is not abandoned
	flaky.errs = []error{errors.New("flaky sink: HTTP 503 Service Unavailable")}
	inc := testIncident()
	inc.Version++
	_, err = m.Send(context.Background(), inc)
	require.Error(t, err)
	_, err = m.Send(context.Background(), inc)
	require.NoError(t, err)
	assert.Empty(t, m.Abandon())
}

// pendingCopy counts the pending versions per sink without clearing them.
func pendingCopy(m *Multi) map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for e := m.order.Front(); e != nil; e = e.Next() {
		for i, s := range m.sinks {
			if e.Value.(*deliveryEntry).pending&(1<<i) != 0 {
				out[s.Name()]++
			}
		}
	}
	return out
}

// A version given up in one request is skipped by that request's retries (another sink keeps
// it retrying), but a new hand-off of the same version tries the sink again.
func TestMultiExhaustedSinkIsRetriedOnlyByANewHandoff(t *testing.T) {
	down := errors.New("down sink: HTTP 503 Service Unavailable")
	a := &fakeSink{name: "a", errs: []error{down}}
	b := &fakeSink{name: "b", errs: []error{down, down}}
	m, err := NewMulti(0, a, b)
	require.NoError(t, err)
	clock := &fakeNow{t: time.Unix(1000, 0)}
	m.now = clock.now
	m.SetRetryPolicy(RetryPolicy{Disabled: true})
	inc := testIncident()
	req1, req2 := time.Unix(1, 0), time.Unix(2, 0)

	counts, err := m.SendRequest(context.Background(), req1, inc)
	require.Error(t, err)
	assert.Equal(t, map[string]Counts{"a": {Failed: 1, Exhausted: 1}, "b": {Failed: 1, Exhausted: 1}}, counts)
	counts, err = m.SendRequest(context.Background(), req1, inc)
	require.NoError(t, err)
	assert.Equal(t, map[string]Counts{"a": {Skipped: 1}, "b": {Skipped: 1}}, counts)

	counts, err = m.SendRequest(context.Background(), req2, inc)
	require.Error(t, err)
	assert.Equal(t, map[string]Counts{"a": {Sent: 1}, "b": {Failed: 1, Exhausted: 1}}, counts)
	counts, _ = m.SendRequest(context.Background(), time.Unix(3, 0), inc)
	assert.Equal(t, map[string]Counts{"a": {Skipped: 1}, "b": {Sent: 1}}, counts, "accepted versions are never sent again")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/sink"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// flakyWebhook answers the first `fail` requests with fail (a status, or closes the connection),
// then 200, recording when each request came and which versions were accepted.
type flakyWebhook struct {
	srv *httptest.Server

	mu        sync.Mutex
	fail      int
	failTimes []time.Time
	okTimes   []time.Time
	accepted  []int // incident versions answered 200
}

func newFlakyWebhook(t *testing.T, failures int, fail func(w http.ResponseWriter)) *flakyWebhook {
	t.Helper()
	f := &flakyWebhook{fail: failures}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		f.mu.Lock()
		failing := f.fail != 0
		if failing {
			f.fail-- // negative: fail for ever
			f.failTimes = append(f.failTimes, time.Now())
		} else {
			v, _ := strconv.Atoi(r.Header.Get(sink.HeaderIncidentVersion))
			f.accepted = append(f.accepted, v)
			f.okTimes = append(f.okTimes, time.Now())
		}
		f.mu.Unlock()
		if failing {
			fail(w)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flakyWebhook) counts() (failed, ok int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.failTimes), len(f.okTimes)
}

func answer(status int, kv ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
	}
}

// closeConn drops the connection without an answer (the client sees EOF).
func closeConn(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func startDeliveryExporter(t *testing.T, cfg *Config) (*rcaExporter, *componenttest.Telemetry) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e, err := newExporter(context.Background(), metadatatest.NewSettings(tel), cfg, nil)
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	return e, tel
}

func droppedPoint(sinkName, reason string, v int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{
		Attributes: attribute.NewSet(attribute.String("sink", sinkName), attribute.String("reason", reason)),
		Value:      v,
	}
}

func assertNothingDropped(t *testing.T, tel *componenttest.Telemetry) {
	t.Helper()
	got, err := tel.GetMetric("otelcol_exporter_rca_dropped")
	assert.Error(t, err, "nothing may be counted as dropped, got %v", got)
}

// Regression: a webhook answering 500 lost every incident version (500 was permanent). Every
// transient failure (5xx, 429 with Retry-After, a closed connection) is retried through the
// sending queue until the sink recovers; each version is accepted exactly once.
func TestTransientSinkFailuresAreRetriedUntilDelivered(t *testing.T) {
	tests := []struct {
		name     string
		fail     func(http.ResponseWriter)
		minDelay time.Duration // Retry-After honoured: no retry before this
	}{
		{name: "500", fail: answer(http.StatusInternalServerError)},
		{name: "503", fail: answer(http.StatusServiceUnavailable)},
		{name: "408", fail: answer(http.StatusRequestTimeout)},
		{name: "429 Retry-After", fail: answer(http.StatusTooManyRequests, "Retry-After", "1"), minDelay: time.Second},
		{name: "closed connection", fail: closeConn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const failures = 3
			wh := newFlakyWebhook(t, failures, tt.fail)
			cfg := testConfig(wh.srv.URL)
			cfg.QueueConfig = configoptional.Some(exporterhelper.NewDefaultQueueConfig())
			e, tel := startDeliveryExporter(t, cfg)

			ctx := context.Background()
			for v := 1; v <= 3; v++ {
				e.forward(ctx, []incident.Incident{openIncident("inc-1", "db", v)})
			}
			require.Eventually(t, func() bool { _, ok := wh.counts(); return ok == 3 }, 10*time.Second, 5*time.Millisecond)
			require.NoError(t, e.Shutdown(ctx))

			wh.mu.Lock()
			defer wh.mu.Unlock()
			assert.Len(t, wh.failTimes, failures)
			accepted := slices.Clone(wh.accepted)
			slices.Sort(accepted)
			assert.Equal(t, []int{1, 2, 3}, accepted, "every version delivered once")
			if tt.minDelay > 0 {
				assert.GreaterOrEqual(t, wh.okTimes[0].Sub(wh.failTimes[0]), tt.minDelay-50*time.Millisecond, "Retry-After is honoured")
			}
			metadatatest.AssertEqualExporterRcaSent(t, tel, []metricdata.DataPoint[int64]{
				sinkPoint("webhook", "sent", 3),
				sinkPoint("webhook", "failed", failures),
			}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			assertNothingDropped(t, tel)
		})
	}
}

// A sink answering 500 for longer than the probe's 40 s is retried too: the limit is
// max_elapsed_time, not the number of attempts (here without a queue, so forward waits).
func TestServerErrorRecoversWithoutQueue(t *testing.T) {
	wh := newFlakyWebhook(t, 5, answer(http.StatusInternalServerError))
	e, tel := startDeliveryExporter(t, testConfig(wh.srv.URL))
	ctx := context.Background()
	require.NoError(t, e.forwardErr(ctx, []incident.Incident{openIncident("inc-1", "db", 1)}))
	require.NoError(t, e.forwardErr(ctx, []incident.Incident{openIncident("inc-1", "db", 2)}))
	require.NoError(t, e.Shutdown(ctx))
	failed, ok := wh.counts()
	assert.Equal(t, 5, failed)
	assert.Equal(t, 2, ok)
	assert.Equal(t, []int{1, 2}, wh.accepted, "in order, once each")
	assertNothingDropped(t, tel)
}

// A 400 is permanent: not retried, counted as dropped by sink and reason, once (not again as
// delivery_failed).
func TestPermanentSinkErrorIsDroppedNotRetried(t *testing.T) {
	for _, queued := range []bool{false, true} {
		t.Run("queue="+strconv.FormatBool(queued), func(t *testing.T) {
			wh := newFlakyWebhook(t, -1, answer(http.StatusBadRequest))
			cfg := testConfig(wh.srv.URL)
			if queued {
				cfg.QueueConfig = configoptional.Some(exporterhelper.NewDefaultQueueConfig())
			}
			e, tel := startDeliveryExporter(t, cfg)
			ctx := context.Background()
			err := e.forwardErr(ctx, []incident.Incident{openIncident("inc-1", "db", 1)})
			if !queued {
				require.Error(t, err)
			}
			require.NoError(t, e.Shutdown(ctx)) // drains the queue
			failed, ok := wh.counts()
			assert.Equal(t, 1, failed, "not retried")
			assert.Zero(t, ok)
			metadatatest.AssertEqualExporterRcaDropped(t, tel, []metricdata.DataPoint[int64]{
				droppedPoint("webhook", sink.ReasonRejected, 1),
			}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
		})
	}
}

// When the sink is still failing max_elapsed_time after a version's first failure, the version
// is given up and counted as dropped by sink and reason; a healthy sink is not sent it twice.
func TestRetriesExhaustedAreDroppedBySink(t *testing.T) {
	down := newFlakyWebhook(t, -1, answer(http.StatusBadGateway))
	healthy := newHTTPLog(t, nil)
	cfg := testConfig(down.srv.URL)
	cfg.Sinks.Alertmanager = alertmanagerConfig(healthy.srv.URL, nil).Sinks.Alertmanager
	cfg.Sinks.Alertmanager.Get().ResendInterval = 0
	cfg.RetryConfig.MaxElapsedTime = 100 * time.Millisecond
	e, tel := startDeliveryExporter(t, cfg)
	ctx := context.Background()
	for v := 1; v <= 3; v++ {
		err := e.forwardErr(ctx, []incident.Incident{openIncident("inc-1", "db", v)})
		require.Error(t, err)
	}
	require.NoError(t, e.Shutdown(ctx))

	failed, _ := down.counts()
	assert.GreaterOrEqual(t, failed, 3*2, "every version was retried before it was given up")
	healthy.waitFor(t, 3) // once per version, despite the webhook's retries
	metadatatest.AssertEqualExporterRcaDropped(t, tel, []metricdata.DataPoint[int64]{
		droppedPoint("webhook", sink.ReasonExhausted, 3),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualExporterRcaSent(t, tel, []metricdata.DataPoint[int64]{
		sinkPoint("webhook", "failed", int64(failed)),
		sinkPoint("alertmanager", "sent", 3),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// With retries disabled, the first transient failure is final and counted.
func TestRetryDisabledDropsAtFirstFailure(t *testing.T) {
	wh := newFlakyWebhook(t, -1, answer(http.StatusServiceUnavailable))
	cfg := testConfig(wh.srv.URL)
	cfg.RetryConfig.Enabled = false
	e, tel := startDeliveryExporter(t, cfg)
	ctx := context.Background()
	require.Error(t, e.forwardErr(ctx, []incident.Incident{openIncident("inc-1", "db", 1)}))
	require.NoError(t, e.Shutdown(ctx))
	failed, _ := wh.counts()
	assert.Equal(t, 1, failed)
	metadatatest.AssertEqualExporterRcaDropped(t, tel, []metricdata.DataPoint[int64]{
		droppedPoint("webhook", sink.ReasonExhausted, 1),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// A version still waiting for a retry when the collector stops (in-memory queue) is lost:
// counted with reason shutdown.
func TestPendingRetryAtShutdownIsDropped(t *testing.T) {
	wh := newFlakyWebhook(t, -1, answer(http.StatusInternalServerError))
	cfg := testConfig(wh.srv.URL)
	cfg.QueueConfig = configoptional.Some(exporterhelper.NewDefaultQueueConfig())
	cfg.RetryConfig.InitialInterval = time.Hour // the retry waits until shutdown
	cfg.RetryConfig.MaxInterval = time.Hour
	e, tel := startDeliveryExporter(t, cfg)
	ctx := context.Background()
	e.forward(ctx, []incident.Incident{openIncident("inc-1", "db", 1)})
	require.Eventually(t, func() bool { failed, _ := wh.counts(); return failed == 1 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, e.Shutdown(ctx))
	metadatatest.AssertEqualExporterRcaDropped(t, tel, []metricdata.DataPoint[int64]{
		droppedPoint("webhook", sink.ReasonShutdown, 1),
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// digestRun hashes a canonical rendering of every chunk of a scenario (every field of every
// resource, log record and span), independent of the proto encoding.
func digestRun(tb testing.TB, sc Scenario, step time.Duration) string {
	tb.Helper()
	d := digester{h: sha256.New()}
	_, err := Run(sc, step, func(ch Chunk) error {
		d.num(ch.Start.UnixNano(), ch.End.UnixNano())
		for _, rl := range ch.Logs.ResourceLogs().All() {
			d.attrs(rl.Resource().Attributes())
			for _, sl := range rl.ScopeLogs().All() {
				d.str(sl.Scope().Name())
				for _, lr := range sl.LogRecords().All() {
					d.num(int64(lr.Timestamp()), int64(lr.ObservedTimestamp()), int64(lr.SeverityNumber()), int64(lr.Flags()))
					d.str(lr.SeverityText(), lr.Body().AsString(), lr.TraceID().String(), lr.SpanID().String())
					d.attrs(lr.Attributes())
				}
			}
		}
		for _, rs := range ch.Traces.ResourceSpans().All() {
			d.attrs(rs.Resource().Attributes())
			for _, ss := range rs.ScopeSpans().All() {
				d.str(ss.Scope().Name())
				for _, sp := range ss.Spans().All() {
					d.str(sp.TraceID().String(), sp.SpanID().String(), sp.ParentSpanID().String(), sp.Name())
					d.num(int64(sp.Kind()), int64(sp.StartTimestamp()), int64(sp.EndTimestamp()), int64(sp.Status().Code()))
					d.str(sp.Status().Message())
					d.attrs(sp.Attributes())
				}
			}
		}
		return nil
	})
	require.NoError(tb, err)
	return hex.EncodeToString(d.h.Sum(nil))
}

// digester feeds values to a hash, each followed by a separator.
type digester struct {
	h   hash.Hash
	buf []byte
}

func (d *digester) str(ss ...string) {
	for _, s := range ss {
		d.buf = append(append(d.buf[:0], s...), 0)
		_, _ = d.h.Write(d.buf)
	}
}

func (d *digester) num(vs ...int64) {
	for _, v := range vs {
		d.buf = append(strconv.AppendInt(d.buf[:0], v, 10), 0)
		_, _ = d.h.Write(d.buf)
	}
}

func (d *digester) attrs(m pcommon.Map) {
	for k, v := range m.All() {
		d.str(k, v.Type().String(), v.AsString())
	}
	d.str("}")
}

// classicGolden are the digests of classic-mode scenarios recorded before the realistic mode
// existed: the classic output must not change.
var classicGolden = map[string]string{
	"eval-000-db_pool_exhaustion@orders-db": "1a6163f4159aa329ff7abdd8d86963325656eae41afd2ba2c0a17b349be89647",
	"eval-001-slow_query@search-db":         "ef925c03a92f0fb72b78de8786e290ba85c8ded69435a6015c7c0b7f6c5bd6c2",
	"eval-002-dependency_timeout@fraud":     "8ef5c4d519290cc2e7d73271f55fee7dd839fc8c922f8ccbc2a96ee19bdab073",
	"eval-003-bad_deploy@catalog":           "b652ac413524797f1e65cc8b858ab9d3a095cbe23b032a81c91fe17629a15e8d",
	"eval-004-memory_pressure@email":        "14753c5ea2fa9f26ae1aded08b66c8a92744a4062ae45a6bc45d208d3a12535a",
	"eval-005-none":                         "d9551b1df7e2c20821ae65b1553b63cb72c59599cfdb0e0fddf4a941b5d7964a",
	"eval-006-network_partition@fraud":      "7f62e41b52344bff67eb4d6c75268402b4f6e078746f5fb99c24c72445acd54b",
	"low_traffic_slow@fx-rates-3":           "887e7368f968bf9771607e2979f8e3a351b45d7fdbc7e5d52713b58349a3a486",
	"memory_pressure@payment-4":             "32b9db339f44edb6b38b43bf4075353002f8ff530d5d2353c744b66ac25f4c28",
	"none-5":                                "1217460232a25e77f913681870db8c23b10adc003b0c8f1d38d404fc366ffad9",
}

func classicGoldenScenarios(tb testing.TB) map[string]Scenario {
	tb.Helper()
	out := map[string]Scenario{}
	scs, err := GenerateScenarios(EvalOptions{Count: 7, Seed: 11, Duration: time.Minute, Rate: 6})
	require.NoError(tb, err)
	for _, sc := range scs {
		out[sc.Name] = sc
	}
	for _, o := range []Options{
		{Seed: 3, Duration: 5 * time.Minute, Rate: 1, Fault: FaultLowTrafficSlow, FaultAt: 2 * time.Minute},
		{Seed: 4, Duration: 2 * time.Minute, Rate: 4, Fault: FaultMemoryPressure, Target: "payment", FaultAt: 30 * time.Second},
		{Seed: 5, Duration: time.Minute, Rate: 8},
	} {
		sc, err := NewScenario(o)
		require.NoError(tb, err)
		out[fmt.Sprintf("%s-%d", sc.Name, o.Seed)] = sc
	}
	return out
}

func TestClassicModeUnchanged(t *testing.T) {
	scs := classicGoldenScenarios(t)
	got := map[string]string{}
	for name, sc := range scs {
		got[name] = digestRun(t, sc, time.Second)
	}
	if len(classicGolden) == 0 {
		for name, d := range got {
			t.Logf("%q: %q,", name, d)
		}
		t.Fatal("no golden digests")
	}
	assert.Equal(t, classicGolden, got)
}

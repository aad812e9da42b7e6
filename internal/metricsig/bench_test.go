// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricsig

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkAdd feeds one period of samples per op: 200 services, each with pod CPU, memory
// (two replicas), HTTP latency and error rate, warm baselines; ns/sample is the cost per sample
// including the judging of the closed windows.
func BenchmarkAdd(b *testing.B) {
	const services = 200
	rng := rand.New(rand.NewPCG(1, 1))
	names := make([]string, services)
	pods := make([][2]string, services)
	for i := range services {
		names[i] = fmt.Sprintf("svc-%d", i)
		pods[i] = [2]string{fmt.Sprintf("svc-%d-5dc8d4f9fd-llznp", i), fmt.Sprintf("svc-%d-5dc8d4f9fd-x2z4q", i)}
	}
	batch := make([]Sample, 0, services*6)
	fill := func(m int) {
		batch = batch[:0]
		t := minute(m)
		for i := range services {
			for r := range 2 {
				batch = append(batch,
					Sample{Service: names[i], Pod: pods[i][r], Signal: SignalPodCPU, Value: lognormal(rng, 0.2, 0.2), Time: t},
					Sample{Service: names[i], Pod: pods[i][r], Signal: SignalPodMemory, Value: lognormal(rng, 300<<20, 0.02), Time: t})
			}
			batch = append(batch,
				Sample{Service: names[i], Signal: SignalHTTPLatency, Value: lognormal(rng, 0.05, 0.3), Count: 100, Time: t},
				Sample{Service: names[i], Signal: SignalHTTPErrors, Value: 0.01 * rng.Float64(), Count: 100, Time: t})
		}
	}
	d := newDet(b, DefaultConfig())
	for m := range 70 { // warm
		fill(m)
		d.Add(batch)
	}
	m := 70
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		fill(m)
		m++
		b.StartTimer()
		d.Add(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/sample")
	b.ReportMetric(float64(len(batch)), "samples/op")
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package metricsig turns per-service metric samples (CPU, memory, restarts, request latency and
// error rate) into anomaly evidence for the rca engine. It is pure Go and knows nothing about
// pdata: internal/metricspdata converts OTLP metrics into Samples.
//
// Every (service, signal) pair is judged against its own history: samples are aggregated per
// event-time window (Config.Period), and a window's value is compared with the robust baseline of
// the trailing Config.Window points of the same series: their median, and a scale that is the
// largest of the scaled MAD and of the scaled distance from the median to the 90th percentile
// (so that a bursty or quantised series, whose MAD is 0, is judged by its usual upward swings). A change is evidence
// only when it persists for Config.Persistence consecutive points, and a rise that most of the
// fleet shares in the same window (load, not a fault) is discounted before judging. Restart
// counters are the exception: any increase is evidence at once.
//
// Windows are judged when the event-time watermark (internal/eventtime, a quorum over services)
// has passed them, so the result depends only on the sequence of samples, never on how they are
// batched or on the wall clock. A Detector is not safe for concurrent use.
package metricsig // import "github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"

// Kind is the class of a signal. It names the anomaly type (Kind.Type).
type Kind uint8

// Kinds.
const (
	KindUnknown Kind = iota
	KindCPU
	KindMemory
	KindRestarts
	KindLatency
	KindErrors
	numKinds
)

var kindNames = [numKinds]string{"unknown", "cpu", "memory", "restarts", "latency", "errors"}

var kindTypes = [numKinds]string{"", "metric_cpu", "metric_memory", "metric_restarts", "metric_latency", "metric_errors"}

// String returns the kind's name ("cpu", "memory", ...).
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return kindNames[KindUnknown]
}

// Type returns the anomaly type of the kind's evidence: metric_cpu, metric_memory,
// metric_restarts, metric_latency or metric_errors ("" for KindUnknown).
func (k Kind) Type() string {
	if k < numKinds {
		return kindTypes[k]
	}
	return ""
}

// unit is the unit of a signal's values; it chooses the baseline scale and the reason format.
type unit uint8

const (
	unitCores   unit = iota + 1 // CPU cores (core-seconds per second)
	unitRatio                   // a utilisation in [0, 1]
	unitBytes                   // bytes
	unitSeconds                 // seconds
	unitShare                   // an error rate in [0, 1]
	unitCount                   // an event count (restarts)
)

// logSpace reports whether a unit is judged on a log scale (multiplicative noise, ratios).
func (u unit) logSpace() bool {
	return u == unitCores || u == unitRatio || u == unitBytes || u == unitSeconds
}

// eps is added before taking the log, so that idle values (0 cores, 0 s) stay finite and
// changes among tiny values do not look like large ratios.
func (u unit) eps() float64 {
	switch u {
	case unitCores, unitRatio:
		return 1e-3
	case unitBytes:
		return 1 << 20
	case unitSeconds:
		return 1e-4
	}
	return 0
}

// minIncrease is the least absolute rise of an off point, in the unit.
func (u unit) minIncrease() float64 {
	switch u {
	case unitCores:
		return 0.02 // 20m
	case unitRatio:
		return 0.01 // one percentage point
	case unitBytes:
		return 16 << 20 // 16 MiB
	case unitSeconds:
		return 0.005 // 5 ms
	}
	return 0
}

// Signal is one measured quantity of a service. Every (service, signal) pair has its own
// baseline; several signals share a Kind (pod and container CPU are both KindCPU).
type Signal uint8

// Signals, with the unit of Sample.Value.
const (
	SignalUnknown                   Signal = iota
	SignalPodCPU                           // cores: k8s.pod.cpu.usage, or the rate of k8s.pod.cpu.time
	SignalContainerCPU                     // cores: container.cpu.usage, or the rate of container.cpu.time
	SignalPodCPUUtilization                // ratio: k8s.pod.cpu.utilization
	SignalContainerCPUUtilization          // ratio: container.cpu.utilization
	SignalProcessCPU                       // cores: the rate of process.cpu.time
	SignalProcessCPUUtilization            // ratio: process.cpu.utilization
	SignalPodMemory                        // bytes: k8s.pod.memory.usage
	SignalPodMemoryWorkingSet              // bytes: k8s.pod.memory.working_set
	SignalContainerMemory                  // bytes: container.memory.usage
	SignalContainerMemoryWorkingSet        // bytes: container.memory.working_set
	SignalProcessMemory                    // bytes: process.memory.usage
	SignalRestarts                         // restarts: increase of a restart counter in the sample's interval
	SignalHTTPLatency                      // seconds: p95 (or mean) of http.server.request.duration
	SignalHTTPErrors                       // share of requests with a 5xx status
	SignalRPCLatency                       // seconds: p95 (or mean) of rpc.server.duration / rpc.server.call.duration
	SignalRPCErrors                        // share of calls with a server-error status
	SignalSpanLatency                      // seconds: p95 (or mean) of spanmetrics' duration (server and consumer spans)
	SignalSpanErrors                       // share of spanmetrics' calls with status STATUS_CODE_ERROR
	NumSignals                             // number of signals (not a signal)
)

type signalInfo struct {
	name  string // stable identifier
	label string // subject of the reason text
	kind  Kind
	unit  unit
	// instances: the window's value is the largest per-instance (pod, container) mean, so a fault
	// of one replica is not averaged away; otherwise samples are weighted by request count.
	instances bool
}

var signals = [NumSignals]signalInfo{
	SignalUnknown:                   {name: "unknown"},
	SignalPodCPU:                    {"pod_cpu", "cpu", KindCPU, unitCores, true},
	SignalContainerCPU:              {"container_cpu", "container cpu", KindCPU, unitCores, true},
	SignalPodCPUUtilization:         {"pod_cpu_utilization", "cpu utilization", KindCPU, unitRatio, true},
	SignalContainerCPUUtilization:   {"container_cpu_utilization", "container cpu utilization", KindCPU, unitRatio, true},
	SignalProcessCPU:                {"process_cpu", "process cpu", KindCPU, unitCores, true},
	SignalProcessCPUUtilization:     {"process_cpu_utilization", "process cpu utilization", KindCPU, unitRatio, true},
	SignalPodMemory:                 {"pod_memory", "memory", KindMemory, unitBytes, true},
	SignalPodMemoryWorkingSet:       {"pod_memory_working_set", "memory working set", KindMemory, unitBytes, true},
	SignalContainerMemory:           {"container_memory", "container memory", KindMemory, unitBytes, true},
	SignalContainerMemoryWorkingSet: {"container_memory_working_set", "container memory working set", KindMemory, unitBytes, true},
	SignalProcessMemory:             {"process_memory", "process memory", KindMemory, unitBytes, true},
	SignalRestarts:                  {"restarts", "restarts", KindRestarts, unitCount, true},
	SignalHTTPLatency:               {"http_latency", "http latency", KindLatency, unitSeconds, false},
	SignalHTTPErrors:                {"http_errors", "http error rate", KindErrors, unitShare, false},
	SignalRPCLatency:                {"rpc_latency", "rpc latency", KindLatency, unitSeconds, false},
	SignalRPCErrors:                 {"rpc_errors", "rpc error rate", KindErrors, unitShare, false},
	SignalSpanLatency:               {"span_latency", "span latency", KindLatency, unitSeconds, false},
	SignalSpanErrors:                {"span_errors", "span error rate", KindErrors, unitShare, false},
}

// Valid reports whether s is a known signal.
func (s Signal) Valid() bool { return s > SignalUnknown && s < NumSignals }

// Kind returns the signal's kind (KindUnknown for an invalid signal).
func (s Signal) Kind() Kind {
	if s.Valid() {
		return signals[s].kind
	}
	return KindUnknown
}

// String returns the signal's stable identifier ("pod_cpu", "http_latency", ...).
func (s Signal) String() string {
	if s.Valid() {
		return signals[s].name
	}
	return signals[SignalUnknown].name
}

// Sample is one measurement of one service (one pod or container when known) at one event time.
type Sample struct {
	Service   string
	Pod       string // k8s.pod.name ("" when unknown)
	Container string // container name for container-level signals ("" otherwise)
	Signal    Signal
	// Value is in the signal's unit: cores, a ratio in [0, 1], bytes, seconds, an error share in
	// [0, 1], or (SignalRestarts) the number of restarts since the previous sample.
	Value float64
	// Count is the number of requests behind a latency or error-rate value (0: unknown). Samples
	// of one window are weighted by it.
	Count float64
	// Time is the event time, unix nanoseconds.
	Time int64
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricspdata // import "github.com/otelcol-aiops/otelcol-aiops/internal/metricspdata"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Resource attribute names (semantic conventions).
const (
	attrServiceName    = "service.name"
	attrPodName        = "k8s.pod.name"
	attrDeploymentName = "k8s.deployment.name"
	attrStatefulSet    = "k8s.statefulset.name"
	attrDaemonSet      = "k8s.daemonset.name"
	attrK8sContainer   = "k8s.container.name"
	attrContainerName  = "container.name"
)

// ServiceOf returns the service a resource belongs to: service.name (unless it is the SDK
// default unknown_service[:exe]), else the service derived from k8s.pod.name (ServiceOfPod),
// else k8s.deployment.name, k8s.statefulset.name, k8s.daemonset.name, k8s.container.name or
// container.name; "" when none is set.
func ServiceOf(res pcommon.Map) string {
	if s := str(res, attrServiceName); s != "" && !strings.HasPrefix(s, "unknown_service") {
		return s
	}
	if p := str(res, attrPodName); p != "" {
		return ServiceOfPod(p)
	}
	for _, k := range [...]string{attrDeploymentName, attrStatefulSet, attrDaemonSet, attrK8sContainer, attrContainerName} {
		if s := str(res, k); s != "" {
			return s
		}
	}
	return ""
}

// ServiceOfPod derives a workload name from a Kubernetes pod name:
//   - Deployment pods, <name>-<pod-template-hash>-<5 chars> ("checkout-5dc8d4f9fd-llznp"), and
//     CronJob pods, <name>-<schedule time>-<5 chars>, give <name>;
//   - DaemonSet, Job and bare ReplicaSet pods, <name>-<5 chars>, give <name>;
//   - StatefulSet pods, <name>-<ordinal> ("redis-0"), give <name>;
//   - anything else is returned as it is.
//
// Generated suffixes are recognised by Kubernetes' alphabet for random names (consonants and the
// digits 2, 4-9), so that words like "nginx" or "cache" are never taken for a suffix. The result
// shares the pod name's memory.
func ServiceOfPod(pod string) string {
	i := strings.LastIndexByte(pod, '-')
	if i <= 0 || i == len(pod)-1 {
		return pod
	}
	rest, last := pod[:i], pod[i+1:]
	if len(last) == 5 && safeAlphabet(last) {
		if j := strings.LastIndexByte(rest, '-'); j > 0 && templateHash(rest[j+1:]) {
			return rest[:j]
		}
		return rest
	}
	if ordinal(last) {
		return rest
	}
	return pod
}

// safeAlphabet reports whether s uses only the characters of Kubernetes' random names
// (k8s.io/apimachinery/pkg/util/rand: "bcdfghjklmnpqrstvwxz2456789").
func safeAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '2' && c <= '9' && c != '3':
		case c >= 'b' && c <= 'z' && c != 'e' && c != 'i' && c != 'o' && c != 'u' && c != 'y':
		default:
			return false
		}
	}
	return true
}

// templateHash reports whether s looks like a pod-template-hash: 6 to 10 characters of the safe
// alphabet (Kubernetes >= 1.11), or 6 to 10 digits (older releases, and CronJob schedule times).
func templateHash(s string) bool {
	if len(s) < 6 || len(s) > 10 {
		return false
	}
	return safeAlphabet(s) || digits(s)
}

// ordinal reports whether s is a StatefulSet ordinal: 0, or up to 5 digits without a leading zero.
func ordinal(s string) bool {
	return s == "0" || (len(s) <= 5 && s[0] != '0' && digits(s))
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// str returns a string attribute ("" when absent or not a string).
func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

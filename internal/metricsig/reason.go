// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricsig // import "github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"

import (
	"math"
	"strconv"
	"strings"
)

// reason builds the short human text of a piece of evidence, for example
// "cpu 3.2x its baseline (median 120m, now 384m, z 14) on pod checkout-5dc8d4f9fd-llznp".
func reason(info *signalInfo, ev *hit) string {
	var b strings.Builder
	switch info.unit {
	case unitCount:
		n := int64(math.Round(ev.value))
		b.WriteString(strconv.FormatInt(n, 10))
		if n == 1 {
			b.WriteString(" restart")
		} else {
			b.WriteString(" restarts")
		}
		where(&b, ev, " of")
		return b.String()
	case unitShare:
		b.WriteString(info.label)
		b.WriteByte(' ')
		b.WriteString(formatValue(unitShare, ev.value))
		b.WriteString(" vs baseline ")
		b.WriteString(formatValue(unitShare, ev.base))
		b.WriteString(" (")
		if ev.known && ev.count > 0 {
			b.WriteString(strconv.FormatFloat(math.Round(ev.value*ev.count), 'f', 0, 64))
			b.WriteString(" of ")
			b.WriteString(strconv.FormatFloat(math.Round(ev.count), 'f', 0, 64))
			b.WriteString(" requests, ")
		}
	default:
		eps := info.unit.eps()
		b.WriteString(info.label)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat((ev.value+eps)/(ev.base+eps), 'f', 1, 64))
		b.WriteString("x its baseline (median ")
		b.WriteString(formatValue(info.unit, ev.base))
		b.WriteString(", now ")
		b.WriteString(formatValue(info.unit, ev.value))
		b.WriteString(", ")
	}
	b.WriteString("z ")
	b.WriteString(strconv.FormatFloat(ev.z, 'f', 0, 64))
	b.WriteByte(')')
	if info.instances {
		where(&b, ev, " on")
	}
	if ev.fleet > 1.05 {
		b.WriteString("; fleet-wide rise ")
		b.WriteString(strconv.FormatFloat(ev.fleet, 'f', 1, 64))
		b.WriteString("x discounted")
	}
	return b.String()
}

func where(b *strings.Builder, ev *hit, prep string) {
	switch {
	case ev.pod != "" && ev.container != "":
		b.WriteString(prep)
		b.WriteString(" pod ")
		b.WriteString(ev.pod)
		b.WriteString(" container ")
		b.WriteString(ev.container)
	case ev.pod != "":
		b.WriteString(prep)
		b.WriteString(" pod ")
		b.WriteString(ev.pod)
	case ev.container != "":
		b.WriteString(prep)
		b.WriteString(" container ")
		b.WriteString(ev.container)
	}
}

// formatValue renders a value in its unit: 120m (cores), 1.25 (cores), 512MiB, 120ms, 35.0%.
func formatValue(u unit, v float64) string {
	switch u {
	case unitCores:
		if v < 1 {
			return strconv.FormatFloat(v*1000, 'f', 0, 64) + "m"
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	case unitRatio:
		return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	case unitShare:
		return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	case unitBytes:
		switch {
		case v >= 1<<30:
			return strconv.FormatFloat(v/(1<<30), 'f', 2, 64) + "GiB"
		case v >= 1<<20:
			return strconv.FormatFloat(v/(1<<20), 'f', 0, 64) + "MiB"
		case v >= 1<<10:
			return strconv.FormatFloat(v/(1<<10), 'f', 0, 64) + "KiB"
		}
		return strconv.FormatFloat(v, 'f', 0, 64) + "B"
	case unitSeconds:
		switch {
		case v >= 1:
			return strconv.FormatFloat(v, 'f', 2, 64) + "s"
		case v >= 10e-3:
			return strconv.FormatFloat(v*1e3, 'f', 0, 64) + "ms"
		case v >= 1e-3:
			return strconv.FormatFloat(v*1e3, 'f', 1, 64) + "ms"
		}
		return strconv.FormatFloat(v*1e6, 'f', 0, 64) + "µs"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

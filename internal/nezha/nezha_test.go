// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package nezha

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func writeGz(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	_, err = zw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}

// fixture writes a tiny data set in the Nezha layout, with the traps of the real one: an invalid
// TimeUnixNano (Go's zero time) with a zone-less Timestamp, rows repeated across minute files,
// a root span, and a metric row.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(
		"case_id,date,inject_time_utc,inject_unix_s,root_cause_pod,root_cause_service,fault_type\n"+
			"nz2,2023-01-30,2023-01-30 12:00:30,1675080030,ts-b-service-5dc8d4f9fd-llznp,ts-b-service,cpu_contention\n"+
			"nz1,2023-01-30,2023-01-30 12:00:10,1675080010,ts-a-service-7f8d7d756d-kzp47,ts-a-service,network_delay\n"), 0o600))
	logHeader := "Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log\n"
	row1 := `2023-01-30T12:00:01.5Z,1675080001500000000,10.0.0.1,ts-a-service-7f8d7d756d-kzp47,server,0af7651916cd43dd8448eb211c80319c,b7ad6b7169203331,"{""log"":""20:00:01.500 INFO  c.a.Svc#1 TraceID: x [get][ok]\n"",""stream"":""stdout""}"` + "\n"
	row2 := `2023-01-30T12:00:02.25,-6795364578871345152,10.0.0.2,ts-b-service-5dc8d4f9fd-llznp,server,,,"{""log"":""20:00:02.250 ERROR b.Impl#9 [call][failed]\n"",""stream"":""stdout""}"` + "\n"
	writeGz(t, filepath.Join(dir, "fault", "log", "12_00_log.csv.gz"), logHeader+row1+row2)
	writeGz(t, filepath.Join(dir, "fault", "log", "12_01_log.csv.gz"), logHeader+row2) // overlap
	writeGz(t, filepath.Join(dir, "fault", "trace", "12_00_trace.csv.gz"),
		"TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"+
			"0af7651916cd43dd8448eb211c80319c,aaaaaaaaaaaaaaaa,root,ts-a-service-7f8d7d756d-kzp47,/api,1675080001000000000,1675080001900000000,900000\n"+
			"0af7651916cd43dd8448eb211c80319c,bbbbbbbbbbbbbbbb,aaaaaaaaaaaaaaaa,ts-b-service-5dc8d4f9fd-llznp,GET,1675080001100000000,1675080001800000000,700000\n"+
			"0af7651916cd43dd8448eb211c80319c,bbbbbbbbbbbbbbbb,aaaaaaaaaaaaaaaa,ts-b-service-5dc8d4f9fd-llznp,GET,1675080001100000000,1675080001800000000,700000\n")
	writeGz(t, filepath.Join(dir, "fault", "metric", "ts-b-service-5dc8d4f9fd-llznp_metric.csv.gz"),
		"Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),MemoryUsageRate(%),SyscallRead,SyscallWrite,NetworkReceiveBytes,NetworkTransmitBytes,PodClientLatencyP90(s),PodServerLatencyP90(s),PodClientLatencyP95(s),PodServerLatencyP95(s),PodClientLatencyP99(s),PodServerLatencyP99(s),PodWorkload(Ops),PodSuccessRate(%),NodeCpuUsageRate(%),NodeMemoryUsageRate(%),NodeNetworkReceiveBytes\n"+
			"2023-01-30 12:00:02 +0000 UTC,1675080002,ts-b-service-5dc8d4f9fd-llznp,250,5,512,20,0,0,100,200,0.01,0.02,0.03,0.04,0.05,0.06,7,99,3,40,100\n")
	return dir
}

func TestServiceOf(t *testing.T) {
	for pod, svc := range map[string]string{
		"ts-basic-service-5dc8d4f9fd-llznp": "ts-basic-service",
		"redis-0":                           "redis-0",
		"mysql-7d9f8c-abcde":                "mysql",
		"frontend":                          "frontend",
		"web-abc12":                         "web",
	} {
		assert.Equal(t, svc, ServiceOf(pod), pod)
	}
}

func TestLoadAndReplay(t *testing.T) {
	d, err := Load(fixture(t), "fault")
	require.NoError(t, err)
	require.Len(t, d.Faults, 2)
	assert.Equal(t, "nz1", d.Faults[0].ID, "sorted by time")
	assert.Equal(t, "ts-b-service", d.Faults[1].Service)
	assert.Equal(t, 2, d.Stats.Logs)
	assert.Equal(t, 2, d.Stats.Spans)
	assert.Equal(t, 2, d.Stats.Duplicates, "the repeated log and span rows")

	var logs, spans, points int
	var rec []plog.LogRecord
	require.NoError(t, d.Replay(time.Second, func(c Chunk) error {
		logs += c.Logs.LogRecordCount()
		spans += c.Traces.SpanCount()
		points += c.Metrics.DataPointCount()
		rls := c.Logs.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			svc, _ := rls.At(i).Resource().Attributes().Get("service.name")
			assert.True(t, strings.HasPrefix(svc.Str(), "ts-"), svc.Str())
			lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				rec = append(rec, lrs.At(j))
				assert.False(t, lrs.At(j).ObservedTimestamp().AsTime().Before(c.Start))
				assert.True(t, lrs.At(j).ObservedTimestamp().AsTime().Before(c.End))
			}
		}
		return nil
	}))
	assert.Equal(t, 2, logs)
	assert.Equal(t, 2, spans)
	assert.Equal(t, len(metricColumns), points)
	require.Len(t, rec, 2)
	assert.Equal(t, "20:00:01.500 INFO  c.a.Svc#1 TraceID: x [get][ok]", rec[0].Body().Str(), "the application line, without the newline")
	assert.Equal(t, plog.SeverityNumberInfo, rec[0].SeverityNumber())
	assert.False(t, rec[0].TraceID().IsEmpty())
	assert.Equal(t, plog.SeverityNumberError, rec[1].SeverityNumber())
	assert.Equal(t, time.Date(2023, 1, 30, 12, 0, 2, 250_000_000, time.UTC), rec[1].ObservedTimestamp().AsTime())
	assert.Less(t, int64(rec[1].Timestamp()), int64(0), "the invalid time is passed on as recorded")
}

func TestMissingLabels(t *testing.T) {
	_, err := Load(t.TempDir(), "fault")
	require.Error(t, err)
}

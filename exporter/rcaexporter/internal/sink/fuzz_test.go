// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package sink

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
)

// FuzzIncidentPayloads: any incident JSON (what the sending queue hands to deliver, from memory
// or from a persistent queue on disk) is either rejected by the decoder (deliver counts it as
// dropped{reason="unmarshal"}) or rendered by every sink into a payload that encodes, without a
// panic, whatever its fields hold (empty, huge, unknown severities and statuses, odd times).
func FuzzIncidentPayloads(f *testing.F) {
	full, err := json.Marshal(testIncident())
	require.NoError(f, err)
	f.Add(full)
	resolved := testIncident()
	resolved.Status = incident.StatusResolved
	b, err := json.Marshal(resolved)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"x","severity":"Apocalyptic","status":"gone","affected_services":["","a","a"],"candidates":[{}],"llm":{}}`))
	f.Add([]byte(`{"id":"","started_at":"0001-01-01T00:00:00Z","updated_at":"9999-12-31T23:59:59Z","top_templates":[{"count":-1}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[1,2`))

	set := componenttest.NewNopTelemetrySettings()
	pd := NewPagerDuty(NewDefaultPagerDutyConfig(), set)
	am := NewAlertmanager(NewDefaultAlertmanagerConfig(), set)
	jira := NewJira(NewDefaultJiraConfig(), set)
	console := NewDefaultConsoleConfig()
	f.Fuzz(func(t *testing.T, data []byte) {
		inc := new(incident.Incident)
		if json.Unmarshal(data, inc) != nil {
			return // deliver counts it and goes on
		}
		for name, payload := range map[string]any{
			"slack":        slackMessage(inc, "https://grafana.example/d/x?var-incident={id}"),
			"pagerduty":    pd.event(inc),
			"alertmanager": am.alerts(inc),
			"jira":         []any{jira.labels(inc), jira.descriptionLines(inc), jira.commentLines(inc)},
			"console":      ConsoleSummary(inc, console),
			"webhook":      inc,
		} {
			if _, err := json.Marshal(payload); err != nil {
				t.Fatalf("%s: the payload does not encode: %v", name, err)
			}
		}
		_ = title(inc)
		_ = topEvidence(inc, 3)
		_ = eventTime(inc)
	})
}

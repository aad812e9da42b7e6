// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2etest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/otlppost"
)

// postAll sends reqs to the collector at endpoint, retrying the first until it listens; after
// each request it calls after (when not nil) with the request's index.
func postAll(t testing.TB, c *collector, endpoint string, reqs []request, after func(i int)) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for i, r := range reqs {
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, _, err := otlppost.Post(context.Background(), client, "http://"+endpoint+r.path, r.body)
			if err == nil {
				break
			}
			require.True(t, i == 0 && time.Now().Before(deadline), "request %d: %v\n%s", i, err, c.logs.String())
			time.Sleep(200 * time.Millisecond)
		}
		if after != nil {
			after(i)
		}
	}
}

// quietFor waits until the webhook has received nothing for quiet (at most limit).
func quietFor(capt *capture, quiet, limit time.Duration) {
	begin := time.Now()
	for end := begin.Add(limit); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if _, last := capt.snapshot(); time.Since(last) > quiet && time.Since(begin) > quiet {
			return
		}
	}
}

func decode(t *testing.T, bodies []string) []incident.Incident {
	t.Helper()
	out := make([]incident.Incident, len(bodies))
	for i, b := range bodies {
		require.NoError(t, json.Unmarshal([]byte(b), &out[i]))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// templateIDs is the set of template ids an incident's versions name, per service.
func templateIDs(incs []incident.Incident) map[string]bool {
	out := map[string]bool{}
	for _, inc := range incs {
		for _, tr := range inc.TopTemplates {
			out[tr.Service+"/"+tr.TemplateID] = true
		}
	}
	return out
}

// run plays reqs through a collector with state in storage, stopping (SIGTERM) and restarting
// it after the first cut requests when cut > 0.
func restartRun(t *testing.T, reqs []request, cut int, storage string) []incident.Incident {
	t.Helper()
	capt := &capture{}
	srv := httptest.NewServer(capt)
	defer srv.Close()
	endpoint := freePort(t)
	env := []string{"OTLP_ENDPOINT=" + endpoint, "WEBHOOK_URL=" + srv.URL, "STORAGE_DIR=" + storage}
	c := startTier(t, "restart.yaml", env...)
	if cut > 0 {
		postAll(t, c, endpoint, reqs[:cut], nil)
		quietFor(capt, 5*time.Second, time.Minute)
		c.stop(t)
		got, _ := capt.snapshot()
		require.NotEmpty(t, got, "an incident is open when the collector stops")
		c = startTier(t, "restart.yaml", env...)
		reqs = reqs[cut:]
	}
	postAll(t, c, endpoint, reqs, nil)
	quietFor(capt, 6*time.Second, 90*time.Second)
	c.stop(t)
	got, _ := capt.snapshot()
	return decode(t, got)
}

// TestRestartKeepsState: the fault scenario through a collector with every component's state in
// file_storage, once without a stop and once stopped (SIGTERM) and restarted while the fault's
// incident is open. The incident keeps its id and root cause, its versions go on from where
// they were (none sent twice, none skipped) and are the uninterrupted run's versions, and the
// restarted collector names the same templates (the same ids) as the uninterrupted one.
func TestRestartKeepsState(t *testing.T) {
	reqs := inOrder(t, chunks(t))
	base := restartRun(t, reqs, 0, t.TempDir())
	// chunks: 30 minutes, the fault from minute 18 for 4 minutes; stop at minute 20.
	cut := len(reqs) * 20 / 30
	restarted := restartRun(t, reqs, cut, t.TempDir())

	ids := func(incs []incident.Incident) map[string]string {
		out := map[string]string{}
		for _, inc := range incs {
			out[inc.ID] = inc.RootCauseService
		}
		return out
	}
	describe := func(incs []incident.Incident) []string {
		var out []string
		for _, inc := range incs {
			out = append(out, fmt.Sprintf("%s/v%d %s root %s, %d services", inc.ID, inc.Version, inc.Status, inc.RootCauseService, len(inc.AffectedServices)))
		}
		return out
	}
	t.Logf("uninterrupted: %v; restarted at minute 20: %v", describe(base), describe(restarted))
	require.NotEmpty(t, base)
	assert.Equal(t, ids(base), ids(restarted), "the same incidents (ids) and root causes after the restart")
	// The rca engine's learned state (edge, own-time and gap baselines) comes back too, so the
	// restarted collector judges the next windows as the running one: no extra versions.
	assert.Equal(t, describe(base), describe(restarted), "the same versions as without the restart")
	seen := map[string]int{}
	for _, inc := range restarted {
		k := fmt.Sprintf("%s/v%d", inc.ID, inc.Version)
		seen[k]++
		assert.Equal(t, 1, seen[k], "version %s sent twice", k)
	}
	last := map[string]int{}
	for _, inc := range restarted {
		assert.Equal(t, last[inc.ID]+1, inc.Version, "incident %s: versions go on without a gap or a restart", inc.ID)
		last[inc.ID] = inc.Version
	}
	for k := range templateIDs(restarted) {
		assert.True(t, templateIDs(base)[k], "template %s is one the uninterrupted collector named too (ids kept across the restart)", k)
	}
}

// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package otlppost

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignalURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":          "http://127.0.0.1:4318/v1/logs",
		"http://localhost:4318/":         "http://localhost:4318/v1/logs",
		"https://[::1]:4318/custom/path": "https://[::1]:4318/custom/path",
	} {
		got, err := SignalURL(in, "/v1/logs")
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"http://10.0.0.1:4318", "ftp://127.0.0.1", "http://example.com", "::"} {
		_, err := SignalURL(bad, "/v1/logs")
		assert.Error(t, err, bad)
	}
}

func TestPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		assert.Equal(t, "application/x-protobuf", r.Header.Get("Content-Type"))
		if string(b) == "bad" {
			http.Error(w, strings.Repeat("x", 300), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	got, _, err := Post(context.Background(), srv.Client(), srv.URL, []byte("good"))
	require.NoError(t, err)
	assert.Equal(t, "ok", string(got))
	_, _, err = Post(context.Background(), srv.Client(), srv.URL, []byte("bad"))
	require.ErrorContains(t, err, "400")
	assert.Less(t, len(err.Error()), 300+len(srv.URL), "response text is cut")
}

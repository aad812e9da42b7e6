// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logmsg

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFirstLine(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"single line unchanged", "connection refused", "connection refused"},
		{"class on the first line", "java.lang.NullPointerException: user is null\n\tat com.example.Foo.bar(Foo.java:42)\n\tat com.example.Main.run(Main.java:7)",
			"java.lang.NullPointerException: user is null"},
		{"message first, class below", "Request processing failed\norg.springframework.web.client.ResourceAccessException: I/O error\n\tat org.x.Y.z(Y.java:1)",
			"Request processing failed org.springframework.web.client.ResourceAccessException"},
		{"root cause wins", "Servlet.service() threw exception\njava.lang.RuntimeException: wrapped\n\tat a.B.c(B.java:3)\nCaused by: java.net.SocketTimeoutException: Read timed out\n\tat d.E.f(E.java:9)\n\t... 12 more",
			"Servlet.service() threw exception java.net.SocketTimeoutException"},
		{"no class", "first line\nsecond line", "first line"},
		{"leading blank lines and CRLF", "\r\n\n  boom happened  \r\n\tat x.Y.z(Y.java:1)\r\n", "boom happened"},
		{"only blank lines", "\n \n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, FirstLine(tc.in)) })
	}
}

// Two occurrences of one failure with different frames give one message.
func TestFirstLineSameFailureSameMessage(t *testing.T) {
	a := "Error handling request\njava.lang.IllegalStateException: No instances available\n\tat a.B.c(B.java:1)"
	b := "Error handling request\njava.lang.IllegalStateException: No instances available\n\tat x.Y.z(Y.java:99)\n\tat p.Q.r(Q.java:5)\n\t... 40 more"
	assert.Equal(t, FirstLine(a), FirstLine(b))
	c := "Error handling request\njava.util.concurrent.TimeoutException\n\tat a.B.c(B.java:1)"
	assert.NotEqual(t, FirstLine(a), FirstLine(c), "another exception class is another failure")
}

func BenchmarkFirstLineSingle(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		_ = FirstLine("GET /api/v1/orders 200 12ms user=42")
	}
}

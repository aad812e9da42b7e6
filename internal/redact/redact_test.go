// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "test-key"

// ph returns the placeholder of value for the test key.
func ph(kind, value string) string {
	m := hmac.New(sha256.New, []byte(testKey))
	m.Write([]byte(kind + value))
	return "<" + kind + ":" + hex.EncodeToString(m.Sum(nil)[:4]) + ">"
}

var reExpect = regexp.MustCompile(`(?s)\{\{([A-Z_]+):(.*?)\}\}`)

// expand replaces {{KIND:value}} in a wanted output by the placeholder of value.
func expand(want string) string {
	return reExpect.ReplaceAllStringFunc(want, func(m string) string {
		sm := reExpect.FindStringSubmatch(m)
		return ph(sm[1], sm[2])
	})
}

func newTest(t testing.TB, cfg Config) *Redactor {
	t.Helper()
	if cfg.HashKey == "" {
		cfg.HashKey = testKey
	}
	r, err := New(cfg)
	require.NoError(t, err)
	return r
}

type redactCase struct{ in, want string }

// runCases checks every case, its idempotence, and that no placeholder changes on a second run.
func runCases(t *testing.T, cfg Config, cases []redactCase) {
	t.Helper()
	r := newTest(t, cfg)
	for _, tc := range cases {
		want := tc.want
		if want == "" {
			want = tc.in
		} else {
			want = expand(want)
		}
		got := r.Redact(tc.in)
		assert.Equal(t, want, got, "input %q", tc.in)
		assert.Equal(t, got, r.Redact(got), "not idempotent on %q", tc.in)
	}
}

// same is a negative case: the input must come out unchanged.
func same(in string) redactCase { return redactCase{in: in} }

func TestEmail(t *testing.T) {
	runCases(t, Config{}, []redactCase{
		{"user john.doe@example.com logged in", "user {{EMAIL:john.doe@example.com}} logged in"},
		{"mailto:Jane.Roe+tag@sub.example.co.uk,", "mailto:{{EMAIL:Jane.Roe+tag@sub.example.co.uk}},"},
		{"from=alerts@corp.example.org to=ops@corp.example.org", "from={{EMAIL:alerts@corp.example.org}} to={{EMAIL:ops@corp.example.org}}"},
		{"<a.b@c.io>", "<{{EMAIL:a.b@c.io}}>"},
		{`{"email":"MARY@EXAMPLE.COM"}`, `{"email":"{{EMAIL:MARY@EXAMPLE.COM}}"}`},
		{"end of sentence: x_y@mail.example.com.", "end of sentence: {{EMAIL:x_y@mail.example.com}}."},
		same("java.lang.Object@6d06d69c"),
		same("npm install lodash@4.17.21 @types/node@20.1.0"),
		same("pulled nginx@sha256:0123abcd4567ef"),
		same("@channel deploy done"),
		same("login as user@localhost"),
		same("ssh deploy@10.0.0.5 -p 22"),
		same("git clone git@github.com:org/repo.git"),
		same("fetch ssh://deploy@build.example.com/repo"),
		same("a @ b.com and c@ d.com"),
	})
}

func TestURLPassword(t *testing.T) {
	runCases(t, Config{}, []redactCase{
		{"postgres://app:pa55word@db:5432/x", "postgres://app:{{URLPASS:pa55word}}@db:5432/x"},
		{"redis://:secretpw@cache:6379/0", "redis://:{{URLPASS:secretpw}}@cache:6379/0"},
		{"amqp://guest:gu3st@rabbit/vhost", "amqp://guest:{{URLPASS:gu3st}}@rabbit/vhost"},
		{"https://u:p@ss:w@host.example.com/path", "https://u:{{URLPASS:p@ss:w}}@host.example.com/path"},
		{`dsn="mysql://root:r00t!@tcp-db.internal:3306/app"`, `dsn="mysql://root:{{URLPASS:r00t!}}@tcp-db.internal:3306/app"`},
		{"mongodb+srv://admin:M0ng0@cluster0.example.net/test", "mongodb+srv://admin:{{URLPASS:M0ng0}}@cluster0.example.net/test"},
		same("https://example.com:8443/path?q=1"),
		same("GET http://host:8080/a@b HTTP/1.1"),
		same("https://user@example.com/x"),
		same("ftp://files.example.com:21/pub/"),
	})
}

const testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

func TestJWT(t *testing.T) {
	unsigned := "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."
	runCases(t, Config{}, []redactCase{
		{"token " + testJWT + " accepted", "token {{JWT:" + testJWT + "}} accepted"},
		{"GET /cb?id_token=" + testJWT + "&state=x", "GET /cb?id_token={{JWT:" + testJWT + "}}&state=x"},
		{"Authorization: Bearer " + testJWT, "Authorization: Bearer {{JWT:" + testJWT + "}}"},
		{"alg none " + unsigned, "alg none {{JWT:" + unsigned + "}}"},
		same("eyJ alone"),
		same("value eyJabc.def is not a token"),
		same("heyJude.mp3.tar"),
	})
}

func TestTokens(t *testing.T) {
	tokens := []string{
		"sk-proj-4fT9xQ2mLp8RzW1vN6bY3cK7hJ0dS5aE",
		"sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
		"sk-1234567890abcdefghijABCDEFGHIJ",
		"AKIAIOSFODNN7EXAMPLE",
		"ASIAY34FZKBOKMUTVV7A",
		"ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s0K",
		"gho_16C7e42F292c6912E7710c838347Ae178B4a",
		"ghs_16C7e42F292c6912E7710c838347Ae178B4a",
		"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
		"xoxb-2048-1234567890-AbCdEfGhIjKlMnOpQrStUvWx",
		"xoxp-1234-5678-90ab-cdef1234",
		"xapp-1-A0123456789-0123456789-abcdef",
		"glpat-xY7zA9bC3dE5fG1hI2jK",
		"AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
		"sk_live_51H8xYzAbCdEfGhIjKlMnOpQr",
		"rk_live_51H8xYzAbCdEfGhIjKlMnOpQr",
	}
	var cases []redactCase
	for _, tok := range tokens {
		cases = append(cases, redactCase{"using " + tok + " now", "using {{SECRET:" + tok + "}} now"})
	}
	cases = append(cases,
		same("started task-manager-1234567890abcdefghij"),
		same("host sk-prod-cluster-node-01.example.com is up"),
		same("AKIAEXAMPLE is too short"),
		same("ghp_short"),
		same("the disk_live_ partition"),
		same("xoxb- alone"),
		same("AKIAIOSFODNN7EXAMPLEXYZ is too long"),
	)
	runCases(t, Config{}, cases)
}

func TestBearerAndAuthorization(t *testing.T) {
	runCases(t, Config{}, []redactCase{
		{"Authorization: Bearer abc.def-ghi_123", "Authorization: Bearer {{SECRET:abc.def-ghi_123}}"},
		{"authorization=Bearer xyz12345", "authorization=Bearer {{SECRET:xyz12345}}"},
		{"Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: Basic {{SECRET:dXNlcjpwYXNz}}"},
		{"Authorization: Token abc123def", "Authorization: Token {{SECRET:abc123def}}"},
		{"Authorization: opaque-value-42", "Authorization: {{SECRET:opaque-value-42}}"},
		{`-H "Authorization: Bearer t0k3n" -X POST`, `-H "Authorization: Bearer {{SECRET:t0k3n}}" -X POST`},
		{`{"headers":{"authorization":"Bearer q1w2e3r4"}}`, `{"headers":{"authorization":"Bearer {{SECRET:q1w2e3r4}}"}}`},
		{"upstream header Bearer 0123456789abcdef sent", "upstream header Bearer {{SECRET:0123456789abcdef}} sent"},
		{"sending basic dXNlcjpwYXNz upstream", "sending basic {{SECRET:dXNlcjpwYXNz}} upstream"},
		same("Basic authentication failed for user bob"),
		same("Bearer token expired, refreshing"),
		same(`WWW-Authenticate: Bearer realm="example"`),
		same(`WWW-Authenticate: Basic realm="api"`),
		same("Authorization: Bearer"),
		same("basic block layout completed"),
	})
}

func TestKeyValueSecrets(t *testing.T) {
	runCases(t, Config{}, []redactCase{
		{"password=hunter2", "password={{SECRET:hunter2}}"},
		{"PASSWORD: hunter2 next", "PASSWORD: {{SECRET:hunter2}} next"},
		{"Password: hunter2", "Password: {{SECRET:hunter2}}"},
		{`{"api_key":"abc123xyz"}`, `{"api_key":"{{SECRET:abc123xyz}}"}`},
		{`{"apiKey": "abc123xyz", "n": 1}`, `{"apiKey": "{{SECRET:abc123xyz}}", "n": 1}`},
		{"db_passwd=x1y2z3 host=db", "db_passwd={{SECRET:x1y2z3}} host=db"},
		{"pwd=s3cr3t", "pwd={{SECRET:s3cr3t}}"},
		{`'secret' => 'shh-123'`, `'secret' => '{{SECRET:shh-123}}'`},
		{"client_secret=abcDEF123&grant_type=client_credentials", "client_secret={{SECRET:abcDEF123}}&grant_type=client_credentials"},
		{"access_key: 0a1b2c3d", "access_key: {{SECRET:0a1b2c3d}}"},
		{"private_key=MIIBOgIBAAJBAK", "private_key={{SECRET:MIIBOgIBAAJBAK}}"},
		{"auth=user:pass", "auth={{SECRET:user:pass}}"},
		{"credentials: c2VjcmV0", "credentials: {{SECRET:c2VjcmV0}}"},
		{"session=abc123; Path=/", "session={{SECRET:abc123}}; Path=/"},
		{"X-Auth-Token: tok123", "X-Auth-Token: {{SECRET:tok123}}"},
		{`password="with spaces inside" user=bob`, `password="{{SECRET:with spaces inside}}" user=bob`},
		{"GET /login?user=bob&password=hunter2&next=/ HTTP/1.1", "GET /login?user=bob&password={{SECRET:hunter2}}&next=/ HTTP/1.1"},
		{"token = abc123", "token = {{SECRET:abc123}}"},
		{`{\"token\":\"abc\"}`, `{\"token\":\"{{SECRET:abc}}\"}`},
		{"SESSIONID=xyz; Path=/", "SESSIONID={{SECRET:xyz}}; Path=/"},
		{"--password=p4ss -u root", "--password={{SECRET:p4ss}} -u root"},
		{"secret_key:=k3y", "secret_key:={{SECRET:k3y}}"},
		{"password2=again", "password2={{SECRET:again}}"},
		{`password="unterminated`, `password="{{SECRET:unterminated}}`},
		{"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key={{SECRET:wJalrXUtnFEMI/K7MDENG}}"},
		same("password="),
		same("password: "),
		same("password=true auth=none token: null"),
		same(`{"password":"","token":null}`),
		same("password=******** secret=[REDACTED]"),
		same("PWD=/home/user OLDPWD=~/src"),
		same("password=${DB_PASSWORD}"),
		same("auth: {user: x}"),
		same("max_tokens=512 prompt_tokens: 123 completion_tokens=45"),
		same("tokenizer=bpe author=alice secretary=bob"),
		same("session_timeout=30m password_min_length=12"),
		same("INFO SparkSession: Created session"),
		same("INFO SessionManager: session expired"),
		same("INFO org.apache.hadoop.security.token.Token: Cannot find class for token kind kms-dt"),
		same("cat: /etc/passwd: No such file or directory"),
		same("if password == expected { ok }"),
		same("token != nil"),
		same("2024-01-01 12:00:00 DEBUG AuthFilter: Authorization header missing"),
		same("auth_method=password"),
	})
}

func TestCards(t *testing.T) {
	runCases(t, Config{}, []redactCase{
		{"card 4111111111111111 ok", "card {{CARD:4111111111111111}} ok"},
		{"card=4111-1111-1111-1111", "card={{CARD:4111-1111-1111-1111}}"},
		{"card 4111 1111 1111 1111, exp 12/27", "card {{CARD:4111 1111 1111 1111}}, exp 12/27"},
		{"amex 378282246310005", "amex {{CARD:378282246310005}}"},
		{"amex 3782 822463 10005", "amex {{CARD:3782 822463 10005}}"},
		{"mc:5555555555554444", "mc:{{CARD:5555555555554444}}"},
		{"discover 6011111111111117", "discover {{CARD:6011111111111117}}"},
		{"mc2 2221000000000009", "mc2 {{CARD:2221000000000009}}"},
		{"diners 30569309025904", "diners {{CARD:30569309025904}}"},
		{"visa13 4222222222222", "visa13 {{CARD:4222222222222}}"},
		{"cards 4111111111111111,5555555555554444", "cards {{CARD:4111111111111111}},{{CARD:5555555555554444}}"},
		{"order 1234 4111 1111 1111 1111", "order 1234 {{CARD:4111 1111 1111 1111}}"},
		{"4111 1111 1111 1111 2024", "{{CARD:4111 1111 1111 1111}} 2024"},
		{`{"pan":"5105105105105100"}`, `{"pan":"{{CARD:5105105105105100}}"}`},
		same("card 4111111111111112 fails luhn"),
		same("card 4111-1111-1111-1112"),
		same("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_-1608999687919862906 terminating"),
		same("Receiving block blk_38865049064139660 src: /10.250.19.102:54106"),
		same("ts=1709288100123 us=1709288100123456 ns=1709288100123456789"),
		same("id 1234567812345670 passes luhn but no issuer"),
		same("ratio 0.4111111111111111"),
		same("amount 4111111111111111.50"),
		same("v4111111111111111 blk_4111111111111111 x-4111111111111111"),
		same("trace 12345678-1234-1234-1234-123456789012"),
		same("took 1234 ms, 5678 rows, 9012 bytes, 3456 files"),
		same("4111 1111 1111"),
	})
}

func TestPhones(t *testing.T) {
	runCases(t, Config{}, []redactCase{
		{"call +14155552671 now", "call {{PHONE:+14155552671}} now"},
		{"sms to +1 415 555 2671.", "sms to {{PHONE:+1 415 555 2671}}."},
		{"uk +44 20 7946 0958", "uk {{PHONE:+44 20 7946 0958}}"},
		{"de +49-30-1234567", "de {{PHONE:+49-30-1234567}}"},
		{"us +1 (415) 555-2671", "us {{PHONE:+1 (415) 555-2671}}"},
		{"tel:+33 1 23 45 67 89", "tel:{{PHONE:+33 1 23 45 67 89}}"},
		{"number (555) 123-4567, agent", "number {{PHONE:(555) 123-4567}}, agent"},
		{"number (555)123-4567", "number {{PHONE:(555)123-4567}}"},
		{"contact 555-123-4567", "contact {{PHONE:555-123-4567}}"},
		{"contact 555.123.4567", "contact {{PHONE:555.123.4567}}"},
		{"toll free 1-800-555-0199", "toll free {{PHONE:1-800-555-0199}}"},
		{`{"phone":"212-555-0100"}`, `{"phone":"{{PHONE:212-555-0100}}"}`},
		same("date 2024-01-15 time 10:30:45"),
		same("connect 192.168.1.1 port 8080"),
		same("took 1234567 ms"),
		same("2024-01-15T10:00:00+01:00 offset +0100"),
		same("version v1.2.3 build 1.5e+10"),
		same("call 5551234567 bare digits"),
		same("127.0.0.1:8080"),
		same("stage 12.0 (TID 345) in 1234 ms"),
		same("at org.apache.Foo.bar(Foo.java:123)"),
		same("id=123-456-78901 ref=12-345-6789"),
		same("uuid 12345678-1234-1234-1234-123456789012"),
		same("ver 100.200.3000.4"),
		same("total +1234567 rows"),
		same("since +2024-01-15"),
	})
}

const testRSAKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bqZq3xY8wPvK2JmN5rT9sLdF4hG6jK1lMnOpQrStUvWxYz\nqwErTyUiOpAsDfGhJkLz==\n-----END RSA PRIVATE KEY-----"

func TestPrivateKeys(t *testing.T) {
	ec := "-----BEGIN EC PRIVATE KEY-----\r\nMHcCAQEEIBkg4Lq\r\n-----END EC PRIVATE KEY-----"
	ossh := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
	enc := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----"
	escaped := `-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----`
	pgp := "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0x\n-----END PGP PRIVATE KEY BLOCK-----"
	truncated := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7"
	cert := "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----"
	pub := "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"
	runCases(t, Config{}, []redactCase{
		{"loaded " + testRSAKey + " ok", "loaded {{PRIVATE_KEY:" + testRSAKey + "}} ok"},
		{"k=" + ec, "k={{PRIVATE_KEY:" + ec + "}}"},
		{ossh, "{{PRIVATE_KEY:" + ossh + "}}"},
		{enc + "\ndone", "{{PRIVATE_KEY:" + enc + "}}\ndone"},
		{`{"key":"` + escaped + `","kid":"k1"}`, `{"key":"{{PRIVATE_KEY:` + escaped + `}}","kid":"k1"}`},
		{pgp, "{{PRIVATE_KEY:" + pgp + "}}"},
		{"log truncated: " + truncated, "log truncated: {{PRIVATE_KEY:" + truncated + "}}"},
		{"two " + ossh + " and " + ec, "two {{PRIVATE_KEY:" + ossh + "}} and {{PRIVATE_KEY:" + ec + "}}"},
		same(cert),
		same(pub),
		same("-----BEGIN PRIVATE KEY without dashes"),
	})
}

func TestIPs(t *testing.T) {
	runCases(t, Config{IPs: true}, []redactCase{
		{"connect 10.0.0.1 ok", "connect {{IP:10.0.0.1}} ok"},
		{"peer 192.168.1.254:8080 closed", "peer {{IP:192.168.1.254}}:8080 closed"},
		{"net 10.0.0.0/8.", "net {{IP:10.0.0.0}}/8."},
		{"v6 2001:db8::1 up", "v6 {{IP:2001:db8::1}} up"},
		{"[fe80::1%eth0]:443", "[{{IP:fe80::1}}%eth0]:443"},
		{"lo ::1", "lo {{IP:::1}}"},
		{"mapped ::ffff:192.0.2.1", "mapped {{IP:::ffff:192.0.2.1}}"},
		{"full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full {{IP:2001:0db8:85a3:0000:0000:8a2e:0370:7334}}"},
		{`{"ip":"203.0.113.7"}`, `{"ip":"{{IP:203.0.113.7}}"}`},
		same("version 1.2.3 and v1.2.3.4"),
		same("at 12:34:56 mac 00:1a:2b:3c:4d:5e"),
		same("bad 999.1.1.1 and 1.2.3.4.5"),
		same("std::vector<int> Foo::Bar"),
		same("2024-01-15T10:30:00Z"),
		same("deadbeef cafe :: done"),
	})
	runCases(t, Config{}, []redactCase{
		same("connect 10.0.0.1:5432 from 2001:db8::1"),
	})
}

func TestUserPatterns(t *testing.T) {
	runCases(t, Config{Patterns: []string{`EMP-\d{6}`, `customer=(\w+)`, `(?i)acct-(\d+)?`, `x*`}}, []redactCase{
		{"employee EMP-123456 left", "employee {{REDACTED:EMP-123456}} left"},
		{"customer=acme42 bought", "customer={{REDACTED:acme42}} bought"},
		{"ACCT-991 and acct-", "ACCT-{{REDACTED:991}} and acct-"},
		same("abc nothing here"),
	})
	// A pattern that would match inside placeholders must not break idempotence.
	runCases(t, Config{Patterns: []string{`\d+`}}, []redactCase{
		{"order 12345 for bob@example.com", "order {{REDACTED:12345}} for {{EMAIL:bob@example.com}}"},
	})
}

func TestValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	require.NoError(t, Config{Patterns: []string{`a+`, `(b)`}}.Validate())

	err := Config{Patterns: []string{`ok`, `(unclosed`}}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "patterns[1]")

	err = Config{Patterns: []string{``}}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "patterns[0]")

	_, err = New(Config{Patterns: []string{`a`, `b`, `[z-a]`}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "patterns[2]")
}

var rePlaceholder = regexp.MustCompile(`<[A-Z_]+:[0-9a-f]{8}>`)

func TestPseudonyms(t *testing.T) {
	r := newTest(t, Config{})
	a1 := r.Redact("login failed for alice@example.com")
	a2 := r.Redact("alice@example.com: too many attempts")
	b := r.Redact("login failed for bob@example.com")

	pa1 := rePlaceholder.FindString(a1)
	pa2 := rePlaceholder.FindString(a2)
	pb := rePlaceholder.FindString(b)
	assert.Equal(t, ph("EMAIL", "alice@example.com"), pa1, "HMAC-SHA256(key, kind+value), first 4 bytes")
	assert.Equal(t, pa1, pa2, "same value, same placeholder")
	assert.NotEqual(t, pa1, pb, "different value, different placeholder")

	both := r.Redact("alice@example.com -> alice@example.com")
	assert.Equal(t, pa1+" -> "+pa1, both)

	// The kind is part of the hashed text.
	s := r.Redact("password=alice@example.com")
	assert.NotContains(t, s, pa1)

	other := newTest(t, Config{HashKey: "another-key"})
	assert.NotEqual(t, a1, other.Redact("login failed for alice@example.com"), "different key, different placeholder")

	rnd1, err := New(Config{})
	require.NoError(t, err)
	rnd2, err := New(Config{})
	require.NoError(t, err)
	x := rnd1.Redact("mail carol@example.com")
	assert.Equal(t, x, rnd1.Redact("mail carol@example.com"), "random key is stable within a Redactor")
	assert.NotEqual(t, x, rnd2.Redact("mail carol@example.com"), "random keys differ")
	assert.Regexp(t, `^mail <EMAIL:[0-9a-f]{8}>$`, x)
}

func TestCorpusRedacted(t *testing.T) {
	lines, secrets := TestCorpus()
	require.GreaterOrEqual(t, len(lines), 30)
	for _, s := range secrets {
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, s)
		}
		assert.True(t, found, "secret %q is not in the corpus", s)
	}
	for _, cfg := range []Config{{}, {IPs: true}, {HashKey: "k", Patterns: []string{`\d{4}`}}} {
		r := newTest(t, cfg)
		for _, l := range lines {
			got := r.Redact(l)
			assert.NotEqual(t, l, got)
			assert.True(t, rePlaceholder.MatchString(got))
			for _, s := range secrets {
				assert.NotContains(t, got, s, "line %q", l)
			}
			assert.Equal(t, got, r.Redact(got), "idempotence on %q", l)
		}
	}
	// Fresh copies: callers may modify them.
	lines[0] = "changed"
	again, _ := TestCorpus()
	assert.NotEqual(t, "changed", again[0])
}

// cleanLines are ordinary log lines that must come out unchanged.
var cleanLines = []string{
	"081109 203518 143 INFO dfs.DataNode$DataXceiver: Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010",
	"081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-6952295868487656571 terminating",
	"081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864",
	"081110 103230 30 INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/_task_200811092030_0001_m_000590_0/part-00590. blk_-1727475099218615100",
	"17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
	"17/06/09 20:10:41 INFO spark.SecurityManager: Changing view acls to: yarn,curi",
	"17/06/09 20:10:46 INFO storage.BlockManager: Found block rdd_42_20 locally",
	"17/06/09 20:11:11 INFO executor.Executor: Finished task 1.0 in stage 4.0 (TID 161). 2167 bytes result sent to driver",
	"17/06/09 20:10:46 INFO spark.MapOutputTrackerWorker: Got the output locations",
	"INFO SparkSession: Created SparkSession with spark.sql.shuffle.partitions=200",
	"java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"s\" is null",
	"\tat com.example.service.OrderService.process(OrderService.java:142)",
	"\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
	"Caused by: java.net.SocketTimeoutException: Read timed out after 30000 ms",
	"2024-03-01 10:15:00,123 ERROR [main] o.a.k.c.NetworkClient: [Consumer clientId=consumer-1, groupId=g1] Connection to node 3 (kafka-3/10.0.0.13:9092) could not be established",
	`10.1.2.3 - - [01/Mar/2024:10:15:01 +0000] "GET /api/v1/items?page=2&limit=50 HTTP/1.1" 200 5123 "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"`,
	`192.168.0.7 - alice [10/Oct/2023:13:55:36 -0700] "POST /upload HTTP/2.0" 413 0 "-" "curl/8.4.0" rt=0.123 uct="0.001" uht="0.120"`,
	"2024-03-01T10:15:00.123456789Z level=info msg=\"request served\" method=GET path=/healthz status=200 duration=1.234ms trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
	`{"ts":1709288100.123,"level":"warn","msg":"slow query took 1234 ms","rows":5678,"request_id":"550e8400-e29b-41d4-a716-446655440000"}`,
	"kubelet: Successfully pulled image \"registry.k8s.io/pause:3.9\" in 1.234s (1.234s including waiting)",
	"E0301 10:15:00.123456    1234 reflector.go:147] k8s.io/client-go@v0.29.0/tools/cache/reflector.go:229: Failed to watch *v1.Pod",
	"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 pushed, version 1.2.3, build 20240301.1",
	"GC pause (G1 Evacuation Pause) 512M->128M(1024M) 12.345ms uptime 123456s",
	"worker-7 processed 1234567 events in 00:01:02.345 (19876.5/s), max_tokens=4096 tokens_used: 1234",
	"session_timeout=30m token_ttl=3600 auth_method=oidc password_policy=strong",
	"Starting Session 42 of user root.",
	"connection pool: active=12 idle=3 waiters=0 wait_time_ms=1234",
	"user 1000 ran: /usr/bin/python3 -m pip install requests==2.31.0",
	"metrics: cpu=0.75 mem=1234567890 disk=45.6% net_rx=9876543210",
	"retrying in 1500ms (attempt 3/5) after 503 from upstream http://orders:8080/v1/orders",
	`Exception in thread "main" java.lang.RuntimeException: Token expired`,
	`level=debug msg="token refreshed" expires_in=3599 auth: ok session: expired`,
	`MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found`,
	"INFO SecurityManager: SecurityManager: authentication disabled; ui acls disabled; users  with view permissions: Set(root)",
	"HTTP/1.1 401 Unauthorized: invalid token",
	`{"usage":{"tokens":{"prompt":120,"completion":30}},"model":"gpt-4o-mini"}`,
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"Mar  1 10:15:00 host sshd[1234]: Failed password for invalid user admin from 198.51.100.4 port 22 ssh2",
	"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.4",
	"pam_unix(sshd:session): session opened for user root by (uid=0)",
	"LOG:  connection authorized: user=app database=app application_name=psql",
	"duration: 0.123 ms  statement: SELECT * FROM users WHERE email = $1 AND password_hash = $2",
	`2024/03/01 10:15:00 [error] 1234#0: *5678 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: example.com, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "example.com"`,
	`Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed for user "app"`,
	"at sun.reflect.GeneratedMethodAccessor123.invoke(Unknown Source)",
}

func TestCleanLinesUnchanged(t *testing.T) {
	for _, cfg := range []Config{{}, {HashKey: "k"}} {
		r := newTest(t, cfg)
		for _, l := range cleanLines {
			got := r.Redact(l)
			assert.Equal(t, l, got)
			assert.Equal(t, unsafe.StringData(l), unsafe.StringData(got), "clean input is returned as is")
		}
		assert.Zero(t, r.Count())
	}
}

func TestCleanLinesDoNotAllocate(t *testing.T) {
	r := newTest(t, Config{})
	for _, l := range cleanLines {
		allocs := testing.AllocsPerRun(20, func() { _ = r.Redact(l) })
		assert.Zero(t, allocs, "line %q", l)
	}
}

func TestCount(t *testing.T) {
	r := newTest(t, Config{})
	assert.Zero(t, r.Count())
	r.Redact("a@example.com b@example.com password=x1")
	assert.Equal(t, uint64(3), r.Count())
	r.Redact("nothing here")
	assert.Equal(t, uint64(3), r.Count())
	out := r.Redact("a@example.com")
	r.Redact(out)
	assert.Equal(t, uint64(4), r.Count(), "placeholders are not counted again")

	var none *Redactor
	assert.Equal(t, "a@example.com", none.Redact("a@example.com"), "nil Redactor is a no-op")
	assert.Zero(t, none.Count())
}

func TestEdgeInputs(t *testing.T) {
	r := newTest(t, Config{IPs: true, Patterns: []string{`(z)?`}})
	for _, in := range []string{
		"", "=", ":", "@", "+", "(", "<", "<EMAIL:", "<EMAIL:0123456>", "<EMAIL:01234567>", "<NOPE:01234567>",
		"password=\xff\xfe", "\xff@\xfe.com", "a@b.c\xff", "-----BEGIN PRIVATE KEY-----\xff",
		"+1 (", "(555) ", "4111 1111 1111 1111 ", "\"password\":\"\\", `\"password\":\"x`,
		"eyJ\xff.eyJ.", "https://:@", "::", "1.1.1.1.", "password=<SECRET:00000000>tail",
		strings.Repeat("password=", 100), strings.Repeat("1", 1000), strings.Repeat("a@b.co ", 200),
		strings.Repeat("4111 ", 50), strings.Repeat("+1 ", 40), strings.Repeat(":", 300),
	} {
		got := r.Redact(in)
		assert.Equal(t, got, r.Redact(got), "idempotence on %q", in)
		if utf8.ValidString(in) {
			assert.True(t, utf8.ValidString(got), "%q -> %q", in, got)
		}
	}
	assert.Equal(t, "<EMAIL:01234567>", r.Redact("<EMAIL:01234567>"), "an existing placeholder is kept")
}

func TestConcurrent(t *testing.T) {
	r := newTest(t, Config{IPs: true})
	lines, secrets := TestCorpus()
	want := make([]string, len(lines))
	for i, l := range lines {
		want[i] = r.Redact(l)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				for i, l := range lines {
					if got := r.Redact(l); got != want[i] {
						t.Errorf("unstable output for %q", l)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, w := range want {
		for _, s := range secrets {
			assert.NotContains(t, w, s)
		}
	}
}

// TestLargeInputs guards against super-linear behaviour on long, repetitive lines (a quadratic
// scan would take minutes here).
func TestLargeInputs(t *testing.T) {
	r := newTest(t, Config{IPs: true, Patterns: []string{`\d{3,}`}})
	for _, unit := range []string{
		"password=", "a@b.co ", "4111 ", "+1 ", ":", "<SECRET:00000000>", `password="`, "eyJaaaa.",
		"-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "http://a:b@", "1.2.3.4 ", "::1 ",
		"(555) 123-4567 ", "Bearer ", `"token":"\`, "sk-", "x@y.",
	} {
		s := strings.Repeat(unit, 64<<10/len(unit))
		got := r.Redact(s)
		assert.Equal(t, got, r.Redact(got), "idempotence on %q repeated", unit)
	}
}

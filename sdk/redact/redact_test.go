package redact

import (
	"strings"
	"testing"
)

func newDefault(t testing.TB) *Redactor {
	r, err := New(Default())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSecrets: realistic lines with secrets, and what must be left of them.
func TestSecrets(t *testing.T) {
	r := newDefault(t)
	for _, c := range []struct{ in, want string }{
		{`login ok user=alice password=hunter2 ip=10.0.0.1`, `login ok user=alice password=<redacted> ip=10.0.0.1`},
		{`{"user":"bob","password":"s3cr3t!","retry":1}`, `{"user":"bob","password":"<redacted>","retry":1}`},
		{`db_password: 'p@ss w0rd' host=db`, `db_password: '<redacted>' host=db`},
		{`X-Api-Key=abcdef123456&page=2`, `X-Api-Key=<redacted>&page=2`},
		{`client_secret="a\"b" next`, `client_secret="<redacted>" next`},
		{`Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig-nature_xyz`, `Authorization: <redacted>`},
		{`calling upstream with header Bearer abcdefgh12345678 failed`, `calling upstream with header Bearer <redacted> failed`},
		{`proxy auth Basic dXNlcjpwYXNzd29yZA== rejected`, `proxy auth Basic <redacted> rejected`},
		{`token in url ?jwt=x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end`, `token in url ?jwt=x <redacted> end`},
		{`charge failed for card 4111 1111 1111 1111 (visa)`, `charge failed for card **** **** **** 1111 (visa)`},
		{`card=5500-0000-0000-0004;`, `card=****-****-****-0004;`},
		{`pan 378282246310005 declined`, `pan ***********0005 declined`},
		{`using key sk_live_51Hd8sKJf9sdfkj3kjsdf8s7df in prod`, `using key sk_live_<redacted> in prod`},
		{`push with ghp_16C7e42F292c6912E7710c838347Ae178B4a`, `push with ghp_<redacted>`},
		{`aws AKIAIOSFODNN7EXAMPLE region`, `aws AKIA<redacted> region`},
		{`slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp`, `slack xoxb-<redacted>`},
		{`maps AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe ok`, `maps AIza<redacted> ok`},
		{`mail sent to jane.doe+shop@example.co.uk.`, `mail sent to ***@example.co.uk.`},
		{`from <ops@horus.dev>, cc a_b@x.io`, `from <***@horus.dev>, cc ***@x.io`},
	} {
		got, changed := r.Text(c.in)
		if got != c.want || !changed {
			t.Errorf("%s\n got  %s (changed %v)\n want %s", c.in, got, changed, c.want)
		}
		// Redacting again changes nothing.
		if again, changed := r.Text(got); changed {
			t.Errorf("redacting %q again gave %q", got, again)
		}
	}
}

// TestUntouched: lines without secrets come back as they are.
func TestUntouched(t *testing.T) {
	r := newDefault(t)
	for _, in := range []string{
		`GET /api/orders/1234567890123 200 12ms`, // an id, not a card (Luhn fails)
		`order 4111111111111112 shipped`,         // 16 digits, Luhn fails
		`trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7`,
		`ts=2026-11-25T12:00:00.123456789Z level=info msg="cache hit" ratio=0.93`,
		`phone +1 415 555 0100 called`,
		`password_policy updated`,          // a secret key without a value
		`tokens: 1234 used of 5000 budget`, // "tokens" counts, the value is short and numeric... still a key
		`the user @alice mentioned @bob`,
		`version 1.2.3 build eyJ`,
		`sk-short not a key`,
		`uuid 123e4567-e89b-12d3-a456-426614174000`,
		`amount=4200 currency=EUR`,
		`Basic auth disabled`,
		`bearer tokens are rotated daily`,
	} {
		if got, changed := r.Text(in); changed {
			if in == `tokens: 1234 used of 5000 budget` {
				continue // a key named like a secret: masked by design
			}
			t.Errorf("%s\n changed to %s", in, got)
		}
	}
}

// TestValue masks whole values of secret-named attributes.
func TestValue(t *testing.T) {
	r := newDefault(t)
	for _, c := range []struct{ key, value, want string }{
		{"db.password", "hunter2", Mask},
		{"http.request.header.authorization", "Bearer abc", Mask},
		{"Set-Cookie", "sid=123", Mask},
		{"user.email", "ann@example.com", "***@example.com"},
		{"http.route", "/api/pay", "/api/pay"},
		{"card", "4111-1111-1111-1111", "****-****-****-1111"},
	} {
		if got, _ := r.Value(c.key, c.value); got != c.want {
			t.Errorf("%s=%s: %s, want %s", c.key, c.value, got, c.want)
		}
	}
}

// TestRules: custom rules apply after the detectors; bad rules are refused.
func TestRules(t *testing.T) {
	cfg := Default()
	cfg.Rules = []Rule{{Name: "iban", Pattern: `\bDE\d{2}(?:\s?\d{4}){4}\s?\d{2}\b`, Replace: "DE<iban>"}}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Text("refund to DE89 3704 0044 0532 0130 00 today"); got != "refund to DE<iban> today" {
		t.Errorf("custom rule: %s", got)
	}
	for _, bad := range []Rule{{Name: "x", Pattern: "("}, {Name: "empty", Pattern: "a*"}} {
		cfg.Rules = []Rule{bad}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), bad.Name) {
			t.Errorf("rule %+v: %v, want an error naming it", bad, err)
		}
	}
	off, _ := New(Config{})
	if got, changed := off.Text("password=x 4111 1111 1111 1111"); changed {
		t.Errorf("zero config changed %q", got)
	}
}

// FuzzText: redaction never panics, and what it returns stays put.
func FuzzText(f *testing.F) {
	for _, s := range []string{"password=x", "4111 1111 1111 1111", "a@b.co", "Bearer abcdefghij", "sk_live_0123456789abcdef0", "eyJa.eyJb.c", `"token":"`} {
		f.Add(s)
	}
	r := newDefault(f)
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := r.Text(s)
		if again, changed := r.Text(out); changed {
			t.Fatalf("%q → %q → %q", s, out, again)
		}
	})
}

// FuzzTriggers checks that the triggers pre-pass never skips a detector
// that would have found something.
func FuzzTriggers(f *testing.F) {
	for _, s := range []string{"password=x", "4111 1111 1111 1111", "a@b.co", "Bearer abcdefghij", "sk_live_0123456789abcdef0",
		"SG.0123456789012345678901234567890123456789", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", `"token":"`} {
		f.Add(s)
	}
	r := newDefault(f)
	all := triggers{seps: 1, ats: 1, dots: 2, digits: 13, spaced: 1, maxRun: 1 << 30}
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := r.Text(s)
		if want, _ := r.text(s, all); got != want {
			t.Fatalf("%q: with the pre-pass %q, with every detector %q", s, got, want)
		}
	})
}

// BenchmarkText measures redaction per log line, on lines like the
// benchmark generator's with and without secrets.
func BenchmarkText(b *testing.B) {
	r := newDefault(b)
	lines := []string{
		`{"ts":"2026-11-25T12:00:00.123Z","level":"info","service":"checkout","msg":"order placed","order_id":"o-12345","user_id":"u-998","duration_ms":41,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
		`{"ts":"2026-11-25T12:00:00.124Z","level":"warn","service":"payments","msg":"card declined","card":"4111 1111 1111 1111","email":"ann@example.com","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
		`ts=2026-11-25T12:00:00.125Z level=error msg="upstream auth failed" header="Bearer abcdefgh12345678" retry=3`,
		`GET /api/v1/items?page=2 200 12ms ua="Mozilla/5.0 (X11; Linux x86_64)" ip=10.1.2.3`,
	}
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	b.SetBytes(int64(n / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Text(lines[i%len(lines)])
	}
}

// secretKeyReference is SecretKey as its documentation says it: the key,
// normalised, contains a normalised secret key name.
func secretKeyReference(names []string, key string) bool {
	n := normKey(key)
	for _, k := range names {
		if strings.Contains(n, normKey(k)) {
			return true
		}
	}
	return false
}

// TestSecretKey: keys that contain a secret name anywhere, in any case and
// with separators, and keys that come close without one.
func TestSecretKey(t *testing.T) {
	r := newDefault(t)
	names := Default().SecretKeys
	for _, c := range []struct {
		key  string
		want bool
	}{
		{"password", true}, {"db.password", true}, {"X-PASS-WORD", true}, {"user_pwd_hash", true},
		{"http.request.header.authorization", true}, {"Set-Cookie", true}, {"x_api_key", true},
		{"client.secret", true}, {"sessionid", true}, {"access_key_id", true}, {"ssecret", true},
		{"passwor", false}, {"payment_method", false}, {"user_id", false}, {"tenant_id", false},
		{"status", false}, {"pass", false}, {"tok", false}, {"", false}, {"---", false},
		{"s.e-c_r e.t", true}, {"pas\xffsword", false}, {"ÄPASSWORD", true},
	} {
		if got := r.SecretKey(c.key); got != c.want || got != secretKeyReference(names, c.key) {
			t.Errorf("SecretKey(%q) = %v, want %v", c.key, got, c.want)
		}
	}
	// Names that overlap one another (a suffix of one is the prefix of
	// another) and a custom name with bytes outside the letters.
	cfg := Config{SecretKeys: []string{"abcd", "bce", "cd", "x9ü"}}
	r2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"abce", "abcx", "xabc", "zbcd", "b-c-e", "X9Ü", "x9ü", "ab", "bc", "a.b.c.d"} {
		if got, want := r2.SecretKey(k), secretKeyReference(cfg.SecretKeys, k); got != want {
			t.Errorf("custom names: SecretKey(%q) = %v, want %v", k, got, want)
		}
	}
	if (&Redactor{}).SecretKey("password") {
		t.Error("a Redactor without names found one")
	}
}

// FuzzSecretKey checks the automaton against the reference.
func FuzzSecretKey(f *testing.F) {
	for _, s := range []string{"password", "db.Pass-Word", "payment_method", "xsessionx", "autho", "cookiE"} {
		f.Add(s)
	}
	r := newDefault(f)
	names := Default().SecretKeys
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := r.SecretKey(key), secretKeyReference(names, key); got != want {
			t.Fatalf("SecretKey(%q) = %v, reference %v", key, got, want)
		}
	})
}

// BenchmarkValue redacts the attribute values of a typical log line: short
// values under ordinary keys, nothing to mask.
func BenchmarkValue(b *testing.B) {
	r := newDefault(b)
	kvs := [][2]string{{"order_id", "ord-88121"}, {"payment_method", "card"}, {"status", "accepted"},
		{"request_id", "0af7651916cd43dd"}, {"user_id", "u-1234"}, {"tenant_id", "acme"}}
	b.ReportAllocs()
	for b.Loop() {
		for _, kv := range kvs {
			r.Value(kv[0], kv[1])
		}
	}
}

// BenchmarkSecretKey checks the keys of BenchmarkValue alone.
func BenchmarkSecretKey(b *testing.B) {
	r := newDefault(b)
	keys := []string{"order_id", "payment_method", "status", "request_id", "user_id", "tenant_id"}
	for b.Loop() {
		for _, k := range keys {
			r.SecretKey(k)
		}
	}
}

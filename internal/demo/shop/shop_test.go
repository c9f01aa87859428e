package shop

import (
	"errors"
	"math/rand/v2"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestToken: a token made by Token parses back to its user and tenant;
// a changed user, tenant or signature does not.
func TestToken(t *testing.T) {
	tok := Token("u-00042", "acme")
	user, tenant, err := parseToken(tok)
	if err != nil || user != "u-00042" || tenant != "acme" {
		t.Fatalf("parseToken(%q) = %q, %q, %v", tok, user, tenant, err)
	}
	for _, bad := range []string{
		"v1.globex.u-00042." + tok[len("v1.acme.u-00042."):], // another tenant, same signature
		"v1.acme.u-00043." + tok[len("v1.acme.u-00042."):],
		tok[:len(tok)-1] + "0",
		"v2" + tok[2:],
		"", "v1..u.x", "Bearer " + tok,
	} {
		if _, _, err := parseToken(bad); !errors.Is(err, errBadToken) {
			t.Errorf("parseToken(%q) = %v, want errBadToken", bad, err)
		}
	}
}

// TestRiskScore: fraud-check refuses a small share of the load's payments
// (more of large ones and of gift cards), and the same payment always
// gets the same score.
func TestRiskScore(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	denied, n := 0, 20000
	for i := range n {
		user := "u-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		amount := int64(500 + r.IntN(20000)) // $5 to $205
		if riskScore(user, amount, "card") >= denyScore {
			denied++
		}
	}
	if share := float64(denied) / float64(n); share > 0.02 {
		t.Errorf("%.2f%% of card payments of $5-$205 denied, want at most 2%%", 100*share)
	}
	if riskScore("u-1", 500_00, "gift_card") <= riskScore("u-1", 500_00, "card") ||
		riskScore("u-1", 5000_00, "card") <= riskScore("u-1", 50_00, "card") {
		t.Error("a gift card or a larger amount does not raise the score")
	}
	if riskScore("u-9", 1234, "paypal") != riskScore("u-9", 1234, "paypal") {
		t.Error("the score is not a function of the payment")
	}
}

// TestRefuseAndListenAgain: stopListening makes a listening socket refuse
// connections (ECONNREFUSED) while its port stays bound, listenAgain makes
// it accept again on the same address, and a socket bound to port 0 is
// not used (it would lose its port).
func TestRefuseAndListenAgain(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("refusing on a shared socket is Linux's shutdown(2) of a listening socket")
	}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	_ = probe.Close()
	ln, err := net.Listen("tcp", addr) // an explicit port, as the demo binds
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	_ = ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dial := func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("before: %v", err)
	}
	if err := stopListening(f); err != nil {
		t.Fatal(err)
	}
	if err := dial(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("while refusing: %v, want connection refused", err)
	}
	if err := listenAgain(f); err != nil {
		t.Fatal(err)
	}
	if got := fileAddr(f); got != addr {
		t.Fatalf("listening again on %s, want %s", got, addr)
	}
	if err := dial(); err != nil {
		t.Fatalf("after: %v", err)
	}
}

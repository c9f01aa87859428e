package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// peer is a service this one calls: its instances' addresses and an HTTP
// client whose transport makes client spans with peer.service = name.
type peer struct {
	name   string
	addrs  []string
	next   atomic.Uint64 // round-robin position
	client *http.Client
}

// peer returns the callee name, with the addresses given in Config.Peers.
func (n *node) peer(name string) (*peer, error) {
	addrs := n.cfg.Peers[name]
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no address for %s (--peer %s=host:port)", name, name)
	}
	p := &peer{name: name, addrs: addrs}
	if n.tel != nil {
		p.client = n.tel.Client(name)
	} else {
		p.client = &http.Client{}
	}
	return p, nil
}

// pick returns the next instance, round robin: its number (from 1) and
// address. This is the client-side balancing of the api-gateway over the
// payments instances.
func (p *peer) pick() (int, string) {
	i := int(p.next.Add(1)-1) % len(p.addrs)
	return i + 1, p.addrs[i]
}

// callError is a call to a peer that did not succeed: no answer
// (connection refused, timeout) or an error status.
type callError struct {
	peer     string
	instance string // service.instance.id of the callee
	status   int    // 0: no answer
	timeout  time.Duration
	msg      string
	err      error
}

func (e *callError) Error() string {
	switch {
	case e.timeout > 0:
		return fmt.Sprintf("timeout calling %s after %s", e.peer, e.timeout)
	case e.status == 0:
		return fmt.Sprintf("call to %s failed: %v", e.peer, e.err)
	}
	return fmt.Sprintf("%s answered %d: %s", e.peer, e.status, e.msg)
}

func (e *callError) Unwrap() error { return e.err }

// timedOut reports whether the call ran out of its time.
func (e *callError) timedOut() bool { return e.timeout > 0 }

// call sends in as JSON to the instance n (from 1) of p at addr+path,
// within timeout, and decodes a 2xx answer into out. Failures are a
// *callError, logged here: a timeout as "timeout calling <peer>" (warn), a
// call without an answer as "call to <peer> failed: <error>" (error), a
// 5xx as "<peer> answered <status>: <message>" (error), each with peer,
// peer_instance and, for timeouts, timeout_ms. A 4xx is the caller's to
// judge and is not logged.
func (n *node) call(ctx context.Context, p *peer, inst int, addr, method, path string, timeout time.Duration, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ce := &callError{peer: p.name, instance: InstanceID(p.name, inst)}
	logAttrs := []any{"peer", p.name, "peer_instance", ce.instance}
	resp, err := p.client.Do(req)
	if err != nil {
		ce.err = err
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
			ce.timeout = timeout
			n.log.WarnContext(ctx, ce.Error(), append(logAttrs, "timeout_ms", timeout.Milliseconds())...)
		} else if ctx.Err() == nil {
			n.log.ErrorContext(ctx, ce.Error(), logAttrs...)
		}
		return ce
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBody))
	if err != nil {
		ce.err, ce.status = err, resp.StatusCode
		ce.msg = err.Error()
		return ce
	}
	if resp.StatusCode >= 300 {
		ce.status = resp.StatusCode
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			ce.msg = e.Error
		} else {
			ce.msg = strings.TrimSpace(string(b))
		}
		if resp.StatusCode >= 500 {
			n.log.ErrorContext(ctx, ce.Error(), append(logAttrs, "status", resp.StatusCode)...)
		}
		return ce
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: bad answer: %w", p.name, err)
		}
	}
	return nil
}

// upstreamStatus is the status the api-gateway answers for a failed call:
// 504 for a timeout, 502 for no answer or a 5xx, the callee's 4xx as is.
func upstreamStatus(err error) int {
	var ce *callError
	if !errors.As(err, &ce) {
		return http.StatusInternalServerError
	}
	switch {
	case ce.timedOut():
		return http.StatusGatewayTimeout
	case ce.status >= 400 && ce.status < 500:
		return ce.status
	}
	return http.StatusBadGateway
}

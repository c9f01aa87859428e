package demo

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// boundListener is a listening socket the parent holds for one service
// instance across restarts of its process: the child gets a copy of file
// as an inherited descriptor.
type boundListener struct {
	addr string   // host:port
	file *os.File // the parent's copy of the listening socket
}

// bindAttempts bounds the retries of bindFree when another process takes
// the port between the probe and the bind.
const bindAttempts = 20

// bindLoopback binds a TCP listener on 127.0.0.1 at port (0: a free port)
// and returns the parent's copy of it.
//
// The port is always bound explicitly (a free one is found first with a
// port-0 probe): Linux keeps an explicitly bound port when a service stops
// listening (shutdown(2) of the listening socket, how a process "refuses
// connections" under a fault) and listens again later, while a socket
// bound to port 0 gives its port back on shutdown.
func bindLoopback(port int) (*boundListener, error) {
	if port != 0 {
		return bindAt(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	var lastErr error
	for range bindAttempts {
		probe, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := probe.Addr().String()
		_ = probe.Close()
		bl, err := bindAt(addr)
		if err == nil {
			return bl, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("no free loopback port after %d attempts: %w", bindAttempts, lastErr)
}

func bindAt(addr string) (*boundListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ln.Close() }() // the file below is a duplicate that stays open
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", addr, err)
	}
	return &boundListener{addr: ln.Addr().String(), file: f}, nil
}

// Close releases the parent's copy; the socket closes when no process
// holds it any more.
func (b *boundListener) Close() error { return b.file.Close() }

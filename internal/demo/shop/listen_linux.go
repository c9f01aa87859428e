//go:build linux

package shop

import (
	"os"
	"syscall"
)

// listenBacklog is the accept queue length asked for when listening again
// (the kernel caps it at net.core.somaxconn).
const listenBacklog = 4096

// stopListening makes a listening socket refuse new connections without
// giving up its address: on Linux, shutdown(2) of a listening socket stops
// it listening (connection attempts are answered with a reset:
// ECONNREFUSED) and keeps an explicitly bound port bound, for every
// process holding the socket. The descriptor is used through SyscallConn,
// which leaves its blocking mode alone.
func stopListening(f *os.File) error {
	return control(f, func(fd int) error { return syscall.Shutdown(fd, syscall.SHUT_RD) })
}

// listenAgain makes the socket listen (again): after stopListening, or
// when a new process inherits a socket its predecessor stopped. listen(2)
// on a socket that listens already only sets its backlog.
func listenAgain(f *os.File) error {
	return control(f, func(fd int) error { return syscall.Listen(fd, listenBacklog) })
}

func control(f *os.File, op func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = op(int(fd)) }); err != nil {
		return err
	}
	return opErr
}

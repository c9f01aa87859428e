//go:build !linux

package shop

import "os"

// stopListening cannot stop a shared socket listening without closing it
// outside Linux: the server is closed, and connection attempts wait in the
// accept queue (they time out instead of being refused) until the fault
// ends.
func stopListening(*os.File) error { return nil }

// listenAgain has nothing to do outside Linux, where stopListening left
// the socket listening.
func listenAgain(*os.File) error { return nil }

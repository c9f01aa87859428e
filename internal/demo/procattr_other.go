//go:build !unix

package demo

import "syscall"

// childAttr has nothing to set here: the child's end of its stdin pipe is
// what tells it that the parent died (see shop.Config.ExitOnStdinEOF).
func childAttr() *syscall.SysProcAttr { return nil }

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStat is a process's CPU time (user + system) and resident memory.
type procStat struct {
	cpu time.Duration
	rss int64
}

// readProc reads /proc/<pid>; pid 0 gives zeros.
func readProc(pid int) (procStat, error) {
	if pid == 0 {
		return procStat{}, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	st := procStat{cpu: time.Duration(utime+stime) * time.Second / clkTck}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStat{}, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			st.rss = kb * 1024
		}
	}
	return st, nil
}

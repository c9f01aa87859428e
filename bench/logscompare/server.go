package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one peer the harness started: its process, address and data
// directory.
type server struct {
	name    string // as the table names it: Horus, VictoriaLogs, Loki, Jaeger
	base    string // http://127.0.0.1:port
	dataDir string
	cmd     *exec.Cmd
	logFile *os.File
	// notData is a directory under dataDir left out of the bytes on disk:
	// Loki's ingester WAL, which a flush does not truncate (Loki
	// checkpoints it on its own schedule) and which is no stored data.
	notData string
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// freeAddrs returns n free 127.0.0.1:port addresses.
func freeAddrs(n int) ([]string, error) {
	var as []string
	for i := 0; i < n; i++ {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		as = append(as, "127.0.0.1:"+strconv.Itoa(p))
	}
	return as, nil
}

// start runs bin with args, its output in <work>/<name>.log, and waits up
// to a minute for GET base+ready to answer 200.
func start(ctx context.Context, name, work, bin string, args []string, base, ready string) (*server, error) {
	s := &server{name: name, base: base, dataDir: filepath.Join(work, strings.ToLower(name)+"-data")}
	if err := os.RemoveAll(s.dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, err
	}
	for i := range args {
		args[i] = strings.ReplaceAll(args[i], "{data}", s.dataDir)
	}
	lf, err := os.Create(filepath.Join(work, strings.ToLower(name)+".log"))
	if err != nil {
		return nil, err
	}
	s.logFile = lf
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = lf, lf
	s.cmd.Dir = work
	if err := s.cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := getBody(ctx, base+ready); err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("%s did not answer %s within a minute: see %s", name, ready, lf.Name())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// post sends body to url with the headers given as name, value pairs and
// fails on any status but 2xx.
func post(ctx context.Context, url, contentType string, body io.Reader, header ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("POST %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))}
	}
	return nil
}

// statusError is an HTTP answer other than 2xx.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// retryable says whether err is a 429 or 5xx answer.
func retryable(err error) bool {
	var se *statusError
	return errors.As(err, &se) && (se.code == http.StatusTooManyRequests || se.code >= 500)
}

// stop sends SIGTERM and waits up to two minutes, then kills; it returns
// how long the stop took.
func (s *server) stop() time.Duration {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	t0 := time.Now()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = s.logFile.Close()
	return time.Since(t0)
}

// procStat is what /proc says of a process: CPU time (utime+stime) and
// peak and current resident memory (VmHWM, VmRSS).
type procStat struct {
	CPU       time.Duration
	HWM, RSS  int64 // bytes
	readError error
}

// readProcStat reads /proc/<pid>/stat (fields 14 and 15, utime and stime,
// in clock ticks of USER_HZ = 100, proc(5)) and /proc/<pid>/status (VmHWM
// and VmRSS, in kB).
func readProcStat(pid int) procStat {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{readError: err}
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(rest) < 13 {
		return procStat{readError: fmt.Errorf("/proc/%d/stat: %d fields", pid, len(rest))}
	}
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	st, _ := strconv.ParseInt(rest[12], 10, 64)
	p := procStat{CPU: time.Duration(ut+st) * 10 * time.Millisecond}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procStat{readError: err}
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if name == "VmHWM" {
			p.HWM = kb << 10
		} else {
			p.RSS = kb << 10
		}
	}
	return p
}

func (s *server) proc() procStat { return readProcStat(s.cmd.Process.Pid) }

// diskUsage is the space the files under dir take on disk (allocated
// blocks, as du counts them), less the directory skip if not empty.
func diskUsage(dir, skip string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if skip != "" && path == skip {
			return filepath.SkipDir
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while walking (a merge)
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && !d.IsDir() {
			n += st.Blocks * 512
		}
		return nil
	})
	return n, err
}

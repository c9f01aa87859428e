// Package release tests what a release ships (docs/deploy.md): the
// binary the Makefile's build stamps with a semantic version and the
// commit, reported the same by `horus version` and the three buildinfo
// endpoints; deploy/horus.yml valid (`horus check config`) and serving;
// deploy/horus.service accepted by systemd (systemd-analyze verify, where
// systemd is installed). make dist itself is not run here: four
// cross-compilations take minutes (docs/deploy.md gives the time).
package release

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/horus-obs/horus/test/horustest"
)

// root is the repository's top directory, where the Makefile is.
const root = "../.."

// TestVersionStamped builds with `make build` as a user does, with
// VERSION given as a release does (the Makefile takes it from the tag),
// and checks the version and the revision everywhere they are reported.
func TestVersionStamped(t *testing.T) {
	horustest.Need(t, "make", "apt-get install make")
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	bin := filepath.Join(t.TempDir(), "horus")
	const version = "1.2.3-rc.1"
	build := exec.Command("make", "-s", "build", "BIN="+bin, "VERSION="+version)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("horus, version %s (revision: %s, branch: ", version, rev)
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("horus version: %q, want it to start with %q", out, want)
	}

	h := horustest.Start(t, bin)
	for _, path := range []string{"/api/v1/status/buildinfo", "/loki/api/v1/status/buildinfo", "/api/status/buildinfo"} {
		resp, err := http.Get("http://" + h.HTTP + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		// Prometheus wraps the fields in its envelope's data; Loki and
		// Tempo answer them bare.
		var bi struct {
			Version  string `json:"version"`
			Revision string `json:"revision"`
			Data     *struct {
				Version  string `json:"version"`
				Revision string `json:"revision"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &bi); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
		if bi.Data != nil {
			bi.Version, bi.Revision = bi.Data.Version, bi.Data.Revision
		}
		if bi.Version != version || bi.Revision != rev {
			t.Errorf("%s: version %q revision %q, want %q %q", path, bi.Version, bi.Revision, version, rev)
		}
	}
}

// TestMakefileVersion: without VERSION the Makefile's version is a
// semantic version: the tag's on a tagged commit, else
// internal/buildinfo/VERSION with -dev.
func TestMakefileVersion(t *testing.T) {
	horustest.Need(t, "make", "apt-get install make")
	cmd := exec.Command("make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-version")
	cmd.Dir = root
	cmd.Stdin = strings.NewReader("print-version:\n\t@echo $(VERSION)\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(out))
	release, err := os.ReadFile(filepath.Join(root, "internal/buildinfo/VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	tag, terr := exec.Command("git", "-C", root, "describe", "--tags", "--exact-match", "--match", "v[0-9]*").Output()
	want := strings.TrimSpace(string(release)) + "-dev"
	if terr == nil {
		want = strings.TrimPrefix(strings.TrimSpace(string(tag)), "v")
	}
	if v != want {
		t.Errorf("Makefile VERSION %q, want %q", v, want)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(v) {
		t.Errorf("Makefile VERSION %q is not a semantic version", v)
	}
}

// TestDeployConfig: deploy/horus.yml passes `horus check config` and a
// Horus started with it (the addresses and data directory moved to the
// test's) serves.
func TestDeployConfig(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "horus")
	build := exec.Command("go", "build", "-o", bin, "github.com/horus-obs/horus/cmd/horus")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(root, "deploy/horus.yml")
	out, err := exec.Command(bin, "check", "config", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("horus check config %s: %v\n%s", cfg, err, out)
	}
	h := horustest.Start(t, bin, "--config", cfg)
	if _, err := h.PromQL("vector(1)"); err != nil {
		t.Error(err)
	}

	// The systemd unit, with ExecStart pointing at the binary just built.
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: the unit is not checked")
	}
	unit, err := os.ReadFile(filepath.Join(root, "deploy/horus.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/horus serve --config /etc/horus/horus.yml") {
		t.Error("deploy/horus.service: ExecStart is not /usr/local/bin/horus serve --config /etc/horus/horus.yml, as docs/deploy.md says")
	}
	for _, k := range []string{"DynamicUser=yes", "StateDirectory=horus", "ProtectSystem=strict", "TimeoutStopSec=30s", "LimitNOFILE="} {
		if !strings.Contains(string(unit), "\n"+k) {
			t.Errorf("deploy/horus.service: no %s", k)
		}
	}
	tmp := filepath.Join(t.TempDir(), "horus.service")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/horus", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", tmp).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify deploy/horus.service: %v\n%s", err, out)
	}
}

// Package buildinfo holds the version of the running Horus binary. The
// variables are set at link time by the Makefile (-ldflags -X); a plain
// `go build` leaves the defaults below.
package buildinfo

import (
	_ "embed"
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// release is the version of the next release, from the file VERSION
// beside this one; the Makefile reads the same file.
//
//go:embed VERSION
var release string

// Set with -ldflags "-X github.com/horus-obs/horus/internal/buildinfo.Version=...".
var (
	// Version is the release version, a semantic version (https://semver.org)
	// such as "0.1.0", or "0.1.0-dev" for a build that is not a tagged
	// release; empty (a plain go build) reports the version go install
	// stamped, else VERSION with -dev. Grafana reads the version field of
	// the buildinfo endpoints as a semantic version, so it is never a bare
	// commit hash: that goes in Revision. It is declared without an
	// initializer because the linker's -X sets only a variable that is
	// uninitialized or initialized to a constant (cmd/link's -X flag): an
	// initializer computed from VERSION ran after -X and overwrote the
	// Makefile's version with VERSION-dev.
	Version = ""
	// Revision is the git commit the binary was built from.
	Revision = ""
	// Branch is the git branch the binary was built from.
	Branch = ""
	// BuildDate is the build time in RFC 3339.
	BuildDate = ""
)

// Info is the build information in one value.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// Get returns the build information, filling the revision from the Go
// toolchain's VCS stamp when the linker did not set it.
func Get() Info {
	rev, v := Revision, Version
	dev := strings.TrimSpace(release) + "-dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
		if v == "" {
			v = moduleVersion(bi.Main.Version, dev)
		}
	}
	if !semver.MatchString(v) {
		v = dev
	}
	return Info{Version: v, Revision: rev, Branch: Branch, BuildDate: BuildDate, GoVersion: runtime.Version()}
}

// moduleVersion returns the version of a tagged release the go command
// stamped as the main module's (`go install
// github.com/horus-obs/horus/cmd/horus@v1.2.3` reports 1.2.3 without the
// Makefile's -ldflags), else def: a pseudo-version
// (v0.0.0-20261130091952-33b0308a1b2c, https://go.dev/ref/mod#pseudo-versions),
// "(devel)" and a build of a modified tree ("+dirty") are no release.
func moduleVersion(mod, def string) string {
	v := strings.TrimPrefix(mod, "v")
	if v == mod || !semver.MatchString(v) || pseudo.MatchString(v) || strings.Contains(v, "+dirty") {
		return def
	}
	return v
}

// pseudo matches the timestamp and commit of a Go pseudo-version.
var pseudo = regexp.MustCompile(`(^|[.-])(0\.)?\d{14}-[0-9a-f]{12}(\+|$)`)

// semver matches a semantic version 2.0.0 (https://semver.org, its
// suggested regular expression, without a leading "v").
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// String renders the information as one line for `horus version`.
func (i Info) String() string {
	return fmt.Sprintf("horus, version %s (revision: %s, branch: %s, built: %s, %s)",
		i.Version, orUnknown(i.Revision), orUnknown(i.Branch), orUnknown(i.BuildDate), i.GoVersion)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

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
	// release. Grafana reads the version field of the buildinfo endpoints
	// as a semantic version, so it is never a bare commit hash: that goes
	// in Revision.
	Version = strings.TrimSpace(release) + "-dev"
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
	rev := Revision
	if rev == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					rev = s.Value
				}
			}
		}
	}
	v := Version
	if !semver.MatchString(v) {
		v = strings.TrimSpace(release) + "-dev"
	}
	return Info{Version: v, Revision: rev, Branch: Branch, BuildDate: BuildDate, GoVersion: runtime.Version()}
}

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

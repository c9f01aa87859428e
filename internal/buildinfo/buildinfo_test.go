package buildinfo

import "testing"

// TestVersionIsSemantic: the version the buildinfo endpoints report is a
// semantic version (https://semver.org), as Grafana parses it; a bare
// commit hash set at link time falls back to VERSION-dev.
func TestVersionIsSemantic(t *testing.T) {
	for _, c := range []struct{ set, want string }{
		{"", "0.1.0-dev"},
		{"1.2.3", "1.2.3"},
		{"1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"},
		{"b19c754", "0.1.0-dev"},
		{"v1.2.3", "0.1.0-dev"},
	} {
		old := Version
		if c.set != "" {
			Version = c.set
		}
		got := Get().Version
		Version = old
		if release != "0.1.0\n" && c.want == "0.1.0-dev" {
			continue // VERSION moved on; the other cases still hold
		}
		if got != c.want {
			t.Errorf("Version %q: reported %q, want %q", c.set, got, c.want)
		}
		if !semver.MatchString(got) {
			t.Errorf("Version %q: reported %q, not a semantic version", c.set, got)
		}
	}
}

// TestModuleVersion: a tagged release stamped by go install is reported
// as its semantic version; pseudo-versions, (devel) and dirty builds are
// not releases.
func TestModuleVersion(t *testing.T) {
	for _, c := range []struct{ mod, want string }{
		{"v1.2.3", "1.2.3"},
		{"v0.2.0-rc.1", "0.2.0-rc.1"},
		{"(devel)", "def"},
		{"", "def"},
		{"v0.0.0-20261130091952-33b0308a1b2c", "def"},
		{"v0.1.1-0.20261130091952-33b0308a1b2c", "def"},
		{"v0.1.0-rc.1.0.20261130091952-33b0308a1b2c", "def"},
		{"v0.1.0+dirty", "def"},
		{"1.2.3", "def"},
	} {
		if got := moduleVersion(c.mod, "def"); got != c.want {
			t.Errorf("moduleVersion(%q) = %q, want %q", c.mod, got, c.want)
		}
	}
}

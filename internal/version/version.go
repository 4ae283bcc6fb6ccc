// Package version reports the version of the pigging module a program was
// built with, read once from the build information the Go toolchain embeds.
// It is the one place the version comes from: the instrumentation scope of
// every signal pigging sends and "pigging --version" both read it.
package version

import (
	"runtime/debug"
	"sync"
)

// ModulePath is the path of the pigging module.
const ModulePath = "github.com/pigging-go/pigging"

// Devel is the version reported when the build does not know one: a build
// from a clone of the repository (go build, go test, go run) rather than
// from a published version of the module.
const Devel = "(devel)"

// Module returns the version of the pigging module in this program: the
// tag a user's go.mod or "go install ...@v0.3.0" selected (for example
// "v0.3.0"), the pseudo-version of a build from a version-control
// checkout, or Devel when the build information does not say. It never
// fails.
func Module() string { return module() }

var module = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	return fromBuildInfo(bi, ok)
})

// fromBuildInfo finds the pigging module in bi, as the main module or as a
// dependency (after a replace directive, the replacement's version).
func fromBuildInfo(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return Devel
	}
	if bi.Main.Path == ModulePath {
		return orDevel(bi.Main.Version)
	}
	for _, d := range bi.Deps {
		if d.Path != ModulePath {
			continue
		}
		if d.Replace != nil {
			return orDevel(d.Replace.Version)
		}
		return orDevel(d.Version)
	}
	return Devel
}

func orDevel(v string) string {
	if v == "" {
		return Devel
	}
	return v
}

package pigging

import "github.com/pigging-go/pigging/internal/version"

// Version returns the version of the pigging module this program was built
// with, as the Go build information records it: "v0.3.0" in a program whose
// go.mod requires that version, or "(devel)" in a build from a clone of the
// repository. Every span, log record and metric pigging sends carries it as
// its instrumentation scope version, and "pigging --version" prints it. It
// never fails.
func Version() string { return version.Module() }

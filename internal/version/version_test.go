package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	dep := func(path, v string, repl *debug.Module) *debug.Module {
		return &debug.Module{Path: path, Version: v, Replace: repl}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, Devel},
		{"installed at a tag", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "v0.3.0"}}, true, "v0.3.0"},
		{"built from a clone", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "(devel)"}}, true, Devel},
		{"main version empty", &debug.BuildInfo{Main: debug.Module{Path: ModulePath}}, true, Devel},
		{"a dependency of the user's module", &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/job", Version: "(devel)"},
			Deps: []*debug.Module{dep("github.com/gofrs/flock", "v0.13.2", nil), dep(ModulePath, "v0.3.1", nil)},
		}, true, "v0.3.1"},
		{"a replaced dependency", &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/job"},
			Deps: []*debug.Module{dep(ModulePath, "v0.3.0", &debug.Module{Path: "../pigging"})},
		}, true, Devel},
		{"not in the program", &debug.BuildInfo{Main: debug.Module{Path: "example.com/job", Version: "v1.0.0"}}, true, Devel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fromBuildInfo(tt.bi, tt.ok); got != tt.want {
				t.Errorf("fromBuildInfo = %q, want %q", got, tt.want)
			}
		})
	}
}

// In a test binary built from the repository, the module is the main
// module and has no published version.
func TestModuleInThisBuild(t *testing.T) {
	if got := Module(); got != Devel {
		t.Errorf("Module() = %q in a test build from the repository, want %q", got, Devel)
	}
}

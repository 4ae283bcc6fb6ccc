package pigging_test

import (
	"fmt"
	"os"
	"sort"
	"testing"

	"go.uber.org/goleak"

	"github.com/pigging-go/pigging/internal/proctest"
)

// childScenarios maps a scenario name to the function a child process runs;
// its result is the child's exit code. Files register theirs in init.
var childScenarios = map[string]func() int{}

// TestMain runs the child scenario that proctest.ChildEnv names, if it is
// set, instead of the tests. The process tests (process_*_test.go,
// reliability_*_test.go) start the binary again with it set, so that locks,
// crashes and signals happen between real processes.
func TestMain(m *testing.M) {
	if name := os.Getenv(proctest.ChildEnv); name != "" {
		fn, ok := childScenarios[name]
		if !ok {
			names := make([]string, 0, len(childScenarios))
			for n := range childScenarios {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(os.Stderr, "unknown child scenario %q (known: %v)\n", name, names)
			os.Exit(100)
		}
		os.Exit(fn())
	}
	goleak.VerifyTestMain(m)
}

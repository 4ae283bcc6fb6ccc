package reliability_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv names the child scenario a re-run of this test binary plays
// instead of running the tests.
const childEnv = "PIGGING_TEST_CHILD"

// childScenarios maps a scenario name to the function a child process runs;
// its result is the child's exit code. Files register theirs in init.
var childScenarios = map[string]func() int{}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		fn, ok := childScenarios[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child scenario %q\n", name)
			os.Exit(100)
		}
		os.Exit(fn())
	}
	goleak.VerifyTestMain(m)
}

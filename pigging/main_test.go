package pigging_test

import (
	"testing"

	"github.com/pigging-go/pigging/internal/proctest"
)

// childScenarios maps a scenario name to the function a child process runs;
// its result is the child's exit code. Files register theirs in init.
var childScenarios = map[string]func() int{}

// TestMain runs the child scenario that proctest.ChildEnv names, if it is
// set, instead of the tests. The process tests (process_*_test.go) start the
// binary again with it set, so that locks, crashes and signals happen between
// real processes. The reliability tests are in the package reliability.
func TestMain(m *testing.M) { proctest.Main(m, childScenarios) }

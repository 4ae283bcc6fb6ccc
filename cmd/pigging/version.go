package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"

	"github.com/pigging-go/pigging/pigging"
)

const versionUsage = `Usage: pigging version   (or pigging --version)

Prints the version of pigging, as the Go build information records it: the
module version that "go install github.com/pigging-go/pigging/cmd/pigging@VERSION"
or a go.mod selected, or "(devel)" for a build from a clone. Then the Go
version and the platform the binary was built for.
`

// versionCommand is "pigging version": the pigging module's version, the Go
// version and the platform, on one line of stdout.
func (c *cli) versionCommand(args []string) int {
	fs := flag.NewFlagSet("pigging version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = io.WriteString(c.stdout, versionUsage)
			return exitOK
		}
		fmt.Fprintf(c.stderr, "pigging version: %v\nRun 'pigging help version' for usage.\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "pigging version: unexpected argument %q\nRun 'pigging help version' for usage.\n", fs.Arg(0))
		return exitUsage
	}
	fmt.Fprintf(c.stdout, "pigging %s %s %s/%s\n", pigging.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

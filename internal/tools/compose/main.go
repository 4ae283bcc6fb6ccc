// Command compose loads and validates a Compose file with compose-go, the
// loader behind `docker compose config`, so that CI can check the repository's
// docker-compose.yml on machines without the Docker compose plugin.
//
// It lives in its own module so that the library's go.mod never carries
// compose-go and its dependencies. From the repository root:
//
//	go run -C internal/tools/compose . ../../../docker-compose.yml
//
// The path is taken as usual, relative to the working directory, and
// `go run -C` runs the program in internal/tools/compose; hence the ../../../.
// An absolute path works from anywhere. COMPOSE_PROFILES=name,... activates
// profiles as docker compose --profile does; without it, services that have a
// profile are left out.
//
// As `docker compose config` does, it validates the file against the Compose
// schema, interpolates ${VARIABLES} from the environment (and from a .env file
// next to the Compose file, if there is one), normalises the model and checks
// its consistency (e.g. that depends_on names existing services). On success it
// prints each service's name, image and ports and exits 0; on failure it
// prints the error and exits 1.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose path/to/docker-compose.yml")
		os.Exit(2)
	}
	project, err := load(context.Background(), os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Printf("%s: valid (project %q)\n", os.Args[1], project.Name)
	for _, name := range project.ServiceNames() {
		s := project.Services[name]
		fmt.Printf("service %s: image %s", name, s.Image)
		if len(s.Ports) > 0 {
			fmt.Printf(", ports %s", ports(s.Ports))
		}
		fmt.Println()
	}
}

// load reads path the way `docker compose -f path config` does.
func load(ctx context.Context, path string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithOsEnv,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		// COMPOSE_PROFILES, as docker compose reads it: services of other
		// profiles are left out.
		cli.WithDefaultProfiles(),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		cli.WithLoadOptions(func(o *loader.Options) { o.SkipValidation = false }),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// ports formats port mappings as host_ip:published:target/protocol.
func ports(ps []types.ServicePortConfig) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		var b strings.Builder
		if p.HostIP != "" {
			b.WriteString(p.HostIP + ":")
		}
		if p.Published != "" {
			b.WriteString(p.Published + ":")
		}
		fmt.Fprintf(&b, "%d", p.Target)
		if p.Protocol != "" {
			b.WriteString("/" + p.Protocol)
		}
		out = append(out, b.String())
	}
	return strings.Join(out, " ")
}

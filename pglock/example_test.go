package pglock_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// A job that runs on several hosts keeps its lock in PostgreSQL, and passes
// its fencing token to the system it writes to.
func Example() {
	l, err := pglock.New(os.Getenv("PIGGING_PG_DSN"), "nightly-sync")
	if err != nil {
		fmt.Println(err)
		return
	}
	err = pigging.Run(context.Background(), "etl.log", "", func(ctx context.Context, t *pigging.Tracker) error {
		token := l.Token() // larger than that of any earlier run
		t.Info("loading", "fencing_token", token)
		return nil // e.g. UPDATE target SET ..., token = $1 WHERE token <= $1
	}, pigging.WithLocker(l), pigging.WithName("nightly-sync"))
	if errors.Is(err, pigging.ErrStaleLock) {
		// A previous run failed: read etl.log, then l.Clear(ctx).
		fmt.Println(err)
	}
}

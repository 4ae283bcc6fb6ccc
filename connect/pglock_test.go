package connect_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/connect"
	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// A pglock Locker is the Fencer of a job that runs on several hosts.
var _ connect.Fencer = (*pglock.Locker)(nil)

// Runs under a real pglock lock load with their fencing token; a run
// overtaken by a newer one (its token older than the fence row's) is
// refused, with the run failed by ErrFenced.
func TestFenceWithPglock(t *testing.T) {
	dsn := pgDSN(t)
	conn := pgConn(t)
	table := pgTable(t, conn, "id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL")
	locks := randomName("connect_locks_")
	fences := randomName("connect_fences_")
	t.Cleanup(func() {
		ctx := context.Background()
		conn.Exec(ctx, "DROP TABLE IF EXISTS "+locks)
		conn.Exec(ctx, "DROP SEQUENCE IF EXISTS "+locks+"_token")
		conn.Exec(ctx, "DROP TABLE IF EXISTS "+fences)
	})
	l, err := pglock.New(dsn, "connect-test", pglock.WithTable(locks))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "job.log")
	run := func(fence connect.Fencer, first int64) error {
		return pigging.Run(context.Background(), logPath, "", func(ctx context.Context, _ *pigging.Tracker) error {
			sink := connect.Copy(conn, table, customerCols, customerRow, connect.WithUpsert("id"),
				connect.WithFence(fence), connect.WithFenceTable(fences))
			return sink.Load(ctx, connect.Slice(customers(first, 10)))
		}, pigging.WithLocker(l), pigging.WithName("connect-test"), pigging.WithOutput(io.Discard))
	}
	if err := run(l, 1); err != nil {
		t.Fatal(err)
	}
	// The next run, with its own larger token.
	if err := run(l, 11); err != nil {
		t.Fatal(err)
	}
	var held int64
	if err := conn.QueryRow(context.Background(), "SELECT token FROM "+fences+" WHERE target = $1", table).Scan(&held); err != nil {
		t.Fatal(err)
	}
	// A run that took its lock before that one and wakes up now (a paused
	// VM): its token is older than the fence row's.
	stale := fencer(held - 1)
	err = run(&stale, 21)
	if !errors.Is(err, connect.ErrFenced) {
		t.Fatalf("stale run: %v, want ErrFenced", err)
	}
	if n, _ := pgCount(t, conn, table); n != 20 {
		t.Errorf("%d rows after the stale run, want 20", n)
	}
	// The refusal is an ERROR record of the run's log.
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "| ERROR: connect: fenced: load into "+table) {
		t.Errorf("the run's log has no ERROR record of the refusal:\n%s", b)
	}
	// That run failed, and the lock says so: clear it as a person would.
	if _, err := l.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
}

package pglock_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// dsnWith returns the test database's DSN as a URL with what change does.
func dsnWith(t *testing.T, change func(u *url.URL)) string {
	t.Helper()
	cc, err := pgx.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	u := &url.URL{Scheme: "postgres", User: url.UserPassword(cc.User, cc.Password),
		Host: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), Path: "/" + cc.Database, RawQuery: "sslmode=disable"}
	change(u)
	return u.String()
}

// freePort returns a loopback port where nothing listens.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

// A database that cannot be used at Start (wrong password, no server, no
// such database) gives an error that names the server and the cause,
// never the password; the log file and the job's row stay as they were,
// and no file is created.
func TestStartCannotConnect(t *testing.T) {
	table := newTable(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	// A failed run leaves its log and its row: a bad Start must change neither.
	good := newLocker(t, table, "job")
	_ = pigging.Run(context.Background(), logPath, "", func(context.Context, *pigging.Tracker) error {
		return errors.New("first failure")
	}, trackerOpts(good, "job")...)
	rowBefore := readRow(t, table, "job")
	logBefore := readLog(t, logPath)
	if rowBefore == nil {
		t.Fatal("no row after the failed run")
	}
	const wrongPW = "wrong-pw-4d1f"
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"wrong password", dsnWith(t, func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), wrongPW) }), "password authentication failed"},
		{"server down", dsnWith(t, func(u *url.URL) { u.Host = "127.0.0.1:" + freePort(t) }), "connection refused"},
		{"no such database", dsnWith(t, func(u *url.URL) { u.Path = "/no_such_db_4d1f" }), `database "no_such_db_4d1f" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := pglock.New(tc.dsn, "job", pglock.WithTable(table))
			if err != nil {
				t.Fatal(err)
			}
			tr, _ := pigging.New(logPath, "", trackerOpts(l, "job")...)
			_, err = tr.Start(context.Background())
			if err == nil {
				t.Fatal("Start succeeded")
			}
			t.Logf("Start: %v", err)
			cc, _ := pgx.ParseConfig(tc.dsn)
			for _, want := range []string{tc.want, "cannot connect to", net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), `job "job"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q", want)
				}
			}
			if strings.Contains(err.Error(), wrongPW) || strings.Contains(err.Error(), ":"+cc.Password+"@") {
				t.Errorf("error shows the password: %v", err)
			}
			if errors.Is(err, pigging.ErrLocked) {
				t.Errorf("a connection failure reads as a lock refusal: %v", err)
			}
			for _, op := range []func(context.Context) (*pigging.LockStatus, error){l.Inspect, l.Clear} {
				if _, err := op(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Inspect/Clear = %v, want an error saying %q", err, tc.want)
				}
			}
			if got := readLog(t, logPath); got != logBefore {
				t.Errorf("the log changed:\n%s", got)
			}
			if r := readRow(t, table, "job"); r == nil || *r != *rowBefore {
				t.Errorf("the row changed: %+v, was %+v", r, rowBefore)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("files in the directory: %v", ents)
			}
		})
	}
}

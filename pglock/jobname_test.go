package pglock_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// New refuses a job name the table or the server cannot take (longer than
// MaxJobLen, a NUL byte, not UTF-8) with an error that names the argument
// and the limit and matches ErrInvalidJob and *JobError; nothing is
// connected to.
func TestNewRefusesBadJob(t *testing.T) {
	const good = "postgres://u:pw@127.0.0.1:5432/db"
	for _, tc := range []struct {
		name, job string
		want      []string
	}{
		{"12000 bytes", strings.Repeat("j", 12000), []string{"job", "12000 bytes", strconv.Itoa(pglock.MaxJobLen)}},
		{"one byte too long", strings.Repeat("é", pglock.MaxJobLen/2) + "x", []string{"job", strconv.Itoa(pglock.MaxJobLen+1) + " bytes", strconv.Itoa(pglock.MaxJobLen)}},
		{"NUL", "a\x00b", []string{"job", "NUL"}},
		{"not UTF-8", "a\xffb", []string{"job", "UTF-8"}},
		{"empty", "", []string{"job name is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := pglock.New(good, tc.job)
			if err == nil || l != nil {
				t.Fatalf("New = %v, %v; want an error", l, err)
			}
			if !errors.Is(err, pglock.ErrInvalidJob) {
				t.Errorf("errors.Is(%v, ErrInvalidJob) = false", err)
			}
			var je *pglock.JobError
			if !errors.As(err, &je) || je.Len != len(tc.job) {
				t.Errorf("errors.As(*JobError) = %+v from %v", je, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %.200q does not say %q", err, w)
				}
			}
			if len(err.Error()) > 400 {
				t.Errorf("the error repeats the name: %d bytes", len(err.Error()))
			}
		})
	}
}

// The longest name New takes, made of bytes that do not compress, runs,
// fails, is refused as stale and is cleared on the real server; the
// application_name each connection sends is "pigging <job>" cut to the 63
// bytes the server keeps, on a character boundary, and so is one set in
// the DSN.
func TestLongestJob(t *testing.T) {
	table := newTable(t)
	var u *url.URL
	dsnWith(t, func(x *url.URL) { u = x })
	proxy := newStallProxy(t, u.Host)
	job := strings.Repeat("é", 10) + randomName("")
	for len(job) < pglock.MaxJobLen {
		job += randomName("")[:min(12, pglock.MaxJobLen-len(job))]
	}
	l, err := pglock.New(dsnWith(t, func(x *url.URL) { x.Host = proxy.addr() }), job, pglock.WithTable(table))
	if err != nil {
		t.Fatalf("New with %d bytes: %v", len(job), err)
	}
	logPath := filepath.Join(t.TempDir(), "job.log")
	err = pigging.Run(context.Background(), logPath, "", func(context.Context, *pigging.Tracker) error {
		return errors.New("boom")
	}, trackerOpts(l, job)...)
	if err == nil || err.Error() != "boom" {
		t.Fatalf("Run = %v, want boom", err)
	}
	if r := readRow(t, table, job); r == nil || r.Status != pigging.StateFailure {
		t.Fatalf("row = %+v, want failed", r)
	}
	tr, _ := pigging.New(logPath, "", trackerOpts(l, job)...)
	if _, err := tr.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("next Start = %v, want ErrStaleLock", err)
	}
	if _, err := l.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := readRow(t, table, job); r != nil {
		t.Fatalf("row after Clear: %+v", r)
	}
	checkAppNames(t, proxy, "pigging "+job)

	proxy2 := newStallProxy(t, u.Host)
	own := strings.Repeat("ü", 40) // 80 bytes
	l2, err := pglock.New(dsnWith(t, func(x *url.URL) {
		x.Host = proxy2.addr()
		x.RawQuery += "&application_name=" + url.QueryEscape(own)
	}), "j", pglock.WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	inspect(t, l2)
	checkAppNames(t, proxy2, own)
}

// checkAppNames checks that every startup message the proxy saw sends
// application_name as full cut to at most 63 bytes on a character boundary.
func checkAppNames(t *testing.T, proxy *stallProxy, full string) {
	t.Helper()
	want := full
	if len(want) > 63 {
		want = want[:63]
		for !utf8.ValidString(want) {
			want = want[:len(want)-1]
		}
	}
	params := proxy.startupParams()
	if len(params) == 0 {
		t.Fatal("no startup message went through the proxy")
	}
	for i, p := range params {
		if got := p["application_name"]; got != want {
			t.Errorf("connection %d sent application_name of %d bytes %.80q, want %q", i, len(got), got, want)
		}
	}
}

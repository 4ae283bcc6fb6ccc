//go:build unix

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkService is a local stand-in for a healthchecks-style service: it
// records every ping and answers with status (or, with hang, not at all
// until the test ends).
type checkService struct {
	*httptest.Server
	mu    sync.Mutex
	pings []recordedPing
}

type recordedPing struct {
	path, rid, body string
}

func newCheckService(t *testing.T, status int, hang bool) *checkService {
	t.Helper()
	s := &checkService{}
	release := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.pings = append(s.pings, recordedPing{r.URL.Path, r.URL.Query().Get("rid"), string(b)})
		s.mu.Unlock()
		if hang {
			<-release
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(release); s.Close() })
	return s
}

func (s *checkService) got() []recordedPing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedPing(nil), s.pings...)
}

func TestRunPings(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, script, end, inBody string
		code                      int
	}{
		{"success", "echo hello from the job", "/check", "hello from the job", 0},
		{"failure", "echo failing >&2; exit 3", "/check/3", "failing", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newCheckService(t, http.StatusOK, false)
			log, lock := files(dir, tt.name)
			// The URL comes from the environment, as a crontab would set it.
			p := startPigging(t, dir, []string{pingEnv + "=" + s.URL + "/check"},
				"run", "--name", tt.name, "--log", log, "--lock", lock, "--", "sh", "-c", tt.script)
			if code := p.wait(t, testLimit); code != tt.code {
				t.Fatalf("exit status %d, want %d\nstderr: %s", code, tt.code, p.stderr.String())
			}
			got := s.got()
			if len(got) != 2 || got[0].path != "/check/start" || got[1].path != tt.end {
				t.Fatalf("pings %+v, want /check/start then %s", got, tt.end)
			}
			if got[0].rid == "" || got[0].rid != got[1].rid {
				t.Errorf("run ids %q and %q, want one run id on both pings", got[0].rid, got[1].rid)
			}
			if !strings.Contains(got[1].body, tt.inBody) || !strings.Contains(got[1].body, "Starting logging") {
				t.Errorf("the end ping's body is not the log's tail:\n%s", got[1].body)
			}
		})
	}
}

// A service that fails or never answers changes neither the outcome nor
// the exit status, costs at most the ping's bound, and is a WARN record.
func TestRunPingFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name   string
		status int
		hang   bool
	}{
		{"server error", http.StatusInternalServerError, false},
		{"hung", 0, true},
		{"not found", http.StatusNotFound, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newCheckService(t, tt.status, tt.hang)
			job := strings.ReplaceAll(tt.name, " ", "-")
			log, lock := files(dir, job)
			start := time.Now()
			p := startPigging(t, dir, nil, "run", "--name", job, "--log", log, "--lock", lock,
				"--ping", s.URL+"/secret-check-id", "--ping-timeout", "500ms", "--", "sh", "-c", "echo ok")
			if code := p.wait(t, testLimit); code != 0 {
				t.Fatalf("exit status %d, want the command's 0\nstderr: %s", code, p.stderr.String())
			}
			// Two pings of at most 500 ms each; the rest is margin for a
			// loaded machine, far below a hang.
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("the run took %v with a failing check service", took)
			}
			if _, err := os.Stat(lock); !os.IsNotExist(err) {
				t.Errorf("the lock of a successful run is still there: %v", err)
			}
			var warns int
			for _, r := range readLog(t, log) {
				if r.level == "WARN" && strings.HasPrefix(r.text, "Ping failed; the run's outcome is unchanged") {
					warns++
				}
			}
			if warns != 2 {
				t.Errorf("%d WARN records of a failed ping, want 2 (start and end)", warns)
			}
			if strings.Contains(p.stderr.String(), "secret-check-id") || strings.Contains(readFile(t, log), "secret-check-id") {
				t.Errorf("the check's URL path was printed or logged")
			}
		})
	}
}

// A run refused by a failed run's lock pings /fail with the refusal; a run
// refused by a live run pings nothing.
func TestRunPingRefused(t *testing.T) {
	dir := t.TempDir()
	s := newCheckService(t, http.StatusOK, false)
	log, lock := files(dir, "refused")
	run := func(script string) *proc {
		return startPigging(t, dir, nil, "run", "--name", "refused", "--log", log, "--lock", lock,
			"--ping", s.URL+"/c", "--", "sh", "-c", script)
	}
	if code := run("exit 4").wait(t, testLimit); code != 4 {
		t.Fatalf("failing run: exit %d", code)
	}
	before := len(s.got())
	if code := run("echo never").wait(t, testLimit); code != exitLocked {
		t.Fatalf("run after a failure: exit %d, want %d", code, exitLocked)
	}
	got := s.got()[before:]
	if len(got) != 1 || got[0].path != "/c/fail" || !strings.Contains(got[0].body, "exit status 4") {
		t.Fatalf("pings of the refused run: %+v, want one /c/fail naming the failed run", got)
	}

	// A live holder: its own pings speak for the job.
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(dir, "release")
	before = len(s.got())
	holder := run("while [ ! -e " + release + " ]; do sleep 0.05; done")
	for deadline := time.Now().Add(testLimit); len(s.got()) == before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the holder's start ping never came")
		}
	}
	before = len(s.got())
	if code := run("echo second").wait(t, testLimit); code != exitLocked {
		t.Fatalf("second run beside a live one: exit %d, want %d", code, exitLocked)
	}
	if got := s.got()[before:]; len(got) != 0 {
		t.Errorf("the run refused beside a live one pinged: %+v", got)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := holder.wait(t, testLimit); code != 0 {
		t.Fatalf("holder: exit %d", code)
	}
	if got := s.got(); got[len(got)-1].path != "/c" {
		t.Errorf("the holder's end ping is %s, want /c", got[len(got)-1].path)
	}
}

func TestRunPingBadURL(t *testing.T) {
	dir := t.TempDir()
	r := runInProcess(t, "run", "--name", "j", "--lock", filepath.Join(dir, "j.lock"), "--log", filepath.Join(dir, "j.log"), "--ping", "ftp://example.invalid/secret-id", "--", "true")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--ping") || !strings.Contains(r.stderr, `"ftp"`) || strings.Contains(r.stderr, "secret-id") {
		t.Errorf("exit %d, stderr %q; want a usage error naming --ping and the scheme, not the path", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused command line left files: %v", entries)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

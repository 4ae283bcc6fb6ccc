package ping

import (
	"context"
	"errors"
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

// hit is one request a fake check service received.
type hit struct {
	method, path, rid, body, agent string
}

// service is a local HTTP server that records the pings it receives and
// answers each with the next status of its script (200 once the script is
// used up).
type service struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	script []int
}

func newService(t *testing.T, script ...int) *service {
	s := &service{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hits = append(s.hits, hit{r.Method, r.URL.Path, r.URL.Query().Get("rid"), string(b), r.UserAgent()})
		code := http.StatusOK
		if len(s.script) > 0 {
			code, s.script = s.script[0], s.script[1:]
		}
		s.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "OK")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *service) got() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

func TestPingsOfARun(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		end    func(p *Pinger) error
		path   string
		status int
	}{
		{"success", func(p *Pinger) error { return p.Success(ctx, []byte("line 1\nline 2\n")) }, "/check", 0},
		{"exit status 3", func(p *Pinger) error { return p.Fail(ctx, 3, []byte("line 1\nline 2\n")) }, "/check/3", 3},
		{"failure without a status", func(p *Pinger) error { return p.Fail(ctx, -1, []byte("line 1\nline 2\n")) }, "/check/fail", -1},
		{"status out of range", func(p *Pinger) error { return p.Fail(ctx, 300, []byte("line 1\nline 2\n")) }, "/check/fail", 300},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t)
			p, err := New(s.URL + "/check/")
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if err := tt.end(p); err != nil {
				t.Fatalf("end: %v", err)
			}
			h := s.got()
			if len(h) != 2 {
				t.Fatalf("got %d pings, want 2: %+v", len(h), h)
			}
			if h[0].path != "/check/start" || h[0].body != "" || h[1].path != tt.path || h[1].body != "line 1\nline 2\n" {
				t.Errorf("pings = %+v, want /check/start then %s with the body", h, tt.path)
			}
			if h[0].rid == "" || h[0].rid != h[1].rid || h[0].rid != p.RunID() || len(p.RunID()) != 36 {
				t.Errorf("run ids %q and %q, want the Pinger's UUID %q on both", h[0].rid, h[1].rid, p.RunID())
			}
			if h[0].method != http.MethodPost || h[0].agent != "pigging" {
				t.Errorf("method %s, User-Agent %q", h[0].method, h[0].agent)
			}
		})
	}
}

func TestBodyKeepsTheTail(t *testing.T) {
	s := newService(t)
	p, err := New(s.URL+"/c", WithBodyLimit(8))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Success(context.Background(), []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	if h := s.got(); len(h) != 1 || h[0].body != "89abcdef" {
		t.Errorf("pings = %+v, want the body's last 8 bytes", h)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	s := newService(t, 500, 503)
	p, err := New(s.URL+"/c", WithAttempts(3))
	if err != nil {
		t.Fatal(err)
	}
	p.backoff = time.Millisecond
	if err := p.Success(context.Background(), nil); err != nil {
		t.Fatalf("a ping answered 500, 503, then 200: %v", err)
	}
	if n := len(s.got()); n != 3 {
		t.Errorf("%d tries, want 3", n)
	}

	s = newService(t, 500, 500, 500, 500)
	p, _ = New(s.URL+"/c", WithAttempts(2))
	p.backoff = time.Millisecond
	err = p.Fail(context.Background(), 1, nil)
	if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "ping /1 to "+p.Where()) {
		t.Errorf("err = %v, want the last answer and the host", err)
	}
	if n := len(s.got()); n != 2 {
		t.Errorf("%d tries, want 2", n)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	s := newService(t, 404)
	p, _ := New(s.URL + "/secret-uuid")
	err := p.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want the 404", err)
	}
	if strings.Contains(err.Error(), "secret-uuid") {
		t.Errorf("the error shows the check's path: %v", err)
	}
	if n := len(s.got()); n != 1 {
		t.Errorf("%d tries, want 1", n)
	}
}

// A service that never answers costs at most the ping's timeout.
func TestHungServiceIsBounded(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer hung.Close()
	defer close(release)
	p, _ := New(hung.URL+"/c", WithTimeout(300*time.Millisecond))
	start := time.Now()
	err := p.Success(context.Background(), nil)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a ping to a service that never answers succeeded")
	}
	// The bound is 300 ms; the margin is for a loaded machine.
	if took > 5*time.Second {
		t.Errorf("the ping took %v, want about its 300ms bound", took)
	}
}

// A cancelled ctx (a run ended by a signal) still gets its end ping out.
func TestPingOutlivesCancelledContext(t *testing.T) {
	s := newService(t)
	p, _ := New(s.URL + "/c")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Fail(ctx, -1, nil); err != nil {
		t.Fatalf("end ping after the run's ctx was cancelled: %v", err)
	}
	if h := s.got(); len(h) != 1 || h[0].path != "/c/fail" {
		t.Errorf("pings = %+v", h)
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "hc-ping.com/uuid", "ftp://host/x", "http:///x", "http://[::1"} {
		if _, err := New(u); !errors.Is(err, ErrBadURL) {
			t.Errorf("New(%q) = %v, want ErrBadURL", u, err)
		}
	}
	if p, err := New("https://hc-ping.com/ab/?create=1"); err != nil || p.base.Path != "/ab" || p.base.Query().Get("create") != "1" {
		t.Errorf("New kept %v, %v", p, err)
	}
}

func TestQueryIsKept(t *testing.T) {
	s := newService(t)
	p, _ := New(s.URL + "/ping/key/slug?create=1")
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := s.got(); len(h) != 1 || h[0].path != "/ping/key/slug/start" {
		t.Errorf("pings = %+v", h)
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "log")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		content string
		limit   int
		want    string
	}{
		{"a\nb\n", 100, "a\nb\n"},
		{"first line\nsecond\n", 10, "second\n"},
		{"first\nsecond\n", 7, "second\n"}, // the cut falls on a line boundary
		{"one very long line\n", 5, "line\n"},
		{"", 10, ""},
		{"abc\n", 0, ""},
	} {
		got, err := Tail(write(tt.content), tt.limit)
		if err != nil || string(got) != tt.want {
			t.Errorf("Tail(%q, %d) = %q, %v; want %q", tt.content, tt.limit, got, err, tt.want)
		}
	}
	if _, err := Tail(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Tail of a missing file: %v", err)
	}
}

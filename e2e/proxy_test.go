package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// requestCounter is a reverse proxy in front of a collector's OTLP/HTTP
// receiver that counts the requests it passes on, by method and path
// ("POST /v1/metrics"), so a test can tell how often a job sent each
// signal.
type requestCounter struct {
	URL string // the proxy's base URL, for OTEL_EXPORTER_OTLP_ENDPOINT

	mu     sync.Mutex
	counts map[string]int
}

// countRequests starts a requestCounter in front of hostport for the test.
func countRequests(t *testing.T, hostport string) *requestCounter {
	t.Helper()
	target, err := url.Parse("http://" + hostport)
	if err != nil {
		t.Fatal(err)
	}
	c := &requestCounter{counts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.counts[r.Method+" "+r.URL.Path]++
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// Counts returns a copy of the counts so far.
func (c *requestCounter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		m[k] = v
	}
	return m
}

// Package ping speaks the ping protocol of healthchecks.io, which runitor,
// Cronitor's and Uptime Kuma's push monitors and self-hosted healthchecks
// also accept: a run says it started (URL/start), then that it succeeded
// (URL) or failed (URL/fail, or URL/<exit status>), each request carrying a
// run id (?rid=) that ties the start to the end, and the end carrying the
// tail of the run's log as its body. A service that waits for those pings
// raises "late" or "down" when a run never starts or never ends, which is
// the one failure a job cannot report itself: the host was down, the
// crontab line was lost, the scheduler was paused.
//
// A ping is bounded in time and retried a few times; its failure is
// returned to the caller to report, and never changes the run's outcome.
package ping

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Pinger.
const (
	// DefaultTimeout bounds one ping, all its tries and waits included.
	DefaultTimeout = 10 * time.Second
	// DefaultAttempts is how many times a ping is tried when the service
	// cannot be reached or answers with a server error (5xx).
	DefaultAttempts = 3
	// DefaultBodyLimit is how much of the log's tail an end ping carries:
	// the last 10 KiB, as runitor sends.
	DefaultBodyLimit = 10 << 10
)

// ErrBadURL means the ping URL given to New cannot be used.
var ErrBadURL = errors.New("ping: bad URL")

// A Pinger sends the pings of one run to one check. Its methods are safe
// for concurrent use.
type Pinger struct {
	base     *url.URL
	rid      string
	client   *http.Client
	timeout  time.Duration
	attempts int
	limit    int
	agent    string
	backoff  time.Duration
}

// Option configures a Pinger.
type Option func(*Pinger)

// WithTimeout bounds each ping, every try and wait included (default
// DefaultTimeout). A zero or negative d keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(p *Pinger) {
		if d > 0 {
			p.timeout = d
		}
	}
}

// WithAttempts sets how many times a ping is tried (default
// DefaultAttempts); n below 1 keeps the default.
func WithAttempts(n int) Option {
	return func(p *Pinger) {
		if n >= 1 {
			p.attempts = n
		}
	}
}

// WithBodyLimit sets how many bytes of the body an end ping carries, the
// last ones kept (default DefaultBodyLimit); n below 0 keeps the default, 0
// sends no body.
func WithBodyLimit(n int) Option {
	return func(p *Pinger) {
		if n >= 0 {
			p.limit = n
		}
	}
}

// WithUserAgent sets the User-Agent of the pings (default "pigging").
func WithUserAgent(ua string) Option {
	return func(p *Pinger) {
		if ua != "" {
			p.agent = ua
		}
	}
}

// WithHTTPClient sets the client the pings are sent with (default a client
// of its own that honours the HTTP(S)_PROXY variables).
func WithHTTPClient(c *http.Client) Option {
	return func(p *Pinger) {
		if c != nil {
			p.client = c
		}
	}
}

// New returns a Pinger for the check at rawURL, an http or https URL such
// as https://hc-ping.com/<uuid>, with a new run id. It sends nothing yet.
// It returns an error wrapping ErrBadURL for a URL that does not parse, is
// not http or https, or has no host; the error never shows the URL's path
// or query, which identify the check and are as good as a password.
func New(rawURL string, opts ...Option) (*Pinger, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return nil, fmt.Errorf("%w: it does not parse as a URL", ErrBadURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: the scheme is %q, want http or https", ErrBadURL, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: it names no host", ErrBadURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	u.Fragment = ""
	p := &Pinger{
		base:     u,
		rid:      newRunID(),
		client:   &http.Client{Transport: http.DefaultTransport},
		timeout:  DefaultTimeout,
		attempts: DefaultAttempts,
		limit:    DefaultBodyLimit,
		agent:    "pigging",
		backoff:  500 * time.Millisecond,
	}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// RunID returns the run id (a UUID) every ping of this Pinger carries as
// ?rid=.
func (p *Pinger) RunID() string { return p.rid }

// Where names the check for messages: scheme and host only.
func (p *Pinger) Where() string { return p.base.Scheme + "://" + p.base.Host }

// Start sends URL/start: the run has begun. A service that knows the
// check's period then also measures the run's duration, and can tell a run
// that hangs.
func (p *Pinger) Start(ctx context.Context) error {
	return p.send(ctx, "start", nil)
}

// Success sends URL, with the tail of body: the run succeeded.
func (p *Pinger) Success(ctx context.Context, body []byte) error {
	return p.send(ctx, "", body)
}

// Fail sends URL/<status> for a command's exit status from 1 to 255, and
// URL/fail otherwise (a run that failed without an exit status of its own:
// refused, cancelled, or failed inside the job), with the tail of body.
func (p *Pinger) Fail(ctx context.Context, status int, body []byte) error {
	if status >= 1 && status <= 255 {
		return p.send(ctx, strconv.Itoa(status), body)
	}
	return p.send(ctx, "fail", body)
}

// send posts one signal, retrying while the service cannot be reached or
// answers 5xx (or 429), within p.timeout in all.
func (p *Pinger) send(ctx context.Context, signal string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	defer cancel()
	if len(body) > p.limit {
		body = body[len(body)-p.limit:]
	}
	u := *p.base
	if signal != "" {
		u.Path += "/" + signal
	}
	q := u.Query()
	q.Set("rid", p.rid)
	u.RawQuery = q.Encode()
	what := "ping"
	if signal != "" {
		what = "ping /" + signal
	}
	var last error
	for try := 1; try <= p.attempts; try++ {
		retry, err := p.post(ctx, u.String(), body)
		if err == nil {
			return nil
		}
		last = err
		if !retry || try == p.attempts {
			break
		}
		wait := p.backoff << (try - 1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s to %s: %w (gave up after %d of %d tries: %v)", what, p.Where(), last, try, p.attempts, ctx.Err())
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("%s to %s: %w", what, p.Where(), last)
}

// post sends one request and says whether a failure is worth another try.
func (p *Pinger) post(ctx context.Context, u string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("the request cannot be made")
	}
	req.Header.Set("User-Agent", p.agent)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := p.client.Do(req)
	if err != nil {
		// The error names the URL, path and all: keep only what failed.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("the service answered %s", resp.Status)
	default:
		return false, fmt.Errorf("the service answered %s", resp.Status)
	}
}

// newRunID returns a random (version 4) UUID in its text form.
func newRunID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails since Go 1.24
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

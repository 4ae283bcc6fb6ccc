package pglock

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultTable is the table that keeps the jobs' state unless WithTable
// says otherwise.
const DefaultTable = "pigging_locks"

// DefaultCheckInterval is how often a held lock's connection is checked
// unless WithCheckInterval says otherwise.
const DefaultCheckInterval = time.Second

// DefaultCheckTimeout bounds each check of a held lock's connection unless
// WithCheckTimeout says otherwise.
const DefaultCheckTimeout = 3 * time.Second

// DefaultSessionTimeout is how long the server keeps a held lock's
// session after its checks stop arriving, unless WithSessionTimeout says
// otherwise.
const DefaultSessionTimeout = 10 * time.Second

// An Option configures a Locker. Options are made by the With* functions.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	table    string
	host     string
	interval time.Duration
	timeout  time.Duration
	session  time.Duration // 0: the default, from interval and timeout
}

// WithTable sets the table that keeps the jobs' state: a name, or
// "schema.name", of letters, digits and underscores. Its sequence of
// fencing tokens is the same name with "_token" added. The default is
// DefaultTable ("pigging_locks").
func WithTable(name string) Option {
	return optionFunc(func(c *config) { c.table = name })
}

// WithHost sets the host name the Locker records for its runs, which the
// messages of refused runs show. The default is os.Hostname; set it where
// that says little (a Kubernetes pod, a container).
func WithHost(name string) Option {
	return optionFunc(func(c *config) { c.host = name })
}

// WithCheckInterval sets how often the connection that holds a run's lock
// is checked; a check that fails ends the lock (Lease.Lost is closed, and
// the Tracker cancels the run). The default is DefaultCheckInterval (1 s).
func WithCheckInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.interval = d })
}

// WithCheckTimeout bounds each check of the connection that holds a run's
// lock: a server that does not answer within it counts as lost. The
// default is DefaultCheckTimeout (3 s).
func WithCheckTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = d })
}

// WithSessionTimeout sets how long the server keeps the session that
// holds a run's lock, and with it the lock, once the session's checks
// (every WithCheckInterval) stop arriving: the session's
// idle_session_timeout (PostgreSQL 14 and later) and
// idle_in_transaction_session_timeout. It bounds how long a holder cut off
// from the server (a network partition, a proxy that stopped forwarding
// but keeps its sockets open, a frozen VM) keeps every other host out,
// whatever sits in between; a run paused longer than it loses its lock. It
// must be at least two check intervals. The default is
// DefaultSessionTimeout (10 s), or three check intervals plus the check
// timeout when that is longer.
func WithSessionTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.session = d })
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,56}$`)

// newConfig applies the defaults, then opts, then checks the result.
func newConfig(opts []Option) (config, error) {
	c := config{table: DefaultTable, interval: DefaultCheckInterval, timeout: DefaultCheckTimeout}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	var errs []error
	parts := strings.Split(c.table, ".")
	if len(parts) > 2 {
		errs = append(errs, fmt.Errorf("pglock: WithTable(%q): want a name or schema.name", c.table))
	} else {
		for _, p := range parts {
			if !identRE.MatchString(p) {
				errs = append(errs, fmt.Errorf("pglock: WithTable(%q): %q is not a plain SQL name (letters, digits, underscores, at most 57)", c.table, p))
				break
			}
		}
	}
	if c.interval <= 0 {
		errs = append(errs, fmt.Errorf("pglock: WithCheckInterval(%v): must be positive", c.interval))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("pglock: WithCheckTimeout(%v): must be positive", c.timeout))
	}
	if c.session == 0 {
		c.session = max(DefaultSessionTimeout, 3*c.interval+c.timeout)
	} else if c.interval > 0 && c.session < 2*c.interval {
		errs = append(errs, fmt.Errorf("pglock: WithSessionTimeout(%v): must be at least two check intervals (%v)", c.session, 2*c.interval))
	}
	return c, errors.Join(errs...)
}

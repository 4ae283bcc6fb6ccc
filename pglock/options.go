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
// WithCheckTimeout says otherwise. With DefaultCheckInterval, a holder cut
// off from the server stops within 6 s, before DefaultSessionTimeout lets
// the server give the lock to another run; and it leaves a loaded host
// (many jobs starting at once on a few cores) room to answer a check.
const DefaultCheckTimeout = 5 * time.Second

// DefaultConnectTimeout bounds the opening of each connection (TCP, TLS,
// authentication) unless WithConnectTimeout says otherwise.
const DefaultConnectTimeout = 30 * time.Second

// DefaultQueryTimeout bounds the statements of each operation on the
// server unless WithQueryTimeout says otherwise.
const DefaultQueryTimeout = 30 * time.Second

// DefaultSessionTimeout is how long the server keeps a held lock's
// session after its checks stop arriving, unless WithSessionTimeout says
// otherwise. It is longer than DefaultCheckInterval plus
// DefaultCheckTimeout (6 s), so a holder cut off from the server stops
// before the server lets another run in.
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
	connect  time.Duration
	query    time.Duration
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
// lock: a server that does not answer within it counts as lost, and the
// lost lock's error (pigging.ErrLockLost) wraps a *TimeoutError that names
// it. A shorter bound notices a silent server sooner; a longer one bears a
// slower host or server, but a cut-off holder takes up to a check interval
// plus this bound to stop, which must stay under WithSessionTimeout. The
// default is DefaultCheckTimeout (5 s).
func WithCheckTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = d })
}

// WithConnectTimeout bounds the opening of each connection to the server:
// TCP, TLS and authentication (a SCRAM handshake costs CPU on both ends,
// and many jobs starting at once on a loaded host take seconds). When it
// runs out, the error wraps a *TimeoutError that names it. The
// caller's ctx can end the wait sooner by being cancelled, not by its
// deadline (see Locker.Acquire). The default is DefaultConnectTimeout
// (30 s).
func WithConnectTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.connect = d })
}

// WithQueryTimeout bounds the statements of each operation once its
// connection is open: those of one Acquire (the table's creation, the
// lock, the row), of one Inspect or Clear, of one write of a held lock's
// row, and of its release. When it runs out, the error wraps a
// *TimeoutError that names it. The checks of a held lock have their own
// bound, WithCheckTimeout. The default is DefaultQueryTimeout (30 s).
func WithQueryTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.query = d })
}

// WithSessionTimeout sets how long the server keeps the session that
// holds a run's lock, and with it the lock, once the session's checks
// (every WithCheckInterval) stop arriving: the session's
// idle_session_timeout (PostgreSQL 14 and later) and
// idle_in_transaction_session_timeout. It bounds how long a holder cut off
// from the server (a network partition, a proxy that stopped forwarding
// but keeps its sockets open, a frozen VM) keeps every other host out,
// whatever sits in between; a run paused longer than it loses its lock. It
// must be longer than two check intervals and than a check interval plus
// the check timeout (6 s with the defaults), so that a cut-off holder
// stops before the server lets another run in. The default is
// DefaultSessionTimeout (10 s), or three check intervals plus the check
// timeout when that is longer.
func WithSessionTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.session = d })
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,56}$`)

// newConfig applies the defaults, then opts, then checks the result.
func newConfig(opts []Option) (config, error) {
	c := config{table: DefaultTable, interval: DefaultCheckInterval, timeout: DefaultCheckTimeout,
		connect: DefaultConnectTimeout, query: DefaultQueryTimeout}
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
	if c.connect <= 0 {
		errs = append(errs, fmt.Errorf("pglock: WithConnectTimeout(%v): must be positive", c.connect))
	}
	if c.query <= 0 {
		errs = append(errs, fmt.Errorf("pglock: WithQueryTimeout(%v): must be positive", c.query))
	}
	if c.session == 0 {
		c.session = max(DefaultSessionTimeout, 3*c.interval+c.timeout)
	} else if c.interval > 0 && c.timeout > 0 && c.session <= max(2*c.interval, c.interval+c.timeout) {
		// The holder must give up (interval + timeout after its last
		// answered check) before the server lets another run in.
		errs = append(errs, fmt.Errorf("pglock: WithSessionTimeout(%v): must be longer than two check intervals and than a check interval plus the check timeout (%v)",
			c.session, max(2*c.interval, c.interval+c.timeout)))
	}
	return c, errors.Join(errs...)
}

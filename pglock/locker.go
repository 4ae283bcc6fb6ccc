package pglock

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pigging-go/pigging/internal/shell"
	"github.com/pigging-go/pigging/pigging"
)

// Locker keeps one job's lock and its fail-stop state in PostgreSQL. It is
// a pigging.Locker: give it to a Tracker with pigging.WithLocker. It is
// safe for concurrent use; at most one run holds the lock at a time, in
// this process or any other, on any host.
type Locker struct {
	conn           *pgx.ConnConfig // parsed once; copied for each connection
	job            string
	key            int64
	table          pgx.Identifier
	seq            pgx.Identifier
	runs           pgx.Identifier
	tableRaw       string
	host           string
	interval       time.Duration
	timeout        time.Duration
	session        time.Duration
	connectTimeout time.Duration
	queryTimeout   time.Duration
	target         string // the server without the password, for messages

	schemaMu sync.Mutex
	schemaOK bool

	current atomic.Pointer[lease] // the lease this Locker holds, if any
}

var _ pigging.Locker = (*Locker)(nil)

// New returns a Locker for job in the PostgreSQL database that dsn names
// (a URL, postgres://user:password@host:port/db, or key=value pairs, as
// pgx reads them; PG* environment variables fill in what dsn leaves out).
// It only checks its arguments and connects to nothing; the table and its
// sequence are created, when missing, by the first Acquire.
//
// It returns an error for a job name it cannot use (a *JobError, which
// matches ErrInvalidJob: empty, longer than MaxJobLen bytes, not UTF-8, or
// with a NUL byte), a dsn that cannot be parsed, or a bad option. The
// error never shows the password. The connections' application_name is
// "pigging <job>", or the one dsn sets, cut to the 63 bytes the server
// keeps.
func New(dsn string, job string, opts ...Option) (*Locker, error) {
	c, err := newConfig(opts)
	if jerr := checkJob(job); jerr != nil {
		err = errors.Join(jerr, err)
	}
	cc, perr := pgx.ParseConfig(dsn)
	if perr != nil {
		// pgx's message hides the password; ours says what to fix.
		err = errors.Join(fmt.Errorf("pglock: the DSN cannot be parsed: %w", perr), err)
	}
	if err != nil {
		return nil, err
	}
	if c.host == "" {
		c.host, _ = os.Hostname()
	}
	// The server keeps 63 bytes of it; a longer one only makes the
	// startup message larger, up to a size the server refuses.
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "pigging " + job
	}
	cc.RuntimeParams["application_name"] = cutName(cc.RuntimeParams["application_name"], maxAppName)
	l := &Locker{
		conn:           cc,
		job:            job,
		key:            lockKey(c.table, job),
		tableRaw:       c.table,
		table:          pgx.Identifier(strings.Split(c.table, ".")),
		seq:            pgx.Identifier(strings.Split(c.table+"_token", ".")),
		runs:           pgx.Identifier(strings.Split(c.table+"_runs", ".")),
		host:           c.host,
		interval:       c.interval,
		timeout:        c.timeout,
		session:        c.session,
		connectTimeout: c.connect,
		queryTimeout:   c.query,
		target:         target(cc),
	}
	return l, nil
}

// lockKey is the advisory lock's key: the FNV-1a 64-bit hash of
// "pigging\x00<table>\x00<job>", as a signed bigint.
func lockKey(table, job string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pigging\x00" + table + "\x00" + job))
	return int64(h.Sum64())
}

// target names the server and database of cc without its password.
func target(cc *pgx.ConnConfig) string {
	host := cc.Host
	if !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, strconv.Itoa(int(cc.Port)))
	} else {
		host = host + ":" + strconv.Itoa(int(cc.Port))
	}
	return "postgres://" + cc.User + "@" + host + "/" + cc.Database
}

// String names the lock in messages: the table, the job and the server,
// never the password.
func (l *Locker) String() string {
	return l.tableRaw + " row " + strconv.Quote(l.job) + " (" + l.target + ")"
}

var _ pigging.ClearAdvisor = (*Locker)(nil)

// ClearAdvice says how a person clears the job's stale lock, which a run
// refused by it says at the end of its message: the command, pigging
// unlock --pg "$PIGGING_PG_DSN" --name JOB (with --pg-table TABLE when the
// table is not DefaultTable; the job and table quoted for a POSIX shell
// where they need it), and "(Locker.Clear in Go)". It names the DSN's
// environment variable, never the DSN or its password. It cannot fail.
func (l *Locker) ClearAdvice() string {
	var b strings.Builder
	b.WriteString(`pigging unlock --pg "$PIGGING_PG_DSN"`)
	if l.tableRaw != DefaultTable {
		b.WriteString(" --pg-table ")
		b.WriteString(shell.Word(l.tableRaw))
	}
	b.WriteString(" --name ")
	b.WriteString(shell.Word(l.job))
	b.WriteString(" (Locker.Clear in Go)")
	return b.String()
}

// Job returns the job name the lock is for.
func (l *Locker) Job() string { return l.job }

// Token returns the fencing token of the run that holds the lock through
// this Locker, or 0 when none does. Each acquisition of any job in the
// table gets a larger token than all before it (a PostgreSQL sequence), so
// a system a job writes to can refuse a write that carries a token smaller
// than one it has already seen: the write of a run that lost its lock
// while a newer run goes on. A run that has lost its lock keeps its token
// until it ends. It is safe for concurrent use.
func (l *Locker) Token() int64 {
	if s := l.current.Load(); s != nil {
		return s.token
	}
	return 0
}

// connect opens a connection, with an error that says which server could
// not be reached and why (pgx's cause: refused, no such host, password
// authentication failed), never the password.
// It is bounded by the connect timeout, and says so when that runs out.
func (l *Locker) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := bound(ctx, l.connectTimeout, "WithConnectTimeout")
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, l.conn.Copy())
	if err != nil {
		return nil, fmt.Errorf("pglock: cannot connect to %s for job %q: %w", l.target, l.job, boundErr(ctx, err))
	}
	return conn, nil
}

// Acquire tries the lock without waiting: a session-level advisory lock on
// a connection of its own, held until the lease ends. When another session
// holds it, the result has a nil Lease and the holder's row. When it is
// taken, a row left behind (status running: its run died, as its session
// ended; failed or cancelled) makes the result stale. A fresh lock gets its
// row (status running, a new fencing token) at once; a stale one keeps the
// old row until the Tracker writes its own (Lease.Update), so that a
// refused run changes nothing.
//
// A database that cannot be reached, or a query that fails, is an error
// naming the server, and leaves nothing changed; one that does not answer
// within WithConnectTimeout or WithQueryTimeout is an error that wraps a
// *TimeoutError naming the bound. Those bounds are Acquire's, not a
// deadline on ctx (the Tracker puts a fixed one on every call on its lock,
// which a loaded server can exceed); cancelling ctx ends the wait.
func (l *Locker) Acquire(ctx context.Context, info *pigging.LockInfo) (pigging.Acquired, error) {
	ctx, stop := ownBounds(ctx)
	defer stop()
	conn, err := l.connect(ctx)
	if err != nil {
		return pigging.Acquired{}, err
	}
	ctx, cancel := l.queryBound(ctx)
	defer cancel()
	closeConn := func() { closeQuietly(conn) }
	if err := l.ensureSchema(ctx, conn); err != nil {
		closeConn()
		return pigging.Acquired{}, err
	}
	if err := l.limitSession(ctx, conn); err != nil {
		closeConn()
		return pigging.Acquired{}, err
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&got); err != nil {
		closeConn()
		return pigging.Acquired{}, l.queryErr(ctx, "trying the lock", err)
	}
	if !got {
		holder, detail, err := l.liveHolder(ctx, conn)
		closeConn()
		if err != nil {
			return pigging.Acquired{}, err
		}
		return pigging.Acquired{Holder: holder, Detail: detail}, nil
	}

	s := &lease{l: l, conn: conn, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	if info != nil {
		s.info = *info
	}
	fail := func(err error) (pigging.Acquired, error) {
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", l.key)
		closeConn()
		return pigging.Acquired{}, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&s.backend); err != nil {
		return fail(l.queryErr(ctx, "reading the session's pid", err))
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fail(l.queryErr(ctx, "beginning a transaction", err))
	}
	// FOR UPDATE waits for a run that is letting go (its last write and
	// its unlock are one transaction), so the row read is the one it left.
	prev, err := l.readRow(ctx, tx, " FOR UPDATE")
	if err == nil {
		err = tx.QueryRow(ctx, "SELECT nextval('"+l.seq.Sanitize()+"')").Scan(&s.token)
	}
	if err == nil && prev == nil {
		s.info.Status = pigging.StateRunning
		err = s.write(ctx, tx, &s.info)
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		_ = tx.Rollback(context.Background())
		return fail(l.queryErr(ctx, "claiming the job's row", err))
	}
	s.prev = prev
	s.written = prev == nil
	l.current.Store(s)
	go s.watch()
	a := pigging.Acquired{Lease: s}
	if prev != nil {
		a.Holder, a.Stale = prev.info(), true
	}
	return a, nil
}

// limitSession tells the server to end conn's session once it has been
// idle for the session timeout, in or out of a transaction, so that a
// holder that goes silent does not keep the lock until TCP keepalives
// fire (hours by default, and never when a proxy answers them). The
// watcher's checks keep a live holder's session busy often enough.
// idle_session_timeout exists from PostgreSQL 14; an older server has only
// the transaction one.
func (l *Locker) limitSession(ctx context.Context, conn *pgx.Conn) error {
	ms := strconv.FormatInt(l.session.Milliseconds(), 10)
	sql := "SELECT set_config('idle_in_transaction_session_timeout', $1, false)"
	if serverMajor(conn) >= 14 {
		sql += ", set_config('idle_session_timeout', $1, false)"
	}
	if _, err := conn.Exec(ctx, sql, ms); err != nil {
		return l.queryErr(ctx, "setting the session's idle timeout", err)
	}
	return nil
}

// serverMajor returns the server's major version, or 0 when it does not
// say.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(v[:i])
	return n
}

// liveHolder says who holds the lock: the row, when the session that
// holds the advisory lock is the one the row names; else nil and why.
func (l *Locker) liveHolder(ctx context.Context, conn *pgx.Conn) (*pigging.LockInfo, string, error) {
	pid, err := l.lockHolder(ctx, conn)
	if err != nil {
		return nil, "", l.queryErr(ctx, "reading who holds the lock", err)
	}
	r, err := l.readRow(ctx, conn, "")
	if err != nil {
		return nil, "", l.queryErr(ctx, "reading the job's row", err)
	}
	switch {
	case pid == nil:
		return nil, "it was let go of while this run looked; try again", nil
	case r != nil && r.backendPID == *pid:
		return r.info(), "", nil
	}
	return nil, "database session " + strconv.Itoa(int(*pid)) + " holds it and has not written its row yet", nil
}

// lockHolder returns the pid of the session that holds the advisory lock,
// or nil when none does.
func (l *Locker) lockHolder(ctx context.Context, q querier) (*int32, error) {
	var pid *int32
	err := q.QueryRow(ctx, `SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE l.locktype = 'advisory' AND d.datname = current_database()
		AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1 AND l.granted
		LIMIT 1`, int64(uint64(l.key)>>32), int64(uint64(l.key)&0xffffffff)).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return pid, err
}

// Inspect reports the job's state without changing it: free (no row),
// running (a live session holds the advisory lock) or stale (a row that no
// live session holds), with what the row says. To tell a live holder from
// a dead one it takes the advisory lock for the length of one transaction
// when nobody holds it; a Start that tries the lock in that instant is
// refused as if a run were in progress. A missing table is a free lock.
func (l *Locker) Inspect(ctx context.Context) (*pigging.LockStatus, error) {
	return l.probe(ctx, false)
}

// Clear removes a stale lock's row and returns what it said. A lock held
// by a live session is refused with a *pigging.LockError that unwraps to
// pigging.ErrLocked, and nothing changes; a free lock is not an error.
// Unlike pigging.Unlock it adds no record to the run's log, which may be
// on another host.
func (l *Locker) Clear(ctx context.Context) (*pigging.LockStatus, error) {
	return l.probe(ctx, true)
}

func (l *Locker) probe(ctx context.Context, clear bool) (*pigging.LockStatus, error) {
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer closeQuietly(conn)
	ctx, cancel := l.queryBound(ctx)
	defer cancel()
	st := &pigging.LockStatus{Path: l.String()}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", l.table.Sanitize()).Scan(&exists); err != nil {
		return nil, l.queryErr(ctx, "looking for the table", err)
	}
	if !exists {
		return st, nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, l.queryErr(ctx, "beginning a transaction", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	var got bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", l.key).Scan(&got); err != nil {
		return nil, l.queryErr(ctx, "probing the lock", err)
	}
	if !got {
		st.State = pigging.LockRunning
		st.Holder, st.Detail, err = l.liveHolder(ctx, conn)
		if err != nil {
			return nil, err
		}
		if clear {
			return st, &pigging.LockError{Path: l.String(), Holder: st.Holder, Err: pigging.ErrLocked, Detail: st.Detail}
		}
		return st, nil
	}
	r, err := l.readRow(ctx, tx, " FOR UPDATE")
	if err != nil {
		return nil, l.queryErr(ctx, "reading the job's row", err)
	}
	if r == nil {
		return st, nil
	}
	st.State, st.Holder = pigging.LockStale, r.info()
	if !clear {
		return st, nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+l.table.Sanitize()+" WHERE job = $1", l.job); err != nil {
		return st, l.queryErr(ctx, "deleting the job's row", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return st, l.queryErr(ctx, "deleting the job's row", err)
	}
	return st, nil
}

// queryErr says what failed, on which server and job, and which bound of
// ctx ran out, if one did.
func (l *Locker) queryErr(ctx context.Context, what string, err error) error {
	return fmt.Errorf("pglock: %s of job %q in %s at %s: %w", what, l.job, l.tableRaw, l.target, boundErr(ctx, err))
}

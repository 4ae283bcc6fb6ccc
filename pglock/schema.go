package pglock

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pigging-go/pigging/pigging"
)

// maxError is the most of a run's error text the row keeps; the log has
// the whole of it.
const maxError = 4 << 10

// schemaKey is the transaction-level advisory lock taken while the tables
// are created or brought up to date, so that runs starting together do not
// race on the DDL.
var schemaKey = lockKey("", "create table")

// The statuses the lock table's CHECK accepts: the run states of a run that
// holds the lock or left it (pigging.StateRunning, StateFailure,
// StateError, StateTimeout, StateCancellation), and the "failed" and
// "cancelled" that versions before the run states wrote.
const statusValues = "'running', 'failure', 'error', 'timeout', 'cancellation', 'failed', 'cancelled'"

// DDL returns the statements that create the lock table, its sequence of
// fencing tokens and the runs table (the run history, see Locker.AppendRun)
// for the table name given (as WithTable takes it), and that bring a lock
// table created by an earlier version up to date (the exit status columns,
// the status CHECK with the run states). They can be run again: each only
// adds what is missing. Acquire and AppendRun run them when the schema is
// not current; a database where the job's role may not create or alter
// tables needs them run once beforehand by a role that may.
func DDL(table string) string {
	t := pgx.Identifier(splitName(table)).Sanitize()
	s := pgx.Identifier(splitName(table + "_token")).Sanitize()
	r := pgx.Identifier(splitName(table + "_runs")).Sanitize()
	check := pgx.Identifier{statusCheck(table)}.Sanitize()
	idx := pgx.Identifier{runsIndex(table)}.Sanitize()
	return `CREATE TABLE IF NOT EXISTS ` + t + ` (
    job         text        PRIMARY KEY,
    pid         integer     NOT NULL,
    host        text        NOT NULL,
    started     timestamptz NOT NULL,
    trace_id    text        NOT NULL DEFAULT '',
    span_id     text        NOT NULL DEFAULT '',
    status      text        NOT NULL,
    error       text        NOT NULL DEFAULT '',
    log         text        NOT NULL DEFAULT '',
    token       bigint      NOT NULL,
    backend_pid integer     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    exit_code   integer,
    exit_source text        NOT NULL DEFAULT ''
);
-- Tables created by earlier versions: the exit status, and the statuses.
ALTER TABLE ` + t + `
    ADD COLUMN IF NOT EXISTS exit_code   integer,
    ADD COLUMN IF NOT EXISTS exit_source text NOT NULL DEFAULT '',
    DROP CONSTRAINT IF EXISTS ` + check + `,
    ADD CONSTRAINT ` + check + ` CHECK (status IN
        (` + statusValues + `));
CREATE SEQUENCE IF NOT EXISTS ` + s + `;
CREATE TABLE IF NOT EXISTS ` + r + ` (
    id          bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text             NOT NULL,
    host        text             NOT NULL,
    pid         integer          NOT NULL,
    started     timestamptz      NOT NULL,
    ended       timestamptz,
    duration_s  double precision NOT NULL DEFAULT 0,
    result      text             NOT NULL,
    error       text             NOT NULL DEFAULT '',
    exit_code   integer,
    exit_source text             NOT NULL DEFAULT '',
    trace_id    text             NOT NULL DEFAULT '',
    span_id     text             NOT NULL DEFAULT '',
    log         text             NOT NULL DEFAULT '',
    stages      jsonb            NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + r + ` (job, id DESC);
`
}

// statusCheck is the name of the lock table's status CHECK: the one the
// server gave the column's CHECK of earlier versions' DDL, so that the
// DDL replaces it. The server builds it from the table's name, cut to 50
// bytes, and "_status_check", to fit its 63.
func statusCheck(table string) string {
	parts := splitName(table)
	return cutName(parts[len(parts)-1], 50) + "_status_check"
}

// runsIndex is the name of the runs table's index on (job, id DESC), cut to
// the 63 bytes the server keeps of a name; an index lives in its table's
// schema.
func runsIndex(table string) string {
	const suffix = "_runs_job_idx"
	parts := splitName(table)
	return cutName(parts[len(parts)-1], 63-len(suffix)) + suffix
}

// ensureSchema runs the DDL, once per Locker, when the schema is not
// current: a table, the sequence or the runs table missing, or a lock table
// from an earlier version (without the exit status columns, or with the
// status CHECK that does not take the run states). It runs under a
// transaction-level advisory lock, so runs starting together on any host
// run it one after the other.
func (l *Locker) ensureSchema(ctx context.Context, conn *pgx.Conn) error {
	l.schemaMu.Lock()
	defer l.schemaMu.Unlock()
	if l.schemaOK {
		return nil
	}
	current, err := l.schemaCurrent(ctx, conn)
	if err == nil && !current {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaKey); err != nil {
				return err
			}
			// Another run may have done it while this one waited.
			if ok, err := l.schemaCurrent(ctx, tx); err != nil || ok {
				return err
			}
			_, err := tx.Exec(ctx, DDL(l.tableRaw))
			return err
		})
	}
	if err != nil {
		return l.queryErr(ctx, "creating or updating the tables (pglock.DDL, run by a role that may)", err)
	}
	l.schemaOK = true
	return nil
}

// schemaCurrent reports whether the tables are as DDL makes them.
func (l *Locker) schemaCurrent(ctx context.Context, q querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL
		AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'exit_source' AND NOT attisdropped)
		AND EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $4
			AND pg_get_constraintdef(oid) LIKE '%''cancellation''%')`,
		l.table.Sanitize(), l.seq.Sanitize(), l.runs.Sanitize(), statusCheck(l.tableRaw)).Scan(&ok)
	return ok, err
}

// row is a job's row, as the table has it.
type row struct {
	pid, backendPID            int32
	host, job, traceID, spanID string
	status, errText, log       string
	started, updated           time.Time
	token                      int64
	exitCode                   *int32
	exitSource                 string
}

// info returns what the row says of its run, its status in the run states:
// the "failed" and "cancelled" of earlier versions read as failure and
// cancellation.
func (r *row) info() *pigging.LockInfo {
	i := &pigging.LockInfo{PID: int(r.pid), Host: r.host, Job: r.job, Started: r.started.UTC(),
		TraceID: r.traceID, SpanID: r.spanID, Error: r.errText, Log: r.log, ExitSource: r.exitSource}
	i.Status = pigging.RunState(r.status)
	switch r.status {
	case "failed":
		i.Status = pigging.StateFailure
	case "cancelled":
		i.Status = pigging.StateCancellation
	}
	if r.exitCode != nil {
		c := int(*r.exitCode)
		i.ExitCode = &c
	}
	return i
}

// exitCode returns c as the row's exit_code, nil when the run set none or
// it does not fit the column (an exit status is a byte on Unix, 32 bits on
// Windows).
func exitCode(c *int) *int32 {
	if c == nil || *c != int(int32(*c)) {
		return nil
	}
	v := int32(*c)
	return &v
}

// querier is a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// rowColumns are the columns of a row. Inspect and Clear read a table of
// an earlier version as it is, without altering it: the columns it may
// lack are read through to_jsonb: NULL, and an empty exit_source, when
// missing.
const rowColumns = `pid, backend_pid, host, job, trace_id, span_id, status, error, log, started, updated_at, token,
	(to_jsonb(r)->>'exit_code')::integer, coalesce(to_jsonb(r)->>'exit_source', '')`

// readRow reads the job's row, or nil when there is none; suffix is added
// to the query (" FOR UPDATE").
func (l *Locker) readRow(ctx context.Context, q querier, suffix string) (*row, error) {
	var r row
	err := q.QueryRow(ctx, "SELECT "+rowColumns+" FROM "+l.table.Sanitize()+" r WHERE job = $1"+suffix, l.job).
		Scan(&r.pid, &r.backendPID, &r.host, &r.job, &r.traceID, &r.spanID, &r.status, &r.errText, &r.log, &r.started, &r.updated, &r.token,
			&r.exitCode, &r.exitSource)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// putRow writes r as the job's row, replacing any.
func (l *Locker) putRow(ctx context.Context, q querier, r *row) error {
	_, err := q.Exec(ctx, `INSERT INTO `+l.table.Sanitize()+`
		(job, trace_id, span_id, status, error, log, started, updated_at, token, pid, backend_pid, host, exit_code, exit_source)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (job) DO UPDATE SET trace_id = EXCLUDED.trace_id, span_id = EXCLUDED.span_id,
			status = EXCLUDED.status, error = EXCLUDED.error, log = EXCLUDED.log, started = EXCLUDED.started,
			updated_at = EXCLUDED.updated_at, token = EXCLUDED.token, pid = EXCLUDED.pid,
			backend_pid = EXCLUDED.backend_pid, host = EXCLUDED.host,
			exit_code = EXCLUDED.exit_code, exit_source = EXCLUDED.exit_source`,
		l.job, r.traceID, r.spanID, r.status, cutText(r.errText, maxError), r.log, r.started, r.updated, r.token,
		r.pid, r.backendPID, r.host, r.exitCode, r.exitSource)
	return err
}

// cutText returns s cut to at most n bytes, on a rune boundary, saying
// where it was cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + " …[cut: " + strconv.Itoa(len(s)-cut) + " more bytes; the log has the whole text]"
}

func splitName(name string) []string {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return []string{name[:i], name[i+1:]}
		}
	}
	return []string{name}
}

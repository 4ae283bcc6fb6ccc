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

// schemaKey is the transaction-level advisory lock taken while the table
// is created, so that runs starting together do not race on the DDL.
var schemaKey = lockKey("", "create table")

// DDL returns the statements that create the table and its sequence of
// fencing tokens, for the table name given (as WithTable takes it). The
// first Acquire runs them when the table is missing; a database where the
// job's role may not create tables needs them run once beforehand.
func DDL(table string) string {
	t := pgx.Identifier(splitName(table)).Sanitize()
	s := pgx.Identifier(splitName(table + "_token")).Sanitize()
	return `CREATE TABLE IF NOT EXISTS ` + t + ` (
    job         text        PRIMARY KEY,
    pid         integer     NOT NULL,
    host        text        NOT NULL,
    started     timestamptz NOT NULL,
    trace_id    text        NOT NULL DEFAULT '',
    span_id     text        NOT NULL DEFAULT '',
    status      text        NOT NULL CHECK (status IN ('running', 'failed', 'cancelled')),
    error       text        NOT NULL DEFAULT '',
    log         text        NOT NULL DEFAULT '',
    token       bigint      NOT NULL,
    backend_pid integer     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE IF NOT EXISTS ` + s + `;
`
}

// ensureSchema creates the table and the sequence when missing, once per
// Locker.
func (l *Locker) ensureSchema(ctx context.Context, conn *pgx.Conn) error {
	l.schemaMu.Lock()
	defer l.schemaMu.Unlock()
	if l.schemaOK {
		return nil
	}
	var ok bool
	err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
		l.table.Sanitize(), l.seq.Sanitize()).Scan(&ok)
	if err == nil && !ok {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaKey); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, DDL(l.tableRaw))
			return err
		})
	}
	if err != nil {
		return l.queryErr(ctx, "creating the table", err)
	}
	l.schemaOK = true
	return nil
}

// row is a job's row.
type row struct {
	pid, backendPID            int32
	host, job, traceID, spanID string
	status, errText, log       string
	started, updated           time.Time
	token                      int64
}

func (r *row) info() *pigging.LockInfo {
	return &pigging.LockInfo{PID: int(r.pid), Host: r.host, Job: r.job, Started: r.started.UTC(),
		TraceID: r.traceID, SpanID: r.spanID, Status: pigging.RunState(r.status), Error: r.errText, Log: r.log}
}

// querier is a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

const rowColumns = "pid, backend_pid, host, job, trace_id, span_id, status, error, log, started, updated_at, token"

// readRow reads the job's row, or nil when there is none; suffix is added
// to the query (" FOR UPDATE").
func (l *Locker) readRow(ctx context.Context, q querier, suffix string) (*row, error) {
	var r row
	err := q.QueryRow(ctx, "SELECT "+rowColumns+" FROM "+l.table.Sanitize()+" WHERE job = $1"+suffix, l.job).
		Scan(&r.pid, &r.backendPID, &r.host, &r.job, &r.traceID, &r.spanID, &r.status, &r.errText, &r.log, &r.started, &r.updated, &r.token)
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
		(job, trace_id, span_id, status, error, log, started, updated_at, token, pid, backend_pid, host)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (job) DO UPDATE SET trace_id = EXCLUDED.trace_id, span_id = EXCLUDED.span_id,
			status = EXCLUDED.status, error = EXCLUDED.error, log = EXCLUDED.log, started = EXCLUDED.started,
			updated_at = EXCLUDED.updated_at, token = EXCLUDED.token, pid = EXCLUDED.pid,
			backend_pid = EXCLUDED.backend_pid, host = EXCLUDED.host`,
		l.job, r.traceID, r.spanID, r.status, cutText(r.errText, maxError), r.log, r.started, r.updated, r.token,
		r.pid, r.backendPID, r.host)
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

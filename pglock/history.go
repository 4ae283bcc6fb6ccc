package pglock

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pigging-go/pigging/pigging"
)

var _ pigging.History = (*Locker)(nil)

// runColumns are the columns of the runs table that make a pigging.RunEntry.
const runColumns = "job, host, pid, started, ended, duration_s, result, error, exit_code, exit_source, trace_id, span_id, log, stages"

// AppendRun adds e to the job's run history, the runs table ("<table>_runs",
// see DDL), and deletes the job's entries beyond the newest keep (none when
// keep <= 0), in one transaction: the entry is added whole or not at all,
// and other jobs' entries are left alone. The entry is filed under the
// Locker's job and host (Job, WithHost), as the lock's row is; its error
// is cut at pigging.MaxHistoryError bytes, and an exit code that does not
// fit the column's 32 bits is left out. It creates or updates the tables
// as Acquire does when they are not current.
//
// A database that cannot be reached, or a statement that fails, is an
// error naming what failed, the server and the job, never the password;
// one that does not answer within WithConnectTimeout or WithQueryTimeout
// wraps a *TimeoutError naming the bound. Like Acquire, it is bounded by
// those options rather than by a deadline on ctx; cancelling ctx ends it.
// It is safe for concurrent use, from any number of processes and hosts.
func (l *Locker) AppendRun(ctx context.Context, e *pigging.RunEntry, keep int) error {
	if e == nil {
		return fmt.Errorf("pglock: AppendRun of job %q: no entry (nil)", l.job)
	}
	stages := []byte("[]")
	if len(e.Stages) > 0 {
		var err error
		if stages, err = json.Marshal(e.Stages); err != nil {
			return fmt.Errorf("pglock: AppendRun of job %q: encoding the run's stages: %w", l.job, err)
		}
	}
	var ended *time.Time
	if !e.Ended.IsZero() {
		ended = &e.Ended
	}
	ctx, stop := ownBounds(ctx)
	defer stop()
	conn, err := l.connect(ctx)
	if err != nil {
		return err
	}
	defer closeQuietly(conn)
	ctx, cancel := l.queryBound(ctx)
	defer cancel()
	if err := l.ensureSchema(ctx, conn); err != nil {
		return err
	}
	runs := l.runs.Sanitize()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO "+runs+" ("+runColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			l.job, l.host, e.PID, e.Started, ended, e.Duration, string(e.Result),
			cutText(e.Error, pigging.MaxHistoryError), exitCode(e.ExitCode), e.ExitSource,
			e.TraceID, e.SpanID, e.Log, string(stages)); err != nil {
			return err
		}
		if keep <= 0 {
			return nil
		}
		_, err := tx.Exec(ctx, "DELETE FROM "+runs+" WHERE job = $1 AND id <= (SELECT id FROM "+runs+
			" WHERE job = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)", l.job, keep)
		return err
	})
	if err != nil {
		return l.queryErr(ctx, "appending to the run history", err)
	}
	return nil
}

// Runs returns the job's last n entries in the runs table, newest first;
// all of them when n <= 0. A job without entries, or a database without
// the runs table, has an empty history, which is not an error; it creates
// nothing. Stages that do not decode (a row edited by hand) are left out
// of their entry.
//
// A database that cannot be reached, or a query that fails, is an error
// naming what failed, the server and the job, never the password; one
// that does not answer within WithConnectTimeout or WithQueryTimeout wraps
// a *TimeoutError naming the bound. It is safe for concurrent use.
func (l *Locker) Runs(ctx context.Context, n int) ([]pigging.RunEntry, error) {
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer closeQuietly(conn)
	ctx, cancel := l.queryBound(ctx)
	defer cancel()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", l.runs.Sanitize()).Scan(&exists); err != nil {
		return nil, l.queryErr(ctx, "looking for the runs table", err)
	}
	if !exists {
		return nil, nil
	}
	var limit *int
	if n > 0 {
		limit = &n
	}
	rows, err := conn.Query(ctx, "SELECT "+runColumns+" FROM "+l.runs.Sanitize()+
		" WHERE job = $1 ORDER BY id DESC LIMIT $2", l.job, limit)
	if err != nil {
		return nil, l.queryErr(ctx, "reading the run history", err)
	}
	var out []pigging.RunEntry
	for rows.Next() {
		var (
			e        pigging.RunEntry
			ended    *time.Time
			result   string
			exitCode *int32
			stages   []byte
		)
		if err := rows.Scan(&e.Job, &e.Host, &e.PID, &e.Started, &ended, &e.Duration, &result, &e.Error,
			&exitCode, &e.ExitSource, &e.TraceID, &e.SpanID, &e.Log, &stages); err != nil {
			rows.Close()
			return nil, l.queryErr(ctx, "reading the run history", err)
		}
		e.Started = e.Started.UTC()
		if ended != nil {
			e.Ended = ended.UTC()
		}
		e.Result = pigging.RunState(result)
		if exitCode != nil {
			c := int(*exitCode)
			e.ExitCode = &c
		}
		if json.Unmarshal(stages, &e.Stages) != nil || len(e.Stages) == 0 {
			e.Stages = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, l.queryErr(ctx, "reading the run history", err)
	}
	return out, nil
}

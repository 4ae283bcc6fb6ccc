package pglock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pigging-go/pigging/pigging"
)

// lease is a held lock: the dedicated connection whose session holds the
// advisory lock, and the run's row. A goroutine checks the connection
// every interval and closes lost when a check fails.
type lease struct {
	l       *Locker
	token   int64
	backend int32 // the session's pid on the server
	prev    *row  // the row before this run wrote its own; nil when none
	lost    chan struct{}
	stop    chan struct{} // closed when the lease ends, to stop the watcher
	done    chan struct{} // closed when the watcher has returned

	mu      sync.Mutex // serialises the use of conn and guards what follows
	conn    *pgx.Conn
	info    pigging.LockInfo // what the row says of this run
	written bool             // the row is this run's
	ended   bool
	lostErr error  // wraps pigging.ErrLockLost once the session is lost
	cause   string // why the session was lost, for the row
}

var _ pigging.Lease = (*lease)(nil)

var errEnded = errors.New("pglock: the lease has already ended")

// write makes info this run's row.
func (s *lease) write(ctx context.Context, q querier, info *pigging.LockInfo) error {
	return s.l.putRow(ctx, q, &row{
		pid: int32(info.PID), backendPID: s.backend, host: s.l.host, job: s.l.job,
		traceID: info.TraceID, spanID: info.SpanID, status: string(info.Status), errText: info.Error,
		log: info.Log, started: info.Started, updated: time.Now(), token: s.token,
		exitCode: exitCode(info.ExitCode), exitSource: info.ExitSource,
	})
}

// Update writes info as the run's row. It returns an error wrapping
// pigging.ErrLockLost when the session that holds the lock has ended.
//
// Like Acquire, it is bounded by WithQueryTimeout, not by a deadline on
// ctx.
func (s *lease) Update(ctx context.Context, info *pigging.LockInfo) error {
	ctx, stop := ownBounds(ctx)
	defer stop()
	ctx, cancel := s.l.queryBound(ctx)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.lostErr != nil:
		return s.lostErr
	case s.ended:
		return errEnded
	}
	if err := s.write(ctx, s.conn, info); err != nil {
		return s.failedLocked(ctx, "writing the run's row", err)
	}
	s.info, s.written = *info, true
	return nil
}

// Release deletes the run's row and lets go of the lock, in one
// transaction, and closes the connection.
func (s *lease) Release(ctx context.Context) error {
	return s.finish(ctx, "releasing the lock", func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM "+s.l.table.Sanitize()+" WHERE job = $1 AND token = $2", s.l.job, s.token)
		return err
	})
}

// Keep writes info (its status, error and exit status) as the run's row
// and lets go of the lock, in one transaction, and closes the connection.
// When the session was lost, it writes the status with a new
// connection instead, unless another run holds the lock or has replaced
// the row; when the server still holds the lock for this run's own session
// (the server stopped answering, and has not seen the connection go), it
// ends that session first. It retries while the server cannot be reached
// (a restart) until ctx is done.
func (s *lease) Keep(ctx context.Context, info *pigging.LockInfo) error {
	err := s.finish(ctx, "keeping the failed run's row", func(ctx context.Context, tx pgx.Tx) error {
		return s.write(ctx, tx, info)
	})
	if !errors.Is(err, pigging.ErrLockLost) {
		return err
	}
	return s.keepLost(ctx, info)
}

// Abort puts the row back as Acquire found it (deleted when there was
// none), lets go of the lock, and closes the connection.
func (s *lease) Abort(ctx context.Context) error {
	return s.finish(ctx, "undoing the claim", func(ctx context.Context, tx pgx.Tx) error {
		if !s.written {
			return nil
		}
		if s.prev == nil {
			_, err := tx.Exec(ctx, "DELETE FROM "+s.l.table.Sanitize()+" WHERE job = $1 AND token = $2", s.l.job, s.token)
			return err
		}
		return s.l.putRow(ctx, tx, s.prev)
	})
}

// Lost returns a channel closed when a check finds the connection that
// holds the lock broken, or a query on it fails because it is.
func (s *lease) Lost() <-chan struct{} { return s.lost }

// Check pings the connection that holds the lock; it returns an error
// wrapping pigging.ErrLockLost when the ping fails.
func (s *lease) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lostErr != nil || s.ended {
		return s.lostErr
	}
	return s.pingLocked(ctx)
}

// pingLocked checks the connection, bounded by the check timeout; when
// that runs out, the lost lock's error says so.
func (s *lease) pingLocked(ctx context.Context) error {
	ctx, cancel := bound(ctx, s.l.timeout, "WithCheckTimeout")
	defer cancel()
	if err := s.conn.Ping(ctx); err != nil {
		s.markLostLocked(boundErr(ctx, err))
		return s.lostErr
	}
	return nil
}

// watch checks the connection every interval until the lease ends or the
// connection is found lost.
func (s *lease) watch() {
	defer close(s.done)
	tick := time.NewTicker(s.l.interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		if s.ended || s.lostErr != nil {
			s.mu.Unlock()
			return
		}
		err := s.pingLocked(context.Background())
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// failedLocked returns the error of an operation on the connection: one
// wrapping pigging.ErrLockLost when the connection is broken.
func (s *lease) failedLocked(ctx context.Context, what string, err error) error {
	if s.conn.IsClosed() {
		s.markLostLocked(boundErr(ctx, err))
		return s.lostErr
	}
	return s.l.queryErr(ctx, what, err)
}

// markLostLocked records that the session holding the lock is gone, closes
// lost, and closes the connection so that the server lets go of the lock
// if it has not already. The error wraps cause, and with it the
// *TimeoutError of a bound that ran out.
func (s *lease) markLostLocked(cause error) {
	if s.lostErr != nil {
		return
	}
	const why = "the database session that held the lock ended or stopped answering"
	s.cause = why + ": " + cause.Error()
	s.lostErr = fmt.Errorf("%w: %s: %s: %w", pigging.ErrLockLost, s.l, why, cause)
	close(s.lost)
	closeQuietly(s.conn)
}

// finish ends the lease: fn and the unlock in one transaction (unless the
// lock was lost), then the connection is closed and the watcher stopped.
// The transaction is bounded by WithQueryTimeout, not by a deadline on ctx.
func (s *lease) finish(ctx context.Context, what string, fn func(context.Context, pgx.Tx) error) error {
	ctx, stop := ownBounds(ctx)
	defer stop()
	ctx, cancel := s.l.queryBound(ctx)
	defer cancel()
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return errEnded
	}
	err := s.lostErr
	if err == nil {
		// The unlock is not transactional: it takes effect at once, and a
		// run that takes the lock then waits on the row (FOR UPDATE) until
		// this commits, so it reads what this run left.
		err = pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
			if err := fn(ctx, tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "SELECT pg_advisory_unlock($1)", s.l.key)
			return err
		})
		if err != nil {
			err = s.failedLocked(ctx, what, err)
		}
	}
	s.ended = true
	closeQuietly(s.conn)
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.l.current.CompareAndSwap(s, nil)
	return err
}

// keepLost writes info's status and error into the run's row with a new
// connection, after the one that held the lock was lost: only when no
// live session holds the lock and the row is still this run's.
func (s *lease) keepLost(ctx context.Context, info *pigging.LockInfo) error {
	for {
		err := s.tryKeepLost(ctx, info)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pglock: recording the failure of the run that lost %s: %w", s.l, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *lease) tryKeepLost(ctx context.Context, info *pigging.LockInfo) error {
	text := info.Error
	if !strings.Contains(text, s.cause) {
		text += " (" + s.cause + ")"
	}
	conn, err := s.l.connect(ctx)
	if err != nil {
		return err
	}
	defer closeQuietly(conn)
	ctx, cancel := s.l.queryBound(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", s.l.key).Scan(&got); err != nil {
			return err
		}
		if !got {
			return s.endOwnSession(ctx, tx)
		}
		_, err := tx.Exec(ctx, "UPDATE "+s.l.table.Sanitize()+
			" SET status = $3, error = $4, exit_code = $5, exit_source = $6, updated_at = now() WHERE job = $1 AND token = $2",
			s.l.job, s.token, string(info.Status), cutText(text, maxError), exitCode(info.ExitCode), info.ExitSource)
		return err
	})
}

// errOwnSession is what tryKeepLost returns after ending this run's own
// session, so that it tries again once the server has let go of the lock.
var errOwnSession = errors.New("pglock: the server still held this run's session; it has been ended")

// endOwnSession ends this run's own session when the server still holds
// the lock for it: a server that stopped answering the run, and has not
// yet seen that the connection is gone. The run is over, so nobody is
// helped by the lock staying held, and the failure can then be written.
// When another session holds the lock, a newer run owns the row: it
// returns nil and leaves it.
func (s *lease) endOwnSession(ctx context.Context, tx pgx.Tx) error {
	pid, err := s.l.lockHolder(ctx, tx)
	if err != nil || pid == nil || *pid != s.backend {
		return err
	}
	if _, err := tx.Exec(ctx, "SELECT pg_terminate_backend($1)", s.backend); err != nil {
		return err
	}
	return errOwnSession
}

// closeQuietly closes conn, waiting at most a second.
func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// Package pglock keeps a pigging job's lock and its fail-stop state in
// PostgreSQL, so that a job scheduled on several hosts (an HA cron pair,
// Kubernetes CronJobs, a scheduler with failover) runs once at a time, and
// a run that failed keeps the job blocked on every host until a person has
// looked. It is a pigging.Locker:
//
//	l, err := pglock.New(os.Getenv("PIGGING_PG_DSN"), "nightly-sync")
//	if err != nil {
//		return err
//	}
//	err = pigging.Run(ctx, "etl.log", "", job, pigging.WithLocker(l))
//
// It uses github.com/jackc/pgx/v5; the core packages (pigging,
// middleware, otelpig) do not import it, so they gain no database driver.
//
// # Locking
//
// A run holds a session-level advisory lock (pg_try_advisory_lock) on a
// connection of its own, opened by Acquire and closed when the run ends.
// The server lets go of the lock when that session ends, however it ends,
// which gives the lock the meaning flock gives a lock file: a live run
// holds it, a dead one does not. The key is the FNV-1a 64-bit hash of
// "pigging\x00<table>\x00<job>", as a signed bigint; advisory locks are per
// database. The connection must reach the server directly or through a
// pooler in session mode: a pooler in transaction mode breaks session
// locks.
//
// # State
//
// The table (DefaultTable, "pigging_locks", or WithTable; created with its
// sequence and the runs table when missing, see DDL) holds one row per job
// while a run holds the lock or after one that did not succeed: the
// holder's pid, host, start, trace and span ids, status (running, or how
// the run ended: failure, error, timeout, cancellation), error (cut at 4
// KiB; the log has all of it), log path, exit code and its source
// (pigging.Tracker.SetExit), fencing token, the session's backend pid, and
// the time of the last change. A run that
// succeeds deletes its row; a run that fails or is cancelled keeps it with
// its status and error; each of those and the unlock are one transaction.
// When Acquire gets the lock and finds a row, the run that left it failed
// or died (a row that says running but whose session is gone): the lock is
// stale, and the Tracker refuses the run (pigging.ErrStaleLock) unless
// pigging.WithStaleLock(pigging.TakeOver) is set. A refused run changes
// no row.
//
// # Tables of earlier versions
//
// Versions before the run states wrote the statuses failed and cancelled,
// and their table had no exit status. The status CHECK takes both
// vocabularies, and a row's failed and cancelled read as failure and
// cancellation. The first Acquire or AppendRun of this version brings an
// older table up to date (ALTER TABLE: the exit_code and exit_source
// columns, and the CHECK dropped and added again with the run states),
// under a transaction-level advisory lock so that runs starting together
// do it one after the other; DDL is the same script, which a DBA can run
// beforehand where the job's role may not alter the table. Inspect and
// Clear read an older table as it is and alter nothing.
//
// # Run history
//
// The Locker is a pigging.History: the runs table, "<table>_runs"
// (pigging_locks_runs), keeps one row per run of every job in the table
// (job, host, pid, started, ended, duration_s, result, error cut at 4 KiB,
// exit_code, exit_source, trace_id, span_id, log, and the stages' record
// totals as a jsonb array), with an identity id and an index on (job, id
// DESC). AppendRun inserts a run's row and deletes the job's rows beyond
// the newest keep in one transaction, leaving other jobs' rows alone;
// Runs returns the last n, newest first, from any host. Both are bounded
// by WithConnectTimeout and WithQueryTimeout. By hand:
//
//	SELECT id, host, result, started, duration_s, error FROM pigging_locks_runs
//	WHERE job = 'nightly-sync' ORDER BY id DESC LIMIT 10;
//
// # Losing the lock
//
// A goroutine pings the run's connection every WithCheckInterval (1 s);
// a ping that fails, or does not answer within WithCheckTimeout (5 s),
// closes the lease's Lost channel, and the Tracker logs an ERROR, cancels
// the run's ctx with a cause wrapping pigging.ErrLockLost, and ends the run
// failed. When the check ran out of its bound, that error wraps a
// *TimeoutError naming WithCheckTimeout: on a host so loaded that the
// server's answer can take longer, raise it (keeping the check interval
// plus the check timeout under WithSessionTimeout). The failure is written into the row with a new connection (after
// a server restart, once the server is back, for as long as Stop's bound
// lets it); when the server still holds the lock for the run's own silent
// session, that session is ended first, so the job is not blocked until
// the server notices.
//
// The window: a session the server ends (pg_terminate_backend, a restart,
// a crash) is noticed within one interval and a round trip, about 1 s; a
// server that stops answering, within the interval and the timeout, 6 s.
//
// # Network partitions
//
// The server lets go of the lock when it ends the session. The lock's
// session tells the server to end it once it has been idle for
// WithSessionTimeout (10 s by default; idle_session_timeout and
// idle_in_transaction_session_timeout, set on that session only), and the
// holder's checks, every second, keep a live holder's session busy. So
// when a holder is cut off from the server (a partition, a proxy or pooler
// that stops forwarding but keeps both sockets open and so answers the
// server's TCP keepalives, a frozen VM), the server lets go of the lock at
// most the session timeout after the last check it received: another host
// then finds the lock stale (the row still says running; the run that
// left it did not end cleanly), Inspect reports it stale, and Clear or
// pigging.WithStaleLock(pigging.TakeOver) lets the next run go. Without
// this, the server would keep the lock until its own TCP keepalives gave
// up on the connection (about two hours by default), or forever behind a
// middlebox that answers them. The holder, for its part, stops after the
// check interval and the check timeout (6 s); its Stop tries to record the
// failure until its bound runs out, and Keep ends its own session when it
// can still reach the server. idle_session_timeout needs PostgreSQL 14 or
// later; on an older server only a session stuck in a transaction is
// bounded so, and a silent idle session is held until TCP keepalives end
// it. The setting needs no privilege.
//
// What no check can close: a run paused longer than the server takes to
// end its session (a frozen VM, SIGSTOP) goes on writing after it resumes
// until its next check. For that, pass the fencing token to the systems
// the job writes to.
//
// # Fencing token
//
// Each acquisition takes the next value of the table's sequence
// ("<table>_token"), so a later run always has a larger token than an
// earlier one, for any job in the table. Locker.Token returns the token of
// the run the Locker holds; a job writes it beside its data (or in a
// condition: UPDATE ... WHERE last_token <= $token), and a write that
// carries a smaller token than one already seen comes from a run that has
// lost its lock.
//
// # Inspecting and clearing
//
// Locker.Inspect reports free, running or stale with the row's details;
// Locker.Clear deletes a stale row (a live run's is refused with a
// *pigging.LockError wrapping pigging.ErrLocked). Both use a connection of
// their own for one transaction. A run refused by a stale row names the
// failed run's log and the host it is on, and ends with Locker.ClearAdvice:
//
//	...; read /var/log/etl.log on host-a, then clear the lock to run again: pigging unlock --pg "$PIGGING_PG_DSN" --name nightly-sync (Locker.Clear in Go)
//
// By hand:
//
//	SELECT job, status, host, pid, started, error FROM pigging_locks;
//	DELETE FROM pigging_locks WHERE job = 'nightly-sync' AND status <> 'running';
//
// A row that says running belongs to a live run only while its session
// (backend_pid in pg_stat_activity) lives.
//
// # Errors
//
// New touches nothing and refuses a job name the table or the server
// cannot take (a *JobError matching ErrInvalidJob: empty, over MaxJobLen,
// 2048 bytes, not UTF-8, or with a NUL byte), a DSN that cannot be
// parsed, or a bad option. Each connection's application_name, "pigging
// <job>" unless the DSN sets one, is cut to the 63 bytes the server keeps. A server that cannot be reached, a wrong
// password or a missing database makes Start fail with an error naming the
// server, the job and the cause, never the password, and nothing changed.
// Each connection is bounded by WithConnectTimeout (30 s) and the
// statements of each operation by WithQueryTimeout (30 s), long enough for
// many jobs starting at once on a loaded host; Acquire and the writes of a
// held lock follow those bounds rather than a deadline on their ctx (the
// Tracker puts a fixed one on each call), while a cancelled ctx still ends
// them. An error that comes from a bound wraps a *TimeoutError naming it.
package pglock

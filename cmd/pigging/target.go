package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	shellword "github.com/pigging-go/pigging/internal/shell"
	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// pgEnv names the variable that holds the PostgreSQL DSN when --pg is not
// given: the DSN holds a password, and a variable keeps it out of the
// process list.
const pgEnv = "PIGGING_PG_DSN"

// lockFlagSet holds the flags that name a job's lock: a lock file, or a
// job in PostgreSQL.
type lockFlagSet struct {
	job, lock, pg, pgTable string
}

// register adds --name, --lock and --pg to fs.
func (f *lockFlagSet) register(fs *flag.FlagSet) {
	fs.StringVar(&f.job, "name", "", "the job's `name`: its lock is JOB.lock in the working directory,\nor the job's row with --pg")
	fs.StringVar(&f.lock, "lock", "", "the lock `file` (default JOB.lock)")
	fs.StringVar(&f.pg, "pg", "", "the PostgreSQL `DSN` of the lock (package pglock), for a job that runs on\nseveral hosts; better given as $"+pgEnv+", which keeps the password out\nof the process list")
	fs.StringVar(&f.pgTable, "pg-table", pglock.DefaultTable, "with --pg, the `table` that keeps the jobs' locks (its runs are in TABLE_runs)")
}

// lockTarget is the lock a command inspects: a Locker, and how messages
// name it.
type lockTarget struct {
	locker pigging.Locker
	// file is the lock file, "" for a lock in PostgreSQL.
	file string
	// unlockHint is the command line that clears it.
	unlockHint string
}

// errTargetUsage is a command line that names no lock, or two kinds.
var errTargetUsage = errors.New("give --name JOB or --lock FILE")

// target resolves the flags into a lock. The DSN comes from --pg, else
// from $PIGGING_PG_DSN; with it, --name is the job and --lock is refused.
func (f *lockFlagSet) target() (*lockTarget, error) {
	dsn := f.pg
	if dsn == "" {
		dsn = os.Getenv(pgEnv)
	}
	if dsn != "" && (f.pg != "" || f.lock == "") {
		if f.lock != "" {
			return nil, errors.New("--lock names a lock file; with --pg the lock is the job's row: give --name JOB")
		}
		if f.job == "" {
			return nil, errors.New("with --pg (or $" + pgEnv + "), give --name JOB")
		}
		l, err := pglock.New(dsn, f.job, pglock.WithTable(f.pgTable))
		if err != nil {
			return nil, err
		}
		return &lockTarget{locker: l, unlockHint: strings.TrimSuffix(l.ClearAdvice(), " (Locker.Clear in Go)")}, nil
	}
	lock := f.lock
	switch {
	case lock == "" && f.job == "":
		return nil, errTargetUsage
	case lock == "":
		lock = f.job + ".lock"
	}
	return &lockTarget{
		locker:     pigging.NewFileLocker(lock, 0o644),
		file:       lock,
		unlockHint: "pigging unlock --lock " + shellword.Word(lock),
	}, nil
}

// history returns the target's History, or an error saying the lock keeps
// none.
func (t *lockTarget) history() (pigging.History, error) {
	h, ok := t.locker.(pigging.History)
	if !ok {
		return nil, fmt.Errorf("%s keeps no run history", t.locker)
	}
	return h, nil
}

package pigging_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/pigging"
)

// A run refused by a failed run's lock is told to read the log that the
// lock names (the failed run's, which has a name of its own when logs are
// dated), and to clear the lock as the docs say: with "pigging unlock" or
// pigging.Unlock. Its own ERROR record goes to its own log.
func TestRefusalNamesTheFailedRunsLog(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "etl.lock")
	failedLog := filepath.Join(dir, "etl-2026-12-01.log")
	nextLog := filepath.Join(dir, "etl-2026-12-02.log")

	tr, _ := pigging.New(failedLog, lockPath, quietOpts()...)
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.LogException(errors.New("warehouse unreachable"))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	next, _ := pigging.New(nextLog, lockPath, quietOpts()...)
	_, err := next.Start(context.Background())
	var le *pigging.LockError
	if !errors.Is(err, pigging.ErrStaleLock) || !errors.As(err, &le) {
		t.Fatalf("Start after a failed run = %v, want a *LockError wrapping ErrStaleLock", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "; read "+failedLog+", ") {
		t.Errorf("refusal %q does not tell to read the failed run's log %s", msg, failedLog)
	}
	if strings.Contains(msg, "read "+nextLog) {
		t.Errorf("refusal %q points at the refused run's own log", msg)
	}
	if !strings.Contains(msg, "pigging unlock --lock "+lockPath) || !strings.Contains(msg, "pigging.Unlock") || strings.Contains(msg, "delete") {
		t.Errorf("refusal %q: want the clearing the docs give (pigging unlock, pigging.Unlock), not deleting the file", msg)
	}
	if texts := unitLines(t, nextLog); len(texts) != 1 || !strings.Contains(texts[0], "| ERROR: Locked: ") || !strings.Contains(texts[0], "read "+failedLog) {
		t.Errorf("refused run's own log = %q, want its one ERROR record naming the failed run's log", texts)
	}
}

// A lock that names no log (written before runs recorded theirs) sends the
// reader to the refused run's own log.
func TestRefusalWithoutLogInLock(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "etl.log"), filepath.Join(dir, "etl.lock")
	writeFile(t, lockPath, `{"pid":4242,"host":"h1","job":"etl","started":"2026-01-02T03:04:05Z","status":"failed","error":"disk full"}`)
	tr, _ := pigging.New(logPath, lockPath, quietOpts()...)
	_, err := tr.Start(context.Background())
	if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "; read "+logPath+", ") {
		t.Fatalf("Start = %v, want ErrStaleLock telling to read %s", err, logPath)
	}
}

//go:build unix

package pigging_test

// Lock behaviour between real processes: one run at a time, however many
// processes race for the lock, and a refused run never harms the run that
// holds it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func init() {
	childScenarios["race-round"] = childRaceRound
	childScenarios["race-churn"] = childRaceChurn
	childScenarios["hold"] = childHold
	childScenarios["try"] = pigtest.ChildTry
	childScenarios["hold-report"] = pigtest.ChildHoldReport
}

// childRaceRound is one contender of one round: it waits at the start
// barrier (the file "go" in RACE_DIR), tries the lock once, and either runs
// (begin/end markers in the witness, holding the lock until every other
// contender has been refused) or reports its refusal.
func childRaceRound() int {
	dir := os.Getenv("RACE_DIR")
	idx := os.Getenv("RACE_IDX")
	n := proctest.ChildEnvInt("RACE_N", 0)
	witness := os.Getenv("WITNESS")
	proctest.ChildTouch(filepath.Join(dir, "ready."+idx))
	if !proctest.ChildWaitFile(filepath.Join(dir, "go"), 30*time.Second) {
		proctest.ChildDie("no start signal")
	}
	t := pigtest.ChildTracker("race")
	_, err := t.Start(context.Background())
	if err != nil {
		code := pigtest.StartExit(err)
		proctest.ChildTouch(filepath.Join(dir, fmt.Sprintf("refused%d.%s", code, idx)))
		fmt.Println(err)
		return code
	}
	pid := os.Getpid()
	proctest.ChildAppend(witness, fmt.Sprintf("begin %d\n", pid))
	t.Info("won the round", "idx", idx)
	// Hold the lock until all the others have tried and been refused, so
	// that a second winner in this round could not hide behind our Stop.
	deadline := time.Now().Add(20 * time.Second)
	for proctest.CountFiles(dir, "refused"+strconv.Itoa(pigtest.ExitLocked)) < n-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	proctest.ChildAppend(witness, fmt.Sprintf("end %d\n", pid))
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	return pigtest.ExitRan
}

// childRaceChurn tries the lock again and again for CHURN_MS after the
// start barrier; each time it wins it writes begin/end markers, logs, and
// Stops, which removes the lock file while the others are trying. It
// prints "wins=W refused=R".
func childRaceChurn() int {
	dir := os.Getenv("RACE_DIR")
	idx := os.Getenv("RACE_IDX")
	witness := os.Getenv("WITNESS")
	dur := time.Duration(proctest.ChildEnvInt("CHURN_MS", 2000)) * time.Millisecond
	proctest.ChildTouch(filepath.Join(dir, "ready."+idx))
	if !proctest.ChildWaitFile(filepath.Join(dir, "go"), 30*time.Second) {
		proctest.ChildDie("no start signal")
	}
	pid := os.Getpid()
	wins, refused := 0, 0
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		t := pigtest.ChildTracker("churn")
		_, err := t.Start(context.Background())
		switch code := pigtest.StartExit(err); code {
		case pigtest.ExitRan:
			wins++
			proctest.ChildAppend(witness, fmt.Sprintf("begin %d\n", pid))
			t.Info("won", "n", wins)
			proctest.ChildAppend(witness, fmt.Sprintf("end %d\n", pid))
			if err := t.Stop(); err != nil {
				proctest.ChildDie("Stop: %v", err)
			}
		case pigtest.ExitLocked:
			refused++
		default:
			fmt.Printf("unexpected: %v\n", err)
			return code
		}
	}
	fmt.Printf("wins=%d refused=%d\n", wins, refused)
	return pigtest.ExitRan
}

// childHold starts a run, logs five lines, prints "ready" and waits for the
// file RELEASE; then it logs five more lines and Stops. With FAIL=1 it
// ends the run with LogException instead of succeeding.
func childHold() int {
	t := pigtest.ChildTracker("holder")
	if _, err := t.Start(context.Background()); err != nil {
		fmt.Println(err)
		return pigtest.StartExit(err)
	}
	for i := range 5 {
		t.Info("before", "i", i)
	}
	fmt.Println("ready")
	if !proctest.ChildWaitFile(os.Getenv("RELEASE"), 60*time.Second) {
		proctest.ChildDie("no release")
	}
	for i := range 5 {
		t.Info("after", "i", i)
	}
	if os.Getenv("FAIL") == "1" {
		t.LogException(errors.New("warehouse unreachable"))
	}
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	return pigtest.ExitRan
}

// witnessCheck reads the witness file and fails on any overlap: every
// "begin pid" must be followed by "end pid" of the same process before the
// next begin. It returns the number of runs.
func witnessCheck(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	holder := ""
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		verb, pid, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("witness line %d malformed: %q", i+1, line)
		}
		switch verb {
		case "begin":
			if holder != "" {
				t.Fatalf("witness line %d: pid %s began while pid %s held the lock: two runs at once", i+1, pid, holder)
			}
			holder = pid
			runs++
		case "end":
			if holder != pid {
				t.Fatalf("witness line %d: pid %s ended but the holder was %q", i+1, pid, holder)
			}
			holder = ""
		default:
			t.Fatalf("witness line %d malformed: %q", i+1, line)
		}
	}
	if holder != "" {
		t.Fatalf("witness: pid %s began and never ended", holder)
	}
	return runs
}

// TestProcessMutualExclusionRounds races raceProcs processes for the same
// lock, raceRounds times. Each round exactly one runs and the others are
// refused with ErrLocked; the witness shows no two runs at once.
func TestProcessMutualExclusionRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("32 processes racing for one lock, 20 rounds: runs in the full test command")
	}
	const raceProcs, raceRounds = 32, 20
	dir := t.TempDir()
	logPath := filepath.Join(dir, "race.log")
	lockPath := filepath.Join(dir, "race.lock")
	witness := filepath.Join(dir, "witness")
	began := time.Now()
	for round := range raceRounds {
		rdir := filepath.Join(dir, "round"+strconv.Itoa(round))
		if err := os.Mkdir(rdir, 0o755); err != nil {
			t.Fatal(err)
		}
		roundBegan := time.Now()
		children := make([]*proctest.Child, raceProcs)
		for i := range children {
			children[i] = proctest.Start(t, "race-round",
				"RACE_DIR="+rdir, "RACE_IDX="+strconv.Itoa(i), "RACE_N="+strconv.Itoa(raceProcs),
				"LOG="+logPath, "LOCK="+lockPath, "WITNESS="+witness)
		}
		pollUntil(t, 60*time.Second, "all contenders ready", func() bool { return proctest.CountFiles(rdir, "ready.") == raceProcs })
		readyAt := time.Now()
		if err := os.WriteFile(filepath.Join(rdir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		codes := map[int]int{}
		for _, c := range children {
			code := c.Wait(t, 60*time.Second)
			codes[code]++
			if code != pigtest.ExitRan && code != pigtest.ExitLocked {
				t.Errorf("round %d: child pid %d exit %d; stdout %q stderr %q", round, c.Pid(), code, c.Output(), c.Stderr())
			}
		}
		if testing.Verbose() {
			t.Logf("round %d: ready after %v, settled %v later", round, readyAt.Sub(roundBegan).Round(time.Millisecond), time.Since(readyAt).Round(time.Millisecond))
		}
		if codes[pigtest.ExitRan] != 1 || codes[pigtest.ExitLocked] != raceProcs-1 {
			t.Fatalf("round %d: %d ran, %d refused with ErrLocked, want 1 and %d (exit codes %v)", round, codes[pigtest.ExitRan], codes[pigtest.ExitLocked], raceProcs-1, codes)
		}
		if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("round %d: lock file left after the winner stopped: %v", round, err)
		}
	}
	if runs := witnessCheck(t, witness); runs != raceRounds {
		t.Fatalf("witness shows %d runs, want %d", runs, raceRounds)
	}
	// The last winner's log: its header, its record and its TOTAL SCRIPT
	// TIME, once each, and the refusals of its round appended. (A refusal
	// that lands between the winner's truncation of the log and its header
	// comes before the header; one that lands before the truncation is in
	// the previous run's log, which the winner truncates.)
	lines := proctest.ReadLogLines(t, logPath, false)
	kinds := map[string]int{}
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, " | ")
		switch {
		case strings.HasPrefix(rest, "INFO: Starting logging job=race"):
			kinds["header"]++
		case strings.HasPrefix(rest, "INFO: won the round"):
			kinds["record"]++
		case strings.HasPrefix(rest, "INFO: TOTAL SCRIPT TIME: "):
			kinds["total"]++
		case strings.HasPrefix(rest, "WARN: Refused a second run "):
			kinds["locked"]++
		default:
			t.Errorf("unexpected log line %q", l)
		}
	}
	if kinds["header"] != 1 || kinds["record"] != 1 || kinds["total"] != 1 || kinds["locked"] > raceProcs-1 {
		t.Errorf("last winner's log: %v\n%s", kinds, strings.Join(lines, "\n"))
	}
	t.Logf("%d rounds x %d processes raced in %v", raceRounds, raceProcs, time.Since(began).Round(time.Millisecond))
}

// refusals counts the records of refused runs in a log: ERROR after a
// failed or dead run, WARN while the holder lives.
func refusals(log string) int {
	return strings.Count(log, "| ERROR: Locked: ") + strings.Count(log, "| WARN: Refused a second run ")
}

// raceRound starts procs race-round children on the same lock, releases
// them at once, and returns how many exited with each code.
func raceRound(t *testing.T, rdir string, procs int, env ...string) map[int]int {
	t.Helper()
	if err := os.Mkdir(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	children := make([]*proctest.Child, procs)
	for i := range children {
		children[i] = proctest.Start(t, "race-round", append([]string{"RACE_DIR=" + rdir, "RACE_IDX=" + strconv.Itoa(i), "RACE_N=" + strconv.Itoa(procs)}, env...)...)
	}
	pollUntil(t, 60*time.Second, "all contenders ready", func() bool { return proctest.CountFiles(rdir, "ready.") == procs })
	if err := os.WriteFile(filepath.Join(rdir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for _, c := range children {
		code := c.Wait(t, 60*time.Second)
		codes[code]++
		if code != pigtest.ExitRan && code != pigtest.ExitLocked && code != pigtest.ExitStale {
			t.Errorf("child pid %d exit %d; stdout %q stderr %q", c.Pid(), code, c.Output(), c.Stderr())
		}
	}
	return codes
}

// TestProcessStaleLockRace races processes for a lock that a dead or failed
// run left. Under Refuse every one is refused and the lock and the old
// run's log are left as they were but for the appended Locked lines; under
// TakeOver exactly one takes over and the others get ErrLocked.
func TestProcessStaleLockRace(t *testing.T) {
	if testing.Short() {
		t.Skip("32 processes racing for a stale lock, under Refuse and TakeOver: runs in the full test command")
	}
	const procs, rounds = 32, 6
	const deadLog = "2026-11-27 20:17:06.123 | INFO: Starting logging job=race\n"
	staleSeen, lostLines := 0, 0
	for round := range rounds {
		// Even rounds: a run that died ("running"); odd: one that failed.
		status := []string{"running", "failed"}[round%2]
		dead := `{"pid":4242,"host":"h","job":"race","started":"2026-11-27T20:17:06Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","status":"` + status + `"}` + "\n"
		dir := t.TempDir()
		logPath := filepath.Join(dir, "race.log")
		lockPath := filepath.Join(dir, "race.lock")
		witness := filepath.Join(dir, "witness")
		pigtest.WriteFile(t, lockPath, dead)
		pigtest.WriteFile(t, logPath, deadLog)
		env := []string{"LOG=" + logPath, "LOCK=" + lockPath, "WITNESS=" + witness}

		codes := raceRound(t, filepath.Join(dir, "refuse"), procs, env...)
		// A contender that tries while another is inspecting a "running"
		// stale lock cannot tell the inspector from the run the file names,
		// and gets ErrLocked: refused all the same. A "failed" lock is never
		// held by a run in progress, so there every contender must be told
		// the truth: ErrStaleLock.
		if codes[pigtest.ExitStale]+codes[pigtest.ExitLocked] != procs || codes[pigtest.ExitStale] == 0 {
			t.Fatalf("round %d, Refuse: exit codes %v, want all %d refused, with ErrStaleLock or ErrLocked", round, codes, procs)
		}
		if status == "failed" && codes[pigtest.ExitStale] != procs {
			t.Fatalf("round %d, Refuse of a failed run's lock: exit codes %v, want all %d ErrStaleLock", round, codes, procs)
		}
		staleSeen += codes[pigtest.ExitStale]
		if data, _ := os.ReadFile(lockPath); string(data) != dead {
			t.Fatalf("round %d: refused runs changed the stale lock: %q", round, data)
		}
		lines := proctest.ReadLogLines(t, logPath, false)
		if len(lines) != procs+1 || lines[0]+"\n" != deadLog {
			t.Fatalf("round %d: the dead run's log after %d refusals has %d lines, first %q", round, procs, len(lines), lines[0])
		}

		codes = raceRound(t, filepath.Join(dir, "takeover"), procs, append(env, "STALE=takeover")...)
		if codes[pigtest.ExitRan] != 1 || codes[pigtest.ExitLocked] != procs-1 {
			t.Fatalf("round %d, TakeOver: exit codes %v, want 1 run and %d ErrLocked", round, codes, procs-1)
		}
		if runs := witnessCheck(t, witness); runs != 1 {
			t.Fatalf("round %d: %d runs took over", round, runs)
		}
		// The dead run's log, with the Refuse round's lines, is kept whole
		// as .prev. The TakeOver round's refusals went to .prev or to the
		// taker's new log, depending on when they came; one that came after
		// the taker moved the old log away and before it started the new
		// one is truncated with it (see the README's Guarantees).
		prev, _ := os.ReadFile(logPath + ".prev")
		cur, _ := os.ReadFile(logPath)
		if !strings.HasPrefix(string(prev), string(deadLog)) || refusals(string(prev)) < procs {
			t.Fatalf("round %d: .prev is not the dead run's log with the %d refusals:\n%s", round, procs, prev)
		}
		n := refusals(string(prev)) + refusals(string(cur))
		if n > 2*procs-1 {
			t.Fatalf("round %d: %d Locked lines in .prev and the log, want at most %d", round, n, 2*procs-1)
		}
		lostLines += 2*procs - 1 - n
		if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("round %d: lock left after the taker stopped", round)
		}
	}
	t.Logf("%d rounds x %d processes raced for a stale lock under Refuse (%d ErrStaleLock, %d ErrLocked while another inspected a dead run's lock) and under TakeOver (%d of %d Locked lines truncated in the taker's start window)",
		rounds, procs, staleSeen, rounds*procs-staleSeen, lostLines, rounds*(procs-1))
}

// TestProcessMutualExclusionChurn has raceProcs processes take and release
// the lock as fast as they can for a while: every Stop removes the lock
// file while others are trying it (the case the same-inode check of design
// §3.2 is for). No two runs ever overlap, and no contender ever sees a
// stale lock.
func TestProcessMutualExclusionChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("32 processes taking and releasing one lock for seconds: runs in the full test command")
	}
	const raceProcs = 32
	churn := 3 * time.Second
	dir := t.TempDir()
	rdir := filepath.Join(dir, "barrier")
	if err := os.Mkdir(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "churn.log")
	lockPath := filepath.Join(dir, "churn.lock")
	witness := filepath.Join(dir, "witness")
	children := make([]*proctest.Child, raceProcs)
	for i := range children {
		children[i] = proctest.Start(t, "race-churn",
			"RACE_DIR="+rdir, "RACE_IDX="+strconv.Itoa(i), "CHURN_MS="+strconv.Itoa(int(churn.Milliseconds())),
			"LOG="+logPath, "LOCK="+lockPath, "WITNESS="+witness)
	}
	pollUntil(t, 60*time.Second, "all contenders ready", func() bool { return proctest.CountFiles(rdir, "ready.") == raceProcs })
	if err := os.WriteFile(filepath.Join(rdir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wins, refused := 0, 0
	for _, c := range children {
		if code := c.Wait(t, churn+60*time.Second); code != pigtest.ExitRan {
			t.Errorf("child pid %d exit %d; stdout %q stderr %q", c.Pid(), code, c.Output(), c.Stderr())
			continue
		}
		var w, r int
		if _, err := fmt.Sscanf(strings.TrimSpace(c.Output()), "wins=%d refused=%d", &w, &r); err != nil {
			t.Errorf("child pid %d: %q: %v", c.Pid(), c.Output(), err)
		}
		wins += w
		refused += r
	}
	runs := witnessCheck(t, witness)
	if runs != wins {
		t.Errorf("witness shows %d runs, children counted %d wins", runs, wins)
	}
	if wins == 0 {
		t.Errorf("no process ever won the lock")
	}
	if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after every run stopped: %v", err)
	}
	t.Logf("%d processes churned for %v: %d runs, %d refusals, no overlap", raceProcs, churn, wins, refused)
}

// TestProcessLockRefusedWhileHeld is design §3.1/§3.2 between processes: a
// second process is refused with ErrLocked naming the holder, its
// "ERROR: Locked" line is appended to the holder's log, and the holder's
// log stays whole; the lock file is neither removed nor changed by the
// refused processes.
func TestProcessLockRefusedWhileHeld(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	lockPath := filepath.Join(dir, "job.lock")
	release := filepath.Join(dir, "release")
	env := []string{"LOG=" + logPath, "LOCK=" + lockPath, "RELEASE=" + release}
	holder := proctest.StartLines(t, "hold", env...)
	holder.WaitLine(t, 30*time.Second, func(s string) bool { return s == "ready" })
	lockBefore, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	lockInfoBefore, _ := os.Stat(lockPath)

	// Refused in another process...
	other := proctest.Start(t, "try", env...)
	if code := other.Wait(t, 30*time.Second); code != pigtest.ExitLocked {
		t.Fatalf("second process exit %d, want %d (ErrLocked); stdout %q stderr %q", code, pigtest.ExitLocked, other.Output(), other.Stderr())
	}
	if !strings.Contains(other.Output(), "pid "+strconv.Itoa(holder.Pid())) {
		t.Errorf("refusal does not name the holder pid %d: %q", holder.Pid(), other.Output())
	}
	// ...and in this one.
	tr, err := pigging.New(logPath, lockPath, pigging.WithName("try"), pigging.WithOutput(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Start(context.Background())
	var lerr *pigging.LockError
	if !errors.As(err, &lerr) || !errors.Is(err, pigging.ErrLocked) || errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start while held: %v, want a *LockError with ErrLocked", err)
	}
	if lerr.Holder == nil || lerr.Holder.PID != holder.Pid() || lerr.Holder.Job != "holder" || lerr.Holder.Status != pigging.StateRunning {
		t.Fatalf("holder = %+v, want pid %d job holder running", lerr.Holder, holder.Pid())
	}
	for _, want := range []string{"pid " + strconv.Itoa(holder.Pid()), "started ", "wait for it to finish"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := tr.Log(slog.LevelInfo, "still not started"); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Log on the refused Tracker: %v, want ErrNotStarted (a refused Start leaves it unstarted)", err)
	}
	lockAfter, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatalf("lock file gone after refusals: %v", err)
	}
	lockInfoAfter, _ := os.Stat(lockPath)
	if string(lockAfter) != string(lockBefore) || !os.SameFile(lockInfoBefore, lockInfoAfter) {
		t.Errorf("a refused process changed the lock file:\nbefore %s\nafter  %s", lockBefore, lockAfter)
	}

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := holder.Wait(t, 30*time.Second); code != pigtest.ExitRan {
		t.Fatalf("holder exit %d; stderr %q", code, holder.Stderr())
	}
	lines := proctest.ReadLogLines(t, logPath, false)
	var got []string
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, " | ")
		got = append(got, rest)
	}
	want := []string{"INFO: Starting logging job=holder"}
	for i := range 5 {
		want = append(want, fmt.Sprintf("INFO: before i=%d", i))
	}
	want = append(want, "WARN: Refused a second run", "WARN: Refused a second run")
	for i := range 5 {
		want = append(want, fmt.Sprintf("INFO: after i=%d", i))
	}
	want = append(want, "INFO: TOTAL SCRIPT TIME: ")
	if len(got) != len(want) {
		t.Fatalf("log has %d lines, want %d:\n%s", len(got), len(want), strings.Join(lines, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("log line %d = %q, want prefix %q", i+1, got[i], want[i])
		}
	}
	if !strings.Contains(got[6], "holder_pid="+strconv.Itoa(holder.Pid())) {
		t.Errorf("Locked line does not name the holder: %q", got[6])
	}
	if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock not removed by the holder's successful Stop: %v", err)
	}
}

// TestProcessFailedRunRefusesNext: a run that fails keeps its lock with
// status failed and the error, and the next process is refused with
// ErrStaleLock saying so, until the lock is deleted.
func TestProcessFailedRunRefusesNext(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	lockPath := filepath.Join(dir, "job.lock")
	release := filepath.Join(dir, "release")
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"LOG=" + logPath, "LOCK=" + lockPath, "RELEASE=" + release}
	holder := proctest.Start(t, "hold", append(env, "FAIL=1")...)
	if code := holder.Wait(t, 30*time.Second); code != pigtest.ExitRan {
		t.Fatalf("failing run exit %d; stderr %q", code, holder.Stderr())
	}
	info := pigtest.ReadLockInfo(t, lockPath)
	if info.Status != pigging.StateFailure || info.Error != "warehouse unreachable" || info.PID != holder.Pid() {
		t.Fatalf("lock after a failed run = %+v, want status failed with the error and pid %d", info, holder.Pid())
	}
	logBefore, _ := os.ReadFile(logPath)
	next := proctest.Start(t, "try", env...)
	if code := next.Wait(t, 30*time.Second); code != pigtest.ExitStale {
		t.Fatalf("next run exit %d, want %d (ErrStaleLock); stdout %q", code, pigtest.ExitStale, next.Output())
	}
	for _, want := range []string{"pid " + strconv.Itoa(holder.Pid()), "failed: warehouse unreachable", "pigging unlock --lock " + lockPath} {
		if !strings.Contains(next.Output(), want) {
			t.Errorf("refusal %q does not say %q", next.Output(), want)
		}
	}
	logAfter, _ := os.ReadFile(logPath)
	if !strings.HasPrefix(string(logAfter), string(logBefore)) || !strings.Contains(string(logAfter[len(logBefore):]), "ERROR: Locked") {
		t.Errorf("refused run did not append its Locked line to the failed run's whole log:\n%s", logAfter)
	}
	if got := pigtest.ReadLockInfo(t, lockPath); got != info {
		t.Errorf("refused run changed the lock: %+v, was %+v", got, info)
	}
	// Deleting the lock, as the message says, lets the next run go.
	if err := os.Remove(lockPath); err != nil {
		t.Fatal(err)
	}
	again := proctest.Start(t, "try", env...)
	if code := again.Wait(t, 30*time.Second); code != pigtest.ExitRan {
		t.Fatalf("run after deleting the lock exit %d; stdout %q", code, again.Output())
	}
}

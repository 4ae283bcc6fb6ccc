//go:build unix

package pglock_test

// The lock between real processes, as jobs on several hosts meet it: one
// run at a time however many race, a failed run refusing the next in
// another process, and processes that report different hosts.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// Exit codes of the children.
const (
	exitRan    = 0 // started, ran and stopped
	exitLocked = 3 // refused with ErrLocked (held by a live run)
	exitStale  = 4 // refused with ErrStaleLock
	exitOther  = 5 // Start failed otherwise
)

func init() {
	childScenarios["rounds"] = childRounds
	childScenarios["try"] = childTry
	childScenarios["fail"] = childFail
	childScenarios["hold"] = childHold
}

func startExit(err error) int {
	switch {
	case err == nil:
		return exitRan
	case errors.Is(err, pigging.ErrStaleLock):
		return exitStale
	case errors.Is(err, pigging.ErrLocked):
		return exitLocked
	}
	return exitOther
}

// childLocker is the Locker of a child: PGLOCK_TABLE, PGLOCK_JOB, the
// host PGLOCK_HOST when set, and the server PGLOCK_DSN when set (else the
// test database).
func childLocker() *pglock.Locker {
	opts := []pglock.Option{pglock.WithTable(os.Getenv("PGLOCK_TABLE"))}
	if h := os.Getenv("PGLOCK_HOST"); h != "" {
		opts = append(opts, pglock.WithHost(h))
	}
	d := os.Getenv("PGLOCK_DSN")
	if d == "" {
		d = os.Getenv(envDSN)
	}
	l, err := pglock.New(d, os.Getenv("PGLOCK_JOB"), opts...)
	if err != nil {
		proctest.ChildDie("%v", err)
	}
	return l
}

// childTracker is a Tracker of the child's Locker, logging to PGLOCK_LOG.
func childTracker(l *pglock.Locker, extra ...pigging.Option) *pigging.Tracker {
	if os.Getenv("PGLOCK_TAKEOVER") == "1" {
		extra = append(extra, pigging.WithStaleLock(pigging.TakeOver))
	}
	t, err := pigging.New(os.Getenv("PGLOCK_LOG"), "", trackerOpts(l, l.Job(), extra...)...)
	if err != nil {
		proctest.ChildDie("%v", err)
	}
	return t
}

// childRounds plays PGLOCK_ROUNDS rounds. In each it waits at the barrier
// (the file go.<round> in PGLOCK_DIR), tries the lock once, and either
// runs (begin/end markers in the witness, holding the lock until every
// other contender of the round has been refused, or until its ctx is
// cancelled as a job's would be) or reports its refusal (the file
// refused<code>.<round>.<idx>; the error on stdout unless it is a refusal
// as held). A run ends won (the file won.<round>.<idx>) or, when it lost
// its lock, lost (the file lost.<round>.<idx>, and Stop's error on
// stdout); any other Stop error ends the child.
func childRounds() int {
	dir := os.Getenv("PGLOCK_DIR")
	idx := os.Getenv("PGLOCK_IDX")
	n := proctest.ChildEnvInt("PGLOCK_N", 0)
	rounds := proctest.ChildEnvInt("PGLOCK_ROUNDS", 0)
	witness := filepath.Join(dir, "witness")
	l := childLocker()
	pid := os.Getpid()
	for r := range rounds {
		rs := strconv.Itoa(r)
		proctest.ChildTouch(filepath.Join(dir, "ready."+rs+"."+idx))
		if !proctest.ChildWaitFile(filepath.Join(dir, "go."+rs), 2*time.Minute) {
			proctest.ChildDie("no start signal for round %d", r)
		}
		t := childTracker(l)
		ctx, err := t.Start(context.Background())
		if code := startExit(err); code != exitRan {
			if code != exitLocked {
				fmt.Printf("round %d: %v\n", r, err)
			}
			proctest.ChildTouch(filepath.Join(dir, fmt.Sprintf("refused%d.%s.%s", code, rs, idx)))
			continue
		}
		proctest.ChildAppend(witness, fmt.Sprintf("begin %d %s %d\n", pid, rs, l.Token()))
		deadline := time.Now().Add(2 * time.Minute)
		for countRefused(dir, rs) < n-1 && ctx.Err() == nil && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		proctest.ChildAppend(witness, fmt.Sprintf("end %d %s\n", pid, rs))
		cancelled := ctx.Err() != nil // Stop cancels it too
		switch err := t.Stop(); {
		case errors.Is(err, pigging.ErrLockLost):
			fmt.Printf("round %d: lost: %v\n", r, err)
			proctest.ChildTouch(filepath.Join(dir, "lost."+rs+"."+idx))
		case err != nil:
			proctest.ChildDie("Stop: %v", err)
		case cancelled:
			proctest.ChildDie("the run's ctx was cancelled (%v), yet Stop reported no lost lock", context.Cause(ctx))
		default:
			proctest.ChildTouch(filepath.Join(dir, "won."+rs+"."+idx))
		}
	}
	return exitRan
}

// countRefused counts the contenders of round rs refused, for any reason.
func countRefused(dir, rs string) int {
	n := 0
	for _, code := range []int{exitLocked, exitStale, exitOther} {
		n += proctest.CountFiles(dir, "refused"+strconv.Itoa(code)+"."+rs+".")
	}
	return n
}

// childTry tries the lock once, prints Start's error or "ran token=N", and
// exits with the code for it.
func childTry() int {
	l := childLocker()
	t := childTracker(l)
	if _, err := t.Start(context.Background()); err != nil {
		fmt.Println(err)
		return startExit(err)
	}
	fmt.Printf("ran token=%d\n", l.Token())
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	return exitRan
}

// childFail runs a job that fails with "warehouse unreachable".
func childFail() int {
	l := childLocker()
	err := pigging.Run(context.Background(), os.Getenv("PGLOCK_LOG"), "", func(context.Context, *pigging.Tracker) error {
		return errors.New("warehouse unreachable")
	}, trackerOpts(l, l.Job())...)
	fmt.Println(err)
	if err == nil || err.Error() != "warehouse unreachable" {
		return exitOther
	}
	return exitRan
}

// childHold starts a run, prints "holding token=N" and waits for the file
// PGLOCK_RELEASE; then it Stops.
func childHold() int {
	l := childLocker()
	t := childTracker(l)
	if _, err := t.Start(context.Background()); err != nil {
		fmt.Println(err)
		return startExit(err)
	}
	fmt.Printf("holding token=%d\n", l.Token())
	if !proctest.ChildWaitFile(os.Getenv("PGLOCK_RELEASE"), 2*time.Minute) {
		proctest.ChildDie("no release")
	}
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	return exitRan
}

// childEnv is the environment of a child for job in table.
func childEnv(table, job, logPath string, extra ...string) []string {
	return append([]string{"PGLOCK_TABLE=" + table, "PGLOCK_JOB=" + job, "PGLOCK_LOG=" + logPath}, extra...)
}

// raceResult is what raceRounds saw.
type raceResult struct {
	winners []string // the hosts of the rounds' winners, in order
	bounded int      // refusals for a bound that ran out
	lost    int      // rounds whose winner lost its lock to a bound
}

// bounds are the options whose bounds a loaded machine can exhaust.
var bounds = []string{"WithConnectTimeout", "WithQueryTimeout", "WithCheckTimeout"}

// namesBound reports whether line names one of the Locker's bounds.
func namesBound(line string) bool {
	for _, b := range bounds {
		if strings.Contains(line, b) {
			return true
		}
	}
	return false
}

// raceRounds starts n processes that play rounds rounds on one job, host
// hosts[i%len(hosts)] for process i, and checks the promise of the lock
// whatever the machine's load: never two runs at once (the witness), the
// tokens grow, and every contender that does not run is told why: refused
// as held, or, when the server was too slow for one of the Locker's bounds,
// an error that names the bound. A round where nobody ran must have such
// an error (a lock held by nobody refuses nobody).
//
// A winner whose check of its lock ran out of its bound (a loaded machine)
// loses the lock: its ctx is cancelled, it stops, and it reports the loss,
// which must name the bound. The row it leaves (failed) refuses the rest
// of that round as stale, which is what the next run must be told; only
// such a round may have refusals as stale, and the test clears the row
// after it, as an operator would, so that the next rounds go on.
func raceRounds(t *testing.T, n, rounds int, hosts []string) raceResult {
	t.Helper()
	table := newTable(t)
	dir := t.TempDir()
	children := make([]*proctest.Child, n)
	for i := range n {
		children[i] = proctest.Start(t, "rounds", childEnv(table, "race", filepath.Join(dir, "run"+strconv.Itoa(i)+".log"),
			"PGLOCK_DIR="+dir, "PGLOCK_IDX="+strconv.Itoa(i), "PGLOCK_N="+strconv.Itoa(n),
			"PGLOCK_ROUNDS="+strconv.Itoa(rounds), "PGLOCK_HOST="+hosts[i%len(hosts)])...)
	}
	dump := func() {
		for i, c := range children {
			t.Logf("child %d:\n%s", i, childOutput(c))
		}
	}
	// lines returns the child and the line of round r of each file of
	// round r with prefix.
	lines := func(prefix string, r int) map[int]string {
		files, _ := filepath.Glob(filepath.Join(dir, prefix+strconv.Itoa(r)+".*"))
		m := make(map[int]string, len(files))
		for _, f := range files {
			i, _ := strconv.Atoi(strings.TrimPrefix(filepath.Ext(f), "."))
			m[i] = roundLine(children[i].Output(), r)
		}
		return m
	}
	clearer := newLocker(t, table, "race")
	var res raceResult
	for r := range rounds {
		rs := strconv.Itoa(r)
		waitCount(t, dir, "ready."+rs+".", n, children)
		proctest.ChildTouch(filepath.Join(dir, "go."+rs))
		// A round ends when every contender has won (and stopped), lost
		// its lock (and stopped) or been refused.
		ended := func() int {
			return proctest.CountFiles(dir, "won."+rs+".") + proctest.CountFiles(dir, "lost."+rs+".") + countRefused(dir, rs)
		}
		deadline := time.Now().Add(5 * time.Minute)
		for ended() < n {
			for i, c := range children {
				if c.Exited() && !c.ProcessState().Success() {
					dump()
					t.Fatalf("round %d: child %d died (%v)", r, i, c.ProcessState())
				}
			}
			if time.Now().After(deadline) {
				dump()
				t.Fatalf("round %d: %d won, %d lost and %d refused after 5 minutes, of %d", r, proctest.CountFiles(dir, "won."+rs+"."),
					proctest.CountFiles(dir, "lost."+rs+"."), countRefused(dir, rs), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lost := lines("lost.", r)
		for i, line := range lost {
			t.Logf("round %d, child %d lost its lock: %s", r, i, line)
			if !namesBound(line) {
				dump()
				t.Fatalf("round %d: child %d lost its lock without saying which bound ran out: %q", r, i, line)
			}
		}
		stale := lines("refused"+strconv.Itoa(exitStale)+".", r)
		if len(stale) > 0 && len(lost) == 0 {
			dump()
			t.Fatalf("round %d: %d refused as stale, yet no run failed", r, len(stale))
		}
		for i, line := range stale {
			if line == "" {
				dump()
				t.Fatalf("round %d: child %d was refused as stale without being told why", r, i)
			}
		}
		other := lines("refused"+strconv.Itoa(exitOther)+".", r)
		for i, line := range other {
			t.Logf("round %d, child %d: %s", r, i, line)
			if !namesBound(line) {
				dump()
				t.Fatalf("round %d: child %d was refused without being told which bound ran out: %q", r, i, line)
			}
		}
		res.bounded += len(other)
		won, _ := filepath.Glob(filepath.Join(dir, "won."+rs+".*"))
		switch {
		case len(won)+len(lost) > 1:
			dump()
			t.Fatalf("round %d: %d winners and %d that lost their lock", r, len(won), len(lost))
		case len(won)+len(lost) == 0 && len(other) == 0:
			dump()
			t.Fatalf("round %d: nobody ran and all %d were refused as held", r, n)
		case len(won) == 1:
			idx, _ := strconv.Atoi(strings.TrimPrefix(filepath.Ext(won[0]), "."))
			res.winners = append(res.winners, hosts[idx%len(hosts)])
		case len(lost) == 1:
			res.lost++
			clearLost(t, clearer, r)
		}
	}
	for i, c := range children {
		if code := c.Wait(t, time.Minute); code != 0 {
			t.Fatalf("child %d exited %d:\n%s", i, code, childOutput(c))
		}
	}
	if runs := witnessCheck(t, filepath.Join(dir, "witness")); runs != len(res.winners)+res.lost {
		t.Fatalf("%d runs in the witness, %d winners and %d that lost their lock", runs, len(res.winners), res.lost)
	}
	if len(res.winners) == 0 {
		t.Fatal("no round had a winner")
	}
	if r := readRow(t, table, "race"); r != nil {
		t.Errorf("row left after the rounds: %+v", r)
	}
	return res
}

// clearLost clears the row left by the run of round r that lost its lock:
// stale, as the server has let go of the lock or is about to (the run's
// Stop ended its session, or the session timeout will).
func clearLost(t *testing.T, l *pglock.Locker, r int) {
	t.Helper()
	deadline := time.Now().Add(pglock.DefaultSessionTimeout + time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		st, err := l.Clear(ctx)
		cancel()
		switch {
		case err == nil && st.State == pigging.LockStale && st.Holder != nil:
			t.Logf("round %d: cleared the row of the run that lost its lock (%s: %s)", r, st.Holder.Status, st.Holder.Error)
			return
		case err == nil:
			t.Fatalf("round %d: the run that lost its lock left the lock %v (%+v), want stale with its row", r, st.State, st.Holder)
		case !errors.Is(err, pigging.ErrLocked) || time.Now().After(deadline):
			t.Fatalf("round %d: clearing the row of the run that lost its lock: %v", r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// roundLine returns the line of out that reports round r.
func roundLine(out string, r int) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "round "+strconv.Itoa(r)+": ") {
			return line
		}
	}
	return ""
}

// waitCount waits for n files with prefix in dir, failing the test after
// two minutes or when a child has exited.
func waitCount(t *testing.T, dir, prefix string, n int, children []*proctest.Child) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for proctest.CountFiles(dir, prefix) < n {
		for i, c := range children {
			if c.Exited() {
				t.Fatalf("child %d exited early (%v):\n%s", i, c.ProcessState(), childOutput(c))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d %s files after two minutes", proctest.CountFiles(dir, prefix), n, prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// witnessCheck reads the witness and fails on any overlap: every begin
// must be followed by the end of the same process before the next begin,
// and the tokens of the runs must grow. It returns the number of runs.
func witnessCheck(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runs, holder := 0, ""
	last := int64(0)
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("witness line %d malformed: %q", i+1, line)
		}
		switch f[0] {
		case "begin":
			if holder != "" {
				t.Fatalf("witness line %d: pid %s began while pid %s held the lock: two runs at once", i+1, f[1], holder)
			}
			holder = f[1]
			runs++
			tok, _ := strconv.ParseInt(f[3], 10, 64)
			if tok <= last {
				t.Fatalf("witness line %d: token %d after %d", i+1, tok, last)
			}
			last = tok
		case "end":
			if holder != f[1] {
				t.Fatalf("witness line %d: pid %s ended but the holder was %q", i+1, f[1], holder)
			}
			holder = ""
		}
	}
	if holder != "" {
		t.Fatalf("pid %s never ended", holder)
	}
	return runs
}

// 32 processes × 20 rounds on one job, all connecting at once (32 SCRAM
// handshakes): at most one runs each round, never two at once, the
// fencing tokens of the runs grow, and every other is told why, as held
// or naming the bound that ran out, however loaded the machine is. A
// winner that lost its lock to a bound says which, and the others of its
// round are told the lock is stale.
func TestProcessMutualExclusion(t *testing.T) {
	dsn(t)
	n, rounds := 32, 20
	if testing.Short() {
		n, rounds = 8, 3
	}
	start := time.Now()
	res := raceRounds(t, n, rounds, []string{"vm"})
	t.Logf("%d processes × %d rounds in %v: %d rounds won, %d lost a lock to a bound, %d refusals for a bound", n, rounds,
		time.Since(start).Round(time.Millisecond), len(res.winners), res.lost, res.bounded)
}

// Two processes that report different hosts contend for one job: one runs
// per round, and the other is refused; a refusal names the holder's host.
func TestProcessTwoHosts(t *testing.T) {
	dsn(t)
	res := raceRounds(t, 2, 10, []string{"host-a", "host-b"})
	t.Logf("winners: %v; %d lost a lock to a bound, %d refusals for a bound", res.winners, res.lost, res.bounded)

	table := newTable(t)
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	a := proctest.StartLines(t, "hold", childEnv(table, "two-hosts", filepath.Join(dir, "a.log"), "PGLOCK_HOST=host-a", "PGLOCK_RELEASE="+release)...)
	a.WaitLine(t, time.Minute, isHolding)
	b := proctest.Start(t, "try", childEnv(table, "two-hosts", filepath.Join(dir, "b.log"), "PGLOCK_HOST=host-b")...)
	if code := b.Wait(t, time.Minute); code != exitLocked || !strings.Contains(b.Output(), "is held by run pid "+strconv.Itoa(a.Pid())+" on host-a") {
		t.Fatalf("host-b beside host-a: exit %d:\n%s", code, childOutput(b))
	}
	proctest.ChildTouch(release)
	if code := a.Wait(t, time.Minute); code != exitRan {
		t.Fatalf("host-a exit %d:\n%s", code, childOutput(a))
	}
	b = proctest.StartLines(t, "hold", childEnv(table, "two-hosts", filepath.Join(dir, "b.log"), "PGLOCK_HOST=host-b", "PGLOCK_RELEASE="+release+"-b")...)
	b.WaitLine(t, time.Minute, isHolding)
	if r := readRow(t, table, "two-hosts"); r == nil || r.Host != "host-b" || r.PID != b.Pid() {
		t.Fatalf("row while host-b runs: %+v", r)
	}
	proctest.ChildTouch(release + "-b")
	if code := b.Wait(t, time.Minute); code != exitRan {
		t.Fatalf("host-b exit %d:\n%s", code, childOutput(b))
	}
}

// A run that failed in one process refuses the next in another, as stale,
// saying why; once cleared, the next runs; with TakeOver it goes on.
func TestProcessFailedRunRefusesNext(t *testing.T) {
	table := newTable(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	env := childEnv(table, "failing", logPath, "PGLOCK_HOST=host-a")

	if c := proctest.Start(t, "fail", env...); c.Wait(t, time.Minute) != exitRan {
		t.Fatalf("fail child:\n%s", childOutput(c))
	}
	before := readRow(t, table, "failing")
	if before == nil || before.Status != pigging.StateFailure || before.Error != "warehouse unreachable" || before.Host != "host-a" {
		t.Fatalf("row after the failed run: %+v", before)
	}
	c := proctest.Start(t, "try", childEnv(table, "failing", logPath, "PGLOCK_HOST=host-b")...)
	if code := c.Wait(t, time.Minute); code != exitStale || !strings.Contains(c.Output(), "on host-a (job failing)") ||
		!strings.Contains(c.Output(), "failed: warehouse unreachable") {
		t.Fatalf("next run: exit %d, want %d:\n%s", code, exitStale, childOutput(c))
	}
	if after := readRow(t, table, "failing"); *after != *before {
		t.Fatalf("the refused run changed the row:\n%+v\n%+v", before, after)
	}
	l := newLocker(t, table, "failing")
	if _, err := l.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := proctest.Start(t, "try", env...); c.Wait(t, time.Minute) != exitRan {
		t.Fatalf("run after Clear:\n%s", childOutput(c))
	}
	if c := proctest.Start(t, "fail", env...); c.Wait(t, time.Minute) != exitRan {
		t.Fatalf("fail child:\n%s", childOutput(c))
	}
	c = proctest.Start(t, "try", append(env, "PGLOCK_TAKEOVER=1")...)
	if code := c.Wait(t, time.Minute); code != exitRan {
		t.Fatalf("TakeOver run: exit %d:\n%s", code, childOutput(c))
	}
	if r := readRow(t, table, "failing"); r != nil {
		t.Fatalf("row after the run that took over: %+v", r)
	}
}

func init() { childScenarios["churn"] = childChurn }

// childChurn takes and lets go of the lock again and again for
// PGLOCK_CHURN_MS after the barrier (the file "go" in PGLOCK_DIR); each
// time it wins it writes begin/end markers in the witness. A refusal other
// than "held" ends it with that exit code. It prints "wins=W refused=R".
func childChurn() int {
	dir := os.Getenv("PGLOCK_DIR")
	witness := filepath.Join(dir, "witness")
	proctest.ChildTouch(filepath.Join(dir, "ready."+os.Getenv("PGLOCK_IDX")))
	if !proctest.ChildWaitFile(filepath.Join(dir, "go"), 2*time.Minute) {
		proctest.ChildDie("no start signal")
	}
	l := childLocker()
	pid := os.Getpid()
	wins, refused := 0, 0
	for end := time.Now().Add(time.Duration(proctest.ChildEnvInt("PGLOCK_CHURN_MS", 3000)) * time.Millisecond); time.Now().Before(end); {
		t := childTracker(l)
		_, err := t.Start(context.Background())
		switch code := startExit(err); code {
		case exitRan:
			wins++
			proctest.ChildAppend(witness, fmt.Sprintf("begin %d - %d\n", pid, l.Token()))
			proctest.ChildAppend(witness, fmt.Sprintf("end %d -\n", pid))
			if err := t.Stop(); err != nil {
				proctest.ChildDie("Stop: %v", err)
			}
		case exitLocked:
			refused++
		default:
			fmt.Println(err)
			return code
		}
	}
	fmt.Printf("wins=%d refused=%d\n", wins, refused)
	return exitRan
}

// 8 processes take and let go of one job's lock for 3 s, each release
// racing the others' tries: never two runs at once, no refusal as stale
// (a release is never seen half done), and the tokens grow.
func TestProcessChurn(t *testing.T) {
	table := newTable(t)
	dir := t.TempDir()
	const n = 8
	children := make([]*proctest.Child, n)
	for i := range n {
		children[i] = proctest.Start(t, "churn", childEnv(table, "churn", filepath.Join(dir, "run"+strconv.Itoa(i)+".log"),
			"PGLOCK_DIR="+dir, "PGLOCK_IDX="+strconv.Itoa(i), "PGLOCK_CHURN_MS=3000")...)
	}
	waitCount(t, dir, "ready.", n, children)
	proctest.ChildTouch(filepath.Join(dir, "go"))
	for i, c := range children {
		if code := c.Wait(t, 2*time.Minute); code != exitRan {
			t.Fatalf("child %d exited %d:\n%s", i, code, childOutput(c))
		}
		t.Logf("child %d: %s", i, strings.TrimSpace(childOutput(c)))
	}
	runs := witnessCheck(t, filepath.Join(dir, "witness"))
	if runs < n {
		t.Errorf("only %d runs in 3 s", runs)
	}
	t.Logf("%d runs, never two at once", runs)
	if r := readRow(t, table, "churn"); r != nil {
		t.Errorf("row left: %+v", r)
	}
}

package health

import (
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func success(t *testing.T, started, ended string) pigging.RunEntry {
	return pigging.RunEntry{Job: "etl", Started: at(t, started), Ended: at(t, ended), Result: pigging.StateSuccess}
}

func schedule(t *testing.T, spec string) Policy {
	t.Helper()
	s, err := ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return Policy{Every: s}
}

var free = &pigging.LockStatus{State: pigging.LockFree}

func TestNeverRanIsLate(t *testing.T) {
	now := at(t, "2026-12-06T08:00:00Z")
	for name, p := range map[string]Policy{
		"max-age": {MaxAge: 24 * time.Hour},
		"every":   schedule(t, "CRON_TZ=UTC 0 2 * * *"),
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(now, nil, free, p)
			if !r.NeverRan || !r.Has(Late) {
				t.Fatalf("never ran: got NeverRan=%v findings=%v, want never ran and late", r.NeverRan, r.Findings)
			}
			if !strings.Contains(r.Findings[0].Reason, "never ran") {
				t.Errorf("reason %q does not say the job never ran", r.Findings[0].Reason)
			}
		})
	}
	// Refusals are not runs: a history of refused starts still never ran.
	refused := []pigging.RunEntry{{Job: "etl", Started: now.Add(-time.Hour), Ended: now.Add(-time.Hour), Result: pigging.StateSkip}}
	if r := Evaluate(now, refused, free, Policy{MaxAge: time.Hour}); !r.NeverRan || !r.Has(Late) {
		t.Errorf("history of refusals only: NeverRan=%v findings=%v", r.NeverRan, r.Findings)
	}
	// A failed run is a run: the job ran, and has no success.
	failed := []pigging.RunEntry{{Job: "etl", Started: now.Add(-time.Hour), Ended: now.Add(-time.Hour), Result: pigging.StateFailure}}
	r := Evaluate(now, failed, free, Policy{MaxAge: 2 * time.Hour})
	if r.NeverRan || !r.Has(Late) || r.LastFailure == nil || r.LastSuccess != nil {
		t.Errorf("one failed run: NeverRan=%v late=%v LastFailure=%v LastSuccess=%v", r.NeverRan, r.Has(Late), r.LastFailure, r.LastSuccess)
	}
}

func TestMaxAge(t *testing.T) {
	runs := []pigging.RunEntry{
		{Job: "etl", Started: at(t, "2026-12-06T02:00:00Z"), Ended: at(t, "2026-12-06T02:30:00Z"), Result: pigging.StateFailure, Error: "boom"},
		success(t, "2026-12-05T02:00:00Z", "2026-12-05T02:20:00Z"),
		success(t, "2026-12-04T02:00:00Z", "2026-12-04T02:20:00Z"),
	}
	cases := []struct {
		now  string
		late bool
	}{
		{"2026-12-06T02:19:59Z", false}, // 23h59m59s after the last success
		{"2026-12-06T02:20:00Z", false}, // exactly the age: still within
		{"2026-12-06T02:20:01Z", true},
		{"2026-12-08T00:00:00Z", true},
	}
	for _, c := range cases {
		r := Evaluate(at(t, c.now), runs, free, Policy{MaxAge: 24 * time.Hour})
		if r.Has(Late) != c.late {
			t.Errorf("now %s: late=%v, want %v (findings %v)", c.now, r.Has(Late), c.late, r.Findings)
		}
		if r.LastSuccess != &runs[1] || r.LastFailure != &runs[0] || r.LastRun != &runs[0] {
			t.Errorf("now %s: last success/failure/run are not the newest of each", c.now)
		}
		if r.NeverRan {
			t.Errorf("now %s: NeverRan for a job with runs", c.now)
		}
	}
}

func TestScheduleWithGraceAcrossMidnight(t *testing.T) {
	// Daily at 23:50 UTC, with 30 minutes of grace: the deadline falls at
	// 00:20 the next day.
	p := schedule(t, "CRON_TZ=UTC 50 23 * * *")
	p.Grace = 30 * time.Minute
	ranLastNight := []pigging.RunEntry{success(t, "2026-12-05T23:50:01Z", "2026-12-06T00:05:00Z")}
	ranTheNightBefore := []pigging.RunEntry{success(t, "2026-12-04T23:50:01Z", "2026-12-05T00:05:00Z")}
	cases := []struct {
		name string
		now  string
		runs []pigging.RunEntry
		late bool
		due  string
	}{
		{"before the grace ends, the previous night counts", "2026-12-06T00:19:00Z", ranTheNightBefore, false, "2026-12-04T23:50:00Z"},
		{"after the grace, last night's run is missing", "2026-12-06T00:21:00Z", ranTheNightBefore, true, "2026-12-05T23:50:00Z"},
		{"after the grace, last night's run is there", "2026-12-06T00:21:00Z", ranLastNight, false, "2026-12-05T23:50:00Z"},
		{"the next afternoon, still last night's run", "2026-12-06T15:00:00Z", ranLastNight, false, "2026-12-05T23:50:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(at(t, c.now), c.runs, free, p)
			if r.Has(Late) != c.late {
				t.Errorf("late=%v, want %v (findings %v)", r.Has(Late), c.late, r.Findings)
			}
			if !r.Due.Equal(at(t, c.due)) {
				t.Errorf("due %s, want %s", r.Due.UTC().Format(time.RFC3339), c.due)
			}
		})
	}
}

func TestScheduleAcrossDaylightSavingTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Daily at 03:30 Berlin time. On 2026-03-29 clocks go from 02:00 to
	// 03:00 (CET to CEST): 03:30 that day is 01:30 UTC, the day before it
	// was 02:30 UTC.
	p := schedule(t, "CRON_TZ=Europe/Berlin 30 3 * * *")
	p.Grace = time.Hour
	before := time.Date(2026, 3, 28, 3, 30, 0, 0, berlin)
	after := time.Date(2026, 3, 29, 3, 30, 0, 0, berlin)
	if got := after.UTC().Format(time.RFC3339); got != "2026-03-29T01:30:00Z" {
		t.Fatalf("test premise: 03:30 Berlin on the spring day is %s", got)
	}
	ranBefore := []pigging.RunEntry{{Job: "etl", Started: before, Ended: before.Add(10 * time.Minute), Result: pigging.StateSuccess}}
	var ran []pigging.RunEntry
	// 04:31 Berlin on the spring day: the 03:30 run plus grace is past.
	now := time.Date(2026, 3, 29, 4, 31, 0, 0, berlin)
	r := Evaluate(now, ranBefore, free, p)
	if !r.Due.Equal(after) || !r.Has(Late) {
		t.Errorf("spring day 04:31: due %s late %v, want due %s and late", r.Due, r.Has(Late), after)
	}
	// 04:29 Berlin: within the grace, the day before's run still counts.
	now = time.Date(2026, 3, 29, 4, 29, 0, 0, berlin)
	if r := Evaluate(now, ranBefore, free, p); !r.Due.Equal(before) || r.Has(Late) {
		t.Errorf("spring day 04:29: due %s late %v, want due %s and not late", r.Due, r.Has(Late), before)
	}

	// A time that does not exist on the spring day (02:30 is skipped): the
	// schedule does not fire that day, as Kubernetes CronJobs (which read
	// schedules with the same library) skip it, so the day before's run
	// is not late; no false alarm for a firing that never happened.
	p = schedule(t, "CRON_TZ=Europe/Berlin 30 2 * * *")
	p.Grace = time.Hour
	dayBefore := time.Date(2026, 3, 28, 2, 30, 0, 0, berlin)
	now = time.Date(2026, 3, 29, 12, 0, 0, 0, berlin)
	ran = []pigging.RunEntry{{Job: "etl", Started: dayBefore, Ended: dayBefore.Add(5 * time.Minute), Result: pigging.StateSuccess}}
	if r := Evaluate(now, ran, free, p); !r.Due.Equal(dayBefore) || r.Has(Late) {
		t.Errorf("02:30 on the spring day: due %s late %v, want due %s (the day before) and not late", r.Due, r.Has(Late), dayBefore)
	}
	// The day after, it fires again and the day-before run is late.
	now = time.Date(2026, 3, 30, 12, 0, 0, 0, berlin)
	if r := Evaluate(now, ran, free, p); !r.Has(Late) {
		t.Errorf("the day after the spring day: not late (due %s)", r.Due)
	}

	// Autumn: on 2026-10-25 clocks go from 03:00 back to 02:00; 02:30
	// happens twice. One success after the first 02:30 is enough.
	autumnRun := time.Date(2026, 10, 25, 2, 30, 0, 0, berlin) // the first 02:30 (CEST)
	ran = []pigging.RunEntry{{Job: "etl", Started: autumnRun, Ended: autumnRun.Add(5 * time.Minute), Result: pigging.StateSuccess}}
	now = time.Date(2026, 10, 25, 6, 0, 0, 0, berlin)
	if r := Evaluate(now, ran, free, p); r.Has(Late) {
		t.Errorf("autumn day: late after a success at the first 02:30 (due %s, findings %v)", r.Due, r.Findings)
	}
}

func TestMaxRuntime(t *testing.T) {
	now := at(t, "2026-12-06T08:00:00Z")
	running := func(since string) *pigging.LockStatus {
		return &pigging.LockStatus{State: pigging.LockRunning, Holder: &pigging.LockInfo{PID: 42, Started: at(t, since), Status: "running"}}
	}
	p := Policy{MaxRuntime: 2 * time.Hour}
	if r := Evaluate(now, nil, running("2026-12-06T06:30:00Z"), p); r.Has(Overrun) || r.Running != 90*time.Minute {
		t.Errorf("90 minutes in: overrun=%v running=%s", r.Has(Overrun), r.Running)
	}
	r := Evaluate(now, nil, running("2026-12-06T05:59:00Z"), p)
	if !r.Has(Overrun) || !strings.Contains(r.Findings[0].Reason, "2h1m0s") {
		t.Errorf("2h1m in: findings %v, want overrun naming 2h1m0s", r.Findings)
	}
	if r.NeverRan {
		t.Error("a job whose first run is going is reported as never ran")
	}
	// A free lock is never an overrun.
	if r := Evaluate(now, nil, free, p); r.Has(Overrun) {
		t.Errorf("free lock: %v", r.Findings)
	}
}

func TestLastTickFindsSparseSchedules(t *testing.T) {
	now := at(t, "2026-12-06T08:00:00Z")
	cases := map[string]string{
		"CRON_TZ=UTC * * * * *":   "2026-12-06T08:00:00Z",
		"CRON_TZ=UTC 0 0 1 1 *":   "2026-01-01T00:00:00Z",
		"CRON_TZ=UTC 0 0 29 2 *":  "2024-02-29T00:00:00Z",
		"CRON_TZ=UTC 15 3 * * 1":  "2026-11-30T03:15:00Z",
		"CRON_TZ=UTC @every 7m":   "", // relative to now: just found
		"CRON_TZ=UTC 0 12 6 12 *": "2025-12-06T12:00:00Z",
	}
	for spec, want := range cases {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		got, ok := LastTick(s, now)
		if !ok || got.After(now) {
			t.Errorf("%s: %v %v, want a time at or before now", spec, got, ok)
			continue
		}
		if want != "" && !got.Equal(at(t, want)) {
			t.Errorf("%s: last tick %s, want %s", spec, got.UTC().Format(time.RFC3339), want)
		}
	}
}

func TestParseScheduleNamesTheExpression(t *testing.T) {
	_, err := ParseSchedule("0 25 * * *")
	if err == nil || !strings.Contains(err.Error(), `"0 25 * * *"`) {
		t.Errorf("bad hour: %v, want an error naming the expression", err)
	}
}

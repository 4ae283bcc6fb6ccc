package pigging

import "testing"

func TestEventBudget(t *testing.T) {
	cases := []struct {
		name          string
		limit         int
		runLogs       int // log events asked for on the run span
		stageLogs     int // log events asked for on stage spans
		exceptions    int
		wantAdded     int // log events added
		wantExcAdded  int
		wantDropLogs  int64
		wantDropExc   int64
		wantSpentLast bool
	}{
		{"under the budget", 10, 3, 4, 2, 7, 2, 0, 0, false},
		{"budget spent across spans", 10, 6, 6, 0, 10, 0, 2, 0, true},
		{"zero budget", 0, 5, 0, 1, 0, 1, 5, 0, true},
		{"run span cap, budget above it", 1000, 150, 0, 20, runSpanLogs, 16, 150 - runSpanLogs, 4, false},
		{"exceptions past the cap", 100, 100, 0, 30, 100, 26, 0, 4, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newEventBudget(c.limit)
			added, exc := 0, 0
			for range c.runLogs {
				if b.takeLog(true) {
					added++
				}
			}
			for range c.stageLogs {
				if b.takeLog(false) {
					added++
				}
			}
			for range c.exceptions {
				if b.takeException() {
					exc++
				}
			}
			logs, excs := b.dropped()
			if added != c.wantAdded || exc != c.wantExcAdded || logs != c.wantDropLogs || excs != c.wantDropExc {
				t.Errorf("added %d logs, %d exceptions, dropped %d logs, %d exceptions; want %d, %d, %d, %d",
					added, exc, logs, excs, c.wantAdded, c.wantExcAdded, c.wantDropLogs, c.wantDropExc)
			}
			if got := b.spent(); got != c.wantSpentLast {
				t.Errorf("spent = %v, want %v", got, c.wantSpentLast)
			}
		})
	}
}

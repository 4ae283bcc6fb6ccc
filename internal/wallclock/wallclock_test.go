package wallclock

import (
	"testing"
	"time"
)

func TestNowFollowsTimeNow(t *testing.T) {
	for range 1000 {
		before := time.Now().Truncate(time.Microsecond)
		got := Now()
		after := time.Now()
		if got.Before(before) || got.After(after) {
			t.Fatalf("Now() = %v, not between %v and %v", got, before, after)
		}
		if got != got.Round(0) {
			t.Fatalf("Now() = %v carries a monotonic reading", got)
		}
	}
}

func BenchmarkNow(b *testing.B) {
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			_ = time.Now()
		}
	})
	b.Run("wallclock.Now", func(b *testing.B) {
		for b.Loop() {
			_ = Now()
		}
	})
}

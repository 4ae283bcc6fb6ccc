package logfmt

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestAppendTimeCachedSecond checks AppendTime, with its per-second cache,
// against time.Format over second boundaries, zones and far dates.
func TestAppendTimeCachedSecond(t *testing.T) {
	base := time.Date(2026, 11, 27, 20, 17, 5, 998_000_000, time.UTC)
	var times []time.Time
	for i := range 3000 {
		times = append(times, base.Add(time.Duration(i)*time.Millisecond+time.Duration(i%7)*time.Microsecond))
	}
	tokyo := time.FixedZone("JST", 9*3600)
	times = append(times,
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 5, 17, 6, 123_456_789, tokyo),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1_000_000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Now(),
	)
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		times = append(times, time.Unix(r.Int64N(1<<35), r.Int64N(1e9)))
	}
	for _, tm := range times {
		got := string(AppendTime([]byte("x"), tm))
		want := "x" + tm.UTC().Format(TimeLayout)
		if got != want {
			t.Fatalf("AppendTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestAppendTimeCachedConcurrent(t *testing.T) {
	base := time.Date(2026, 11, 27, 20, 17, 6, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				tm := base.Add(time.Duration(i*(g+1)) * 997 * time.Microsecond)
				if got, want := string(AppendTime(nil, tm)), tm.Format(TimeLayout); got != want {
					t.Errorf("AppendTime(%v) = %q, want %q", tm, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkAppendTime(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = AppendTime(buf[:0], time.Now())
	}
}

package middleware

import (
	"context"
	"errors"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// point is a job's own record type: nothing tells the middleware about it
// beyond the wrapper's type parameters.
type point struct{ x, y int }

// recordsIn returns the pigging.records.in of the span named name, and
// whether it has one.
func recordsIn(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) (int64, bool) {
	t.Helper()
	v, ok := attrs(spanNamed(t, spans, name))["pigging.records.in"]
	return v.AsInt64(), ok
}

// drain ranges over in, up to stop items when stop > 0, and returns how
// many items it took.
func drain[V any](in iter.Seq[V], stop int) int {
	n := 0
	for range in {
		n++
		if n == stop {
			break
		}
	}
	return n
}

// A sequence of a type nobody declared anywhere is counted by the Seq
// wrappers, single or in pairs, as its items are pulled.
func TestSeqWrappersCount(t *testing.T) {
	tp, rec := newProvider(t)
	pts := []point{{1, 2}, {3, 4}, {5, 6}}
	ctx := context.Background()

	pulled := 0
	all := LoadSeq("all", func(ctx context.Context, in iter.Seq[point]) error {
		pulled = drain(in, 0)
		return nil
	}, WithTracerProvider(tp))
	if err := all(ctx, slices.Values(pts)); err != nil || pulled != 3 {
		t.Fatalf("all: %v, pulled %d", err, pulled)
	}

	var keys []string
	pairs := LoadSeq2("pairs", func(ctx context.Context, in iter.Seq2[string, point]) error {
		for k := range in {
			keys = append(keys, k)
		}
		return nil
	}, WithTracerProvider(tp))
	if err := pairs(ctx, maps.All(map[string]point{"a": {}, "b": {}})); err != nil || len(keys) != 2 {
		t.Fatalf("pairs: %v, keys %v", err, keys)
	}

	sum := TransformSeq("sum", func(ctx context.Context, in iter.Seq[point]) (map[bool]int, error) {
		m := map[bool]int{}
		for p := range in {
			m[p.x > 2] += p.y
		}
		return m, nil
	}, WithTracerProvider(tp))
	if m, err := sum(ctx, slices.Values(pts)); err != nil || m[true] != 10 || m[false] != 2 {
		t.Fatalf("sum = %v, %v", m, err)
	}

	// A reader that yields errors: an error pair is a record in too.
	read := func(yield func(point, error) bool) {
		_ = yield(point{1, 1}, nil) && yield(point{}, errors.New("bad line")) && yield(point{2, 2}, nil)
	}
	parse := TransformSeq2("parse", func(ctx context.Context, in iter.Seq2[point, error]) ([]point, error) {
		var out []point
		for p, err := range in {
			if err == nil {
				out = append(out, p)
			}
		}
		return out, nil
	}, WithTracerProvider(tp))
	if out, err := parse(ctx, read); err != nil || len(out) != 2 {
		t.Fatalf("parse = %v, %v", out, err)
	}

	spans := rec.Ended()
	for _, w := range []struct {
		span    string
		in, out int64
		hasOut  bool
	}{
		{"load all", 3, 0, false},
		{"load pairs", 2, 0, false},
		{"transform sum", 3, 2, true},
		{"transform parse", 3, 2, true},
	} {
		a := attrs(spanNamed(t, spans, w.span))
		in, ok := a["pigging.records.in"]
		if !ok || in.AsInt64() != w.in {
			t.Errorf("%s: records.in %v (present %v), want %d", w.span, in.AsInt64(), ok, w.in)
		}
		out, ok := a["pigging.records.out"]
		if ok != w.hasOut || out.AsInt64() != w.out {
			t.Errorf("%s: records.out %v (present %v), want %d (present %v)", w.span, out.AsInt64(), ok, w.out, w.hasOut)
		}
	}
}

// The count is what the function pulled: a loop that stops early, one that
// panics (the item its body panicked on was handed over), two ranges at
// once from two goroutines, and a pull that is stopped.
func TestSeqCountsWhatWasPulled(t *testing.T) {
	tp, rec := newProvider(t)
	ctx := context.Background()
	in := slices.Values([]int{1, 2, 3, 4, 5, 6})

	early := LoadSeq("early", func(ctx context.Context, in iter.Seq[int]) error {
		drain(in, 2)
		return nil
	}, WithTracerProvider(tp))
	boom := LoadSeq("boom", func(ctx context.Context, in iter.Seq[int]) error {
		for v := range in {
			if v == 3 {
				panic("third")
			}
		}
		return nil
	}, WithTracerProvider(tp))
	twice := LoadSeq("twice", func(ctx context.Context, in iter.Seq[int]) error {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { drain(in, 0) })
		}
		wg.Wait()
		return nil
	}, WithTracerProvider(tp))
	pull := LoadSeq("pull", func(ctx context.Context, in iter.Seq[int]) error {
		next, stop := iter.Pull(in)
		defer stop()
		for range 4 {
			next()
		}
		return nil
	}, WithTracerProvider(tp))
	untouched := LoadSeq("untouched", func(ctx context.Context, in iter.Seq[int]) error {
		return nil
	}, WithTracerProvider(tp))

	if err := early(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, ok := boom(ctx, in).(*PanicError); !ok {
		t.Fatal("the panic was not returned")
	}
	if err := twice(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := pull(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := untouched(ctx, in); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	for name, want := range map[string]int64{"load early": 2, "load boom": 3, "load twice": 12, "load pull": 4, "load untouched": 0} {
		if n, ok := recordsIn(t, spans, name); !ok || n != want {
			t.Errorf("%s: records.in %d (present %v), want %d", name, n, ok, want)
		}
	}
}

// A retried stage reports the records of its last attempt, not the sum of
// its attempts.
func TestSeqRetryCountsLastAttempt(t *testing.T) {
	h := startRun(t)
	rows := slices.Values([]point{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}})
	tries := 0
	load := LoadSeq("warehouse", func(ctx context.Context, in iter.Seq[point]) error {
		tries++
		drain(in, 0)
		if tries == 1 {
			return &sinkError{"refused"}
		}
		return nil
	}, WithRetry(2, 0))
	if err := load(h.ctx, rows); err != nil || tries != 2 {
		t.Fatalf("load: %v after %d tries", err, tries)
	}

	// The last attempt pulled fewer than the first, and failed.
	tries = 0
	short := LoadSeq("short", func(ctx context.Context, in iter.Seq[point]) error {
		tries++
		if tries == 1 {
			drain(in, 0)
		} else {
			drain(in, 2)
		}
		return &sinkError{"down"}
	}, WithRetry(2, 0))
	if err := short(h.ctx, rows); err == nil {
		t.Fatal("short: no error")
	}
	log := h.stop()
	// The closing lines, each after its stage's one retry WARN.
	for i, want := range map[int]string{
		2: "INFO: load warehouse done duration=D records_in=6 attempts=2 stage=warehouse",
		4: "ERROR: load short failed: down duration=D records_in=2 attempts=2 stage=short",
	} {
		if i >= len(log) || log[i] != want {
			t.Errorf("log line %d of %q, want %q", i, log, want)
		}
	}
	spans := h.rec.Ended()
	if n, _ := recordsIn(t, spans, "load warehouse"); n != 6 {
		t.Errorf("load warehouse: records.in %d, want 6", n)
	}
	if n, _ := recordsIn(t, spans, "load short"); n != 2 {
		t.Errorf("load short: records.in %d, want 2", n)
	}
}

// Items pulled after the stage returned are not the stage's: a sequence
// returned lazily and ranged later, and a range the function left running
// in a goroutine. Neither races with the stage's end.
func TestSeqRangedAfterStage(t *testing.T) {
	tp, rec := newProvider(t)
	ctx := context.Background()
	in := slices.Values([]int{1, 2, 3})

	double := TransformSeq("double", func(ctx context.Context, in iter.Seq[int]) (iter.Seq[int], error) {
		return func(yield func(int) bool) {
			for v := range in {
				if !yield(2 * v) {
					return
				}
			}
		}, nil
	}, WithTracerProvider(tp))
	out, err := double(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(out); !slices.Equal(got, []int{2, 4, 6}) {
		t.Errorf("double: %v", got)
	}

	release := make(chan struct{})
	done := make(chan int)
	background := LoadSeq("background", func(ctx context.Context, in iter.Seq[int]) error {
		go func() {
			n := 0
			for range in {
				n++
				<-release
			}
			done <- n
		}()
		return nil
	}, WithTracerProvider(tp))
	if err := background(ctx, in); err != nil {
		t.Fatal(err)
	}
	close(release)
	if n := <-done; n != 3 {
		t.Errorf("background: the goroutine pulled %d items, want 3", n)
	}

	spans := rec.Ended()
	for _, name := range []string{"transform double", "load background"} {
		if n, ok := recordsIn(t, spans, name); !ok || n != 0 {
			t.Errorf("%s: records.in %d (present %v), want 0", name, n, ok)
		}
	}
	if _, ok := attrs(spanNamed(t, spans, "transform double"))["pigging.records.out"]; ok {
		t.Error("transform double: a sequence returned was counted")
	}
}

// A nil sequence is handed over as nil and not counted; a call that is not
// observed hands the sequence over as it is and counts nothing.
func TestSeqNilAndNotObserved(t *testing.T) {
	tp, rec := newProvider(t)
	var got iter.Seq2[int, string]
	ld := LoadSeq2("nil", func(ctx context.Context, in iter.Seq2[int, string]) error {
		got = in
		return nil
	}, WithTracerProvider(tp))
	got = slices.All([]string{"x"})
	if err := ld(context.Background(), nil); err != nil || got != nil {
		t.Errorf("nil sequence: %v, got a non-nil sequence %v", err, got != nil)
	}
	if _, ok := recordsIn(t, rec.Ended(), "load nil"); ok {
		t.Error("load nil: a nil sequence was counted")
	}

	ntp, ds, ctx, _ := notRecorded(t)
	pts := make([]point, 100)
	ld2 := LoadSeq("quiet", func(ctx context.Context, in iter.Seq[point]) error {
		if n := drain(in, 0); n != 100 {
			t.Errorf("quiet: pulled %d, want 100", n)
		}
		return nil
	}, WithTracerProvider(ntp))
	plain := Load("plain", func(ctx context.Context, in iter.Seq[point]) error {
		drain(in, 0)
		return nil
	}, WithTracerProvider(ntp))
	seq := slices.Values(pts)
	// Counting would cost a closure and its tally per call, and one per
	// range: none of it is spent on a call that is not observed.
	counted := testing.AllocsPerRun(20, func() { _ = ld2(ctx, seq) })
	if bare := testing.AllocsPerRun(20, func() { _ = plain(ctx, seq) }); counted != bare {
		t.Errorf("a call that is not observed: %v allocations, want %v as with Load", counted, bare)
	}
	if len(ds.take()) == 0 {
		t.Error("no span was started")
	}
}

// Counting a job's own struct costs allocations per call, none per record.
func TestSeqCountAllocsPerRecord(t *testing.T) {
	tp, rec := newProvider(t)
	ld := LoadSeq("pts", func(ctx context.Context, in iter.Seq[point]) error {
		drain(in, 0)
		return nil
	}, WithTracerProvider(tp))
	pts := make([]point, 1000)
	one, all := slices.Values(pts[:1]), slices.Values(pts)
	ctx := context.Background()
	few := testing.AllocsPerRun(50, func() { _ = ld(ctx, one) })
	many := testing.AllocsPerRun(50, func() { _ = ld(ctx, all) })
	if many != few {
		t.Errorf("%v allocations for 1,000 records, %v for 1: want the same", many, few)
	}
	spans := rec.Ended()
	if n := attrs(spans[len(spans)-1])["pigging.records.in"].AsInt64(); n != 1000 {
		t.Errorf("records.in %d, want 1000", n)
	}
}

// The plain wrappers hand a sequence over as it is and do not count it:
// that is what the Seq wrappers are for.
func TestPlainWrappersLeaveSequences(t *testing.T) {
	tp, rec := newProvider(t)
	var got []point
	ld := Load("plain", func(ctx context.Context, in iter.Seq[point]) error {
		got = slices.Collect(in)
		return nil
	}, WithTracerProvider(tp), WithRetry(2, time.Millisecond))
	pts := []point{{1, 2}, {3, 4}}
	if err := ld(context.Background(), slices.Values(pts)); err != nil || !slices.Equal(got, pts) {
		t.Fatalf("plain: %v, got %v", err, got)
	}
	if n, ok := recordsIn(t, rec.Ended(), "load plain"); ok {
		t.Errorf("load plain: records.in %d, want none", n)
	}
}

// The Seq wrappers take bad input as the others do: each call returns the
// error, naming the stage, and calls nothing.
func TestSeqBadInput(t *testing.T) {
	ctx := context.Background()
	if err := LoadSeq[point]("pts", nil)(ctx, slices.Values([]point{{}})); !errors.Is(err, ErrNilFunc) || !strings.Contains(err.Error(), "load pts") {
		t.Errorf("LoadSeq, nil fn: %v", err)
	}
	if err := LoadSeq2[int, point]("pts", nil, WithRetry(0, 0))(ctx, nil); !errors.Is(err, ErrNilFunc) || !errors.Is(err, ErrInvalidOption) {
		t.Errorf("LoadSeq2, nil fn and a bad option: %v", err)
	}
	called := false
	tr := TransformSeq("", func(ctx context.Context, in iter.Seq[point]) (int, error) {
		called = true
		return 0, nil
	})
	if _, err := tr(ctx, nil); !errors.Is(err, ErrEmptyName) || called {
		t.Errorf("TransformSeq, empty name: %v, fn called %v", err, called)
	}
	if _, err := TransformSeq2[int, string, int]("parse", nil)(ctx, nil); !errors.Is(err, ErrNilFunc) {
		t.Errorf("TransformSeq2, nil fn: %v", err)
	}
}

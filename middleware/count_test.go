package middleware

import (
	"context"
	"iter"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
)

type queue struct{ items []int }

func (q *queue) Len() int { return len(q.items) }

type names []string

func (n names) Len() int { return 42 } // Len wins over the slice length

type row struct{ id int }

func TestCount(t *testing.T) {
	check := func(name string, n int64, ok bool, wantN int64, wantOK bool) {
		t.Helper()
		if n != wantN || ok != wantOK {
			t.Errorf("%s: count = %d, %v; want %d, %v", name, n, ok, wantN, wantOK)
		}
	}
	n, ok := counterFor[[]row]().count([]row{{1}, {2}})
	check("[]row", n, ok, 2, true)
	n, ok = counterFor[[]row]().count(nil)
	check("nil []row", n, ok, 0, true)
	n, ok = counterFor[[3]int]().count([3]int{})
	check("[3]int", n, ok, 3, true)
	n, ok = counterFor[map[int]row]().count(map[int]row{1: {}})
	check("map", n, ok, 1, true)
	n, ok = counterFor[string]().count("abcd")
	check("string", n, ok, 4, true)
	n, ok = counterFor[[]byte]().count([]byte("ab"))
	check("[]byte", n, ok, 2, true)
	n, ok = counterFor[*queue]().count(&queue{items: []int{1, 2, 3}})
	check("*queue", n, ok, 3, true)
	n, ok = counterFor[*queue]().count(nil)
	check("nil *queue", n, ok, 0, false)
	n, ok = counterFor[names]().count(names{"a"})
	check("names", n, ok, 42, true)
	n, ok = counterFor[row]().count(row{})
	check("struct", n, ok, 0, false)
	n, ok = counterFor[int]().count(7)
	check("int", n, ok, 0, false)
	n, ok = counterFor[chan int]().count(make(chan int, 3))
	check("chan", n, ok, 0, false)
	n, ok = counterFor[any]().count([]row{{1}})
	check("any([]row)", n, ok, 1, true)
	n, ok = counterFor[any]().count(nil)
	check("any(nil)", n, ok, 0, false)
	n, ok = counterFor[any]().count((*queue)(nil))
	check("any(nil *queue)", n, ok, 0, false)
	n, ok = counterFor[any]().count(3.5)
	check("any(float)", n, ok, 0, false)
	n, ok = counterFor[iter.Seq[int]]().count(slices.Values([]int{1, 2}))
	check("iter.Seq", n, ok, 0, false)
}

func TestCountSequences(t *testing.T) {
	tp, rec := newProvider(t)
	// A Transform that takes a sequence counts the items it pulled.
	sum := Transform("sum", func(ctx context.Context, in iter.Seq[int]) (int, error) {
		s := 0
		for v := range in {
			s += v
			if v == 3 {
				break
			}
		}
		return s, nil
	}, WithTracerProvider(tp))
	got, err := sum(context.Background(), slices.Values([]int{1, 2, 3, 4, 5}))
	if err != nil || got != 6 {
		t.Fatalf("sum = %d, %v", got, err)
	}
	// A Load that takes an iter.Seq2.
	var keys []string
	load := Load("keys", func(ctx context.Context, in iter.Seq2[string, int]) error {
		for k := range in {
			keys = append(keys, k)
		}
		return nil
	}, WithTracerProvider(tp))
	if err := load(context.Background(), maps.All(map[string]int{"a": 1, "b": 2})); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("keys %v", keys)
	}
	// An Extract that returns a sequence leaves it alone and uncounted.
	ex := Extract("lazy", func(ctx context.Context) (iter.Seq[int], error) {
		return slices.Values([]int{1, 2, 3}), nil
	}, WithTracerProvider(tp))
	seq, err := ex(context.Background())
	if err != nil || len(slices.Collect(seq)) != 3 {
		t.Fatalf("lazy: %v", err)
	}
	// A nil sequence is passed on as nil.
	nilSeq := Load("nil", func(ctx context.Context, in iter.Seq[int]) error {
		if in != nil {
			t.Error("nil sequence wrapped")
		}
		return nil
	}, WithTracerProvider(tp))
	_ = nilSeq(context.Background(), nil)

	spans := rec.Ended()
	if a := attrs(spanNamed(t, spans, "transform sum")); a["pigging.records.in"].AsInt64() != 3 {
		t.Errorf("transform sum: records.in %v, want 3 (items pulled)", a["pigging.records.in"])
	} else if _, ok := a["pigging.records.out"]; ok {
		t.Errorf("int output counted")
	}
	if a := attrs(spanNamed(t, spans, "load keys")); a["pigging.records.in"].AsInt64() != 2 {
		t.Errorf("load keys: records.in %v", a["pigging.records.in"])
	}
	if _, ok := attrs(spanNamed(t, spans, "extract lazy"))["pigging.records.out"]; ok {
		t.Errorf("extract lazy: a sequence output was counted")
	}
	if _, ok := attrs(spanNamed(t, spans, "load nil"))["pigging.records.in"]; ok {
		t.Errorf("load nil: a nil sequence was counted")
	}
}

// item is an element type that nobody registers: its sequences are
// counted through reflection.
type item struct{ n int }

// point is an element type registered by TestRegisteredSeq.
type point struct{ x, y int }

// points is a named sequence type: counted through the registration of
// its underlying type.
type points func(yield func(point) bool)

// loadCount calls a Load of in that ranges over all of it (or up to
// stop items when stop > 0) and returns pigging.records.in.
func loadCount[T any](t *testing.T, in T, rangeOver func(T, int) int, stop int) (int64, int) {
	t.Helper()
	tp, rec := newProvider(t)
	got := 0
	ld := Load("seq", func(ctx context.Context, in T) error {
		got = rangeOver(in, stop)
		return nil
	}, WithTracerProvider(tp))
	if err := ld(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	v, ok := attrs(spanNamed(t, rec.Ended(), "load seq"))["pigging.records.in"]
	if !ok {
		t.Fatalf("no pigging.records.in")
	}
	return v.AsInt64(), got
}

func rangeSeq[V any](in iter.Seq[V], stop int) int {
	n := 0
	for range in {
		n++
		if n == stop {
			break
		}
	}
	return n
}

// registerPoint registers point for the test and takes it back after.
func registerPoint(t *testing.T) {
	RegisterSeq[point]()
	t.Cleanup(func() {
		for _, typ := range []reflect.Type{
			reflect.TypeFor[func(func(point) bool)](),
			reflect.TypeFor[func(func(int, point) bool)](),
			reflect.TypeFor[func(func(string, point) bool)](),
			reflect.TypeFor[func(func(point, error) bool)](),
		} {
			seqCounters.Delete(typ)
		}
	})
}

func TestRegisteredSeq(t *testing.T) {
	if seqCounterFor(reflect.TypeFor[iter.Seq[point]]()) != nil {
		t.Fatal("iter.Seq[point] registered before RegisterSeq")
	}
	// A wrapper made before the registration picks it up.
	early := counterFor[iter.Seq[point]]()
	registerPoint(t)
	wrapped, cnt := early.wrap(slices.Values(make([]point, 100)))
	if a := testing.AllocsPerRun(10, func() {
		for range wrapped {
		}
	}); a >= 100 || cnt == nil || cnt.Load() == 0 {
		t.Errorf("a wrapper made before RegisterSeq: %v allocations for 100 items, count %v", a, cnt)
	}
	pts := []point{{1, 2}, {3, 4}, {5, 6}}
	if c := seqCounterFor(reflect.TypeFor[iter.Seq[point]]()); c == nil {
		t.Fatal("iter.Seq[point] not registered")
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[iter.Seq2[int, point]](),
		reflect.TypeFor[iter.Seq2[string, point]](),
		reflect.TypeFor[iter.Seq2[point, error]](),
		reflect.TypeFor[points](),
	} {
		if seqCounterFor(typ) == nil {
			t.Errorf("%v not registered", typ)
		}
	}
	if seqCounterFor(reflect.TypeFor[iter.Seq[item]]()) != nil {
		t.Errorf("iter.Seq[item] registered without RegisterSeq")
	}

	n, got := loadCount(t, slices.Values(pts), rangeSeq[point], 0)
	if n != 3 || got != 3 {
		t.Errorf("iter.Seq[point]: records.in %d, pulled %d; want 3", n, got)
	}
	n, got = loadCount(t, slices.Values(pts), rangeSeq[point], 2)
	if n != 2 || got != 2 {
		t.Errorf("iter.Seq[point], break after 2: records.in %d, pulled %d; want 2", n, got)
	}
	named := points(slices.Values(pts))
	n, _ = loadCount(t, named, func(in points, _ int) int { return rangeSeq(iter.Seq[point](in), 0) }, 0)
	if n != 3 {
		t.Errorf("points: records.in %d, want 3", n)
	}
	n, _ = loadCount(t, slices.All(pts), func(in iter.Seq2[int, point], _ int) int {
		k := 0
		for range in {
			k++
		}
		return k
	}, 0)
	if n != 3 {
		t.Errorf("iter.Seq2[int, point]: records.in %d, want 3", n)
	}
	// Unregistered: still counted, through reflection.
	n, _ = loadCount(t, slices.Values([]item{{1}, {2}}), rangeSeq[item], 0)
	if n != 2 {
		t.Errorf("iter.Seq[item]: records.in %d, want 2", n)
	}
}

// A stage that ranges over its sequence twice, at once from two
// goroutines, and one whose loop panics, count every item handed over.
func TestSeqCountConcurrentAndPanic(t *testing.T) {
	tp, rec := newProvider(t)
	in := slices.Values([]int{1, 2, 3, 4})
	twice := Load("twice", func(ctx context.Context, in iter.Seq[int]) error {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for range in {
				}
			})
		}
		wg.Wait()
		return nil
	}, WithTracerProvider(tp))
	if err := twice(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	boom := Load("boom", func(ctx context.Context, in iter.Seq[int]) error {
		for v := range in {
			if v == 3 {
				panic("third")
			}
		}
		return nil
	}, WithTracerProvider(tp))
	if _, ok := boom(context.Background(), in).(*PanicError); !ok {
		t.Fatal("the panic was not returned")
	}
	spans := rec.Ended()
	if n := attrs(spanNamed(t, spans, "load twice"))["pigging.records.in"].AsInt64(); n != 8 {
		t.Errorf("twice: records.in %d, want 8", n)
	}
	if n := attrs(spanNamed(t, spans, "load boom"))["pigging.records.in"].AsInt64(); n != 3 {
		t.Errorf("boom: records.in %d, want 3", n)
	}
}

// Counting a registered sequence allocates per call, never per record.
func TestSeqCountAllocsPerRecord(t *testing.T) {
	registerPoint(t)
	tp, _ := newProvider(t)
	ld := Load("pts", func(ctx context.Context, in iter.Seq[point]) error {
		for range in {
		}
		return nil
	}, WithTracerProvider(tp))
	pts := make([]point, 1000)
	ctx := context.Background()
	few := testing.AllocsPerRun(50, func() { _ = ld(ctx, slices.Values(pts[:1])) })
	many := testing.AllocsPerRun(50, func() { _ = ld(ctx, slices.Values(pts)) })
	if many != few {
		t.Errorf("%v allocations for 1,000 records, %v for 1: want the same", many, few)
	}
}

package middleware

import (
	"context"
	"iter"
	"maps"
	"slices"
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

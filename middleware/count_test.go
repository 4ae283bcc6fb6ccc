package middleware

import (
	"iter"
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

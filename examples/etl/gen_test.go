package main

import (
	"bytes"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite orders.csv from genOrders")

// TestOrdersCSV checks that the shipped orders.csv is what genOrders makes;
// go test ./examples/etl -run TestOrdersCSV -update rewrites it.
func TestOrdersCSV(t *testing.T) {
	want := genOrders()
	if *update {
		if err := os.WriteFile("orders.csv", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(ordersCSV, want) {
		t.Fatalf("orders.csv is stale: run go test ./examples/etl -run TestOrdersCSV -update")
	}
	if len(want) > 300<<10 {
		t.Errorf("orders.csv is %d bytes; keep it under 300 KiB", len(want))
	}
}

// genOrders makes the example's input deterministically: 4,000 orders from
// 300 customers in October 2026, about 2% of them malformed in the ways
// real exports are.
func genOrders() []byte {
	b, _ := io.ReadAll(newOrderGen(4000))
	return b
}

// orderGen is a reader of n generated orders, the CSV header first, made
// as they are read: the shipped orders.csv is its first 4,000, and a
// benchmark streams a million through the job without a file. Orders come
// from n×3/40 customers (300 for 4,000).
type orderGen struct {
	r         *rand.Rand
	n, i      int
	customers int
	day0      time.Time
	buf       []byte // made, not yet read
}

func newOrderGen(n int) *orderGen {
	return &orderGen{
		r:         rand.New(rand.NewPCG(2026, 11)),
		n:         n,
		customers: max(1, n*3/40),
		day0:      time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		buf:       []byte("order_id,customer_id,ordered_at,amount_eur\n"),
	}
}

func (g *orderGen) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		g.i++
		g.buf = g.appendRow(g.buf, g.i)
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

// appendRow appends order i, drawing from g.r in a fixed order, so that
// the same n gives the same bytes.
func (g *orderGen) appendRow(b []byte, i int) []byte {
	r := g.r
	id := i
	cust := 1 + r.IntN(g.customers)
	at := g.day0.Add(time.Duration(r.Int64N(int64(31 * 24 * time.Hour)))).Truncate(time.Second)
	cents := 199 + r.IntN(25000)
	noCust, badAmount, negative, badDate := false, false, false, false
	if r.IntN(50) == 0 {
		switch r.IntN(6) {
		case 0:
			noCust = true
		case 1:
			badAmount = true
		case 2:
			negative = true
		case 3:
			badDate = true
		case 4: // a missing column
			b = appendID(b, 'O', id, 6)
			b = append(b, ',')
			b = appendID(b, 'C', cust, 4)
			b = append(b, ',')
			b = at.AppendFormat(b, time.RFC3339)
			return append(b, '\n')
		case 5:
			id = i - 1 // a duplicate order
		}
	}
	b = appendID(b, 'O', id, 6)
	b = append(b, ',')
	if !noCust {
		b = appendID(b, 'C', cust, 4)
	}
	b = append(b, ',')
	if badDate {
		b = append(b, "2026-13-45T25:61:00Z"...)
	} else {
		b = at.AppendFormat(b, time.RFC3339)
	}
	b = append(b, ',')
	switch {
	case badAmount:
		b = append(b, "n/a"...)
	default:
		if negative {
			b = append(b, '-')
		}
		b = strconv.AppendInt(b, int64(cents/100), 10)
		b = append(b, '.', byte('0'+cents%100/10), byte('0'+cents%10))
	}
	return append(b, '\n')
}

// appendID appends prefix and v zero-padded to width digits, as
// fmt's "%06d" does.
func appendID(b []byte, prefix byte, v, width int) []byte {
	b = append(b, prefix)
	digits := 1
	for n := v; n >= 10; n /= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(v), 10)
}

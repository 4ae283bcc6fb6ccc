package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
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
	r := rand.New(rand.NewPCG(2026, 11))
	var b bytes.Buffer
	b.WriteString("order_id,customer_id,ordered_at,amount_eur\n")
	day0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	const rows = 4000
	for i := 1; i <= rows; i++ {
		id := fmt.Sprintf("O%06d", i)
		cust := fmt.Sprintf("C%04d", 1+r.IntN(300))
		at := day0.Add(time.Duration(r.Int64N(int64(31 * 24 * time.Hour)))).Truncate(time.Second).Format(time.RFC3339)
		cents := 199 + r.IntN(25000)
		amount := fmt.Sprintf("%d.%02d", cents/100, cents%100)
		if r.IntN(50) == 0 {
			switch r.IntN(6) {
			case 0:
				cust = ""
			case 1:
				amount = "n/a"
			case 2:
				amount = "-" + amount
			case 3:
				at = "2026-13-45T25:61:00Z"
			case 4:
				fmt.Fprintf(&b, "%s,%s,%s\n", id, cust, at) // a missing column
				continue
			case 5:
				id = fmt.Sprintf("O%06d", i-1) // a duplicate order
			}
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s\n", id, cust, at, amount)
	}
	return b.Bytes()
}

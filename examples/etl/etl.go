package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pigging-go/pigging/connect"
	"github.com/pigging-go/pigging/pigging"
)

var header = []string{"order_id", "customer_id", "ordered_at", "amount_eur"}

// rawOrder is one CSV row as read, not yet checked.
type rawOrder struct {
	Line   int
	Fields []string
}

// readOrders reads the CSV at path, or the built-in one when path is "".
func readOrders(path string) ([]rawOrder, error) {
	if path == "" {
		return readCSV(bytes.NewReader(ordersCSV), "orders.csv")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCSV(bufio.NewReader(f), path)
}

// readCSV reads orders from r, which name names in errors. Rows with the
// wrong number of fields are kept for clean to count.
func readCSV(r io.Reader, name string) ([]rawOrder, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", name, err)
	}
	if !slices.Equal(head, header) {
		return nil, fmt.Errorf("%s: header is %q, want %q", name, head, header)
	}
	var rows []rawOrder
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, rawOrder{Line: line, Fields: rec})
	}
}

// order is a valid order.
type order struct {
	ID       string
	Customer string
	At       time.Time
	Cents    int64
}

// Reasons a row is dropped.
const (
	badFields   = "wrong_fields"
	badCustomer = "no_customer"
	badDate     = "bad_date"
	badAmount   = "bad_amount"
	duplicate   = "duplicate"
)

// cleanOrders parses and checks the rows, drops the bad ones, and logs one
// WARN line with how many it dropped and why.
func cleanOrders(ctx context.Context, rows []rawOrder) ([]order, error) {
	out := make([]order, 0, len(rows))
	seen := make(map[string]bool, len(rows))
	dropped := map[string]int{}
	firstBad := 0
	for _, r := range rows {
		o, reason := parseOrder(r.Fields)
		if reason == "" && seen[o.ID] {
			reason = duplicate
		}
		if reason != "" {
			dropped[reason]++
			if firstBad == 0 {
				firstBad = r.Line
			}
			continue
		}
		seen[o.ID] = true
		out = append(out, o)
	}
	if n := len(rows) - len(out); n > 0 {
		args := []any{"rows", n}
		for _, reason := range []string{badFields, badCustomer, badDate, badAmount, duplicate} {
			if dropped[reason] > 0 {
				args = append(args, reason, dropped[reason])
			}
		}
		args = append(args, "first_line", firstBad)
		if t := pigging.FromContext(ctx); t != nil {
			t.Logger().WarnContext(ctx, "Dropped malformed rows", args...)
		}
	}
	return out, nil
}

// parseOrder returns the order in fields, or why it is not one.
func parseOrder(f []string) (order, string) {
	if len(f) != len(header) {
		return order{}, badFields
	}
	o := order{ID: strings.TrimSpace(f[0]), Customer: strings.TrimSpace(f[1])}
	if o.ID == "" || o.Customer == "" {
		return o, badCustomer
	}
	at, err := time.Parse(time.RFC3339, f[2])
	if err != nil {
		return o, badDate
	}
	o.At = at.UTC()
	cents, ok := parseCents(f[3])
	if !ok || cents <= 0 {
		return o, badAmount
	}
	o.Cents = cents
	return o, ""
}

// parseCents parses a positive or negative amount with at most two
// decimals ("12", "12.5", "12.50") into cents, without floating point.
func parseCents(s string) (int64, bool) {
	whole, frac, hasFrac := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" || whole == "-" || len(frac) > 2 || hasFrac && frac == "" {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	frac += "00"[len(frac):]
	c, err := strconv.ParseUint(frac, 10, 8)
	if err != nil {
		return 0, false
	}
	if strings.HasPrefix(whole, "-") {
		return w*100 - int64(c), true
	}
	return w*100 + int64(c), true
}

// customerTotal is one line of the warehouse's input.
type customerTotal struct {
	Customer   string      `json:"customer_id"`
	Orders     int         `json:"orders"`
	Total      json.Number `json:"total_eur"`
	FirstOrder time.Time   `json:"first_order"`
	LastOrder  time.Time   `json:"last_order"`
	cents      int64
}

// aggregate totals the orders per customer, sorted by customer id. With
// buggy set it panics, as a bug would: it reads one past the end.
func aggregate(orders []order, buggy bool) []customerTotal {
	idx := map[string]int{}
	var out []customerTotal
	for _, o := range orders {
		i, ok := idx[o.Customer]
		if !ok {
			i = len(out)
			idx[o.Customer] = i
			out = append(out, customerTotal{Customer: o.Customer, FirstOrder: o.At, LastOrder: o.At})
		}
		c := &out[i]
		c.Orders++
		c.cents += o.Cents
		if o.At.Before(c.FirstOrder) {
			c.FirstOrder = o.At
		}
		if o.At.After(c.LastOrder) {
			c.LastOrder = o.At
		}
	}
	if buggy {
		last := len(out)
		_ = out[last].Customer // index out of range
	}
	for i := range out {
		out[i].Total = json.Number(fmt.Sprintf("%d.%02d", out[i].cents/100, out[i].cents%100))
	}
	slices.SortFunc(out, func(a, b customerTotal) int { return cmp.Compare(a.Customer, b.Customer) })
	return out
}

// flakySink is the "warehouse": it loads the totals into the table of
// a database (db: a SQLite file or a PostgreSQL URL; "" for none) and
// writes them as NDJSON to path ("" for none), but refuses the first
// failFirst attempts of each load (or all of them with alwaysFail), the
// way a busy database does. The table is loaded in one transaction and
// upserted, the file written whole or not at all, so a retry or a repeated
// run leaves the same table and file.
type flakySink struct {
	path       string
	db, table  string
	failFirst  int
	alwaysFail bool
	attempts   int
}

// sinkError is an error from the warehouse.
type sinkError struct{ msg string }

func (e *sinkError) Error() string { return "warehouse: " + e.msg }

var (
	errSinkBusy    = &sinkError{"connection reset by peer (simulated: the first attempt always fails)"}
	errSinkRefused = &sinkError{"connection refused (simulated by -fail)"}
)

func (s *flakySink) write(ctx context.Context, rows []customerTotal) error {
	s.attempts++
	switch {
	case s.alwaysFail:
		return errSinkRefused
	case s.attempts <= s.failFirst:
		return errSinkBusy
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.db != "" {
		if err := loadDB(ctx, s.db, s.table, rows); err != nil {
			return fmt.Errorf("warehouse: loading %s: %w", s.table, err)
		}
	}
	if s.path != "" {
		if err := connect.NDJSONFile[customerTotal](s.path).Load(ctx, connect.Slice(rows)); err != nil {
			return fmt.Errorf("warehouse: %w", err)
		}
	}
	return nil
}

package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

type Order struct {
	Customer string
	Cents    int
}

// printLog prints a log file without its timestamps and with durations and
// trace ids masked, so that the output is the same on every run.
func printLog(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	mask := regexp.MustCompile(`^\S+ \S+ \| |(duration=|TIME: )\S+|trace_id=\S+`)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fmt.Println(mask.ReplaceAllStringFunc(line, func(s string) string {
			switch {
			case strings.HasSuffix(s, "| "):
				return ""
			case strings.HasPrefix(s, "trace_id="):
				return "trace_id=…"
			case strings.HasPrefix(s, "duration="):
				return "duration=…"
			}
			return "TIME: …"
		}))
	}
}

// printTree prints the spans as a tree, children in the order they started.
func printTree(spans []sdktrace.ReadOnlySpan) {
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, s := range spans {
			p := ""
			if s.Parent().IsValid() {
				p = s.Parent().SpanID().String()
			}
			if p != parent {
				continue
			}
			line := strings.Repeat("  ", depth) + s.Name()
			for _, kv := range s.Attributes() {
				switch kv.Key {
				case "pigging.records.in", "pigging.records.out", "pigging.attempt", "error.type":
					line += fmt.Sprintf(" %s=%s", kv.Key, kv.Value.String())
				}
			}
			if s.Status().Code.String() == "Error" {
				line += " [error]"
			}
			fmt.Println(line)
			walk(s.SpanContext().SpanID().String(), depth+1)
		}
	}
	walk("", 0)
}

// sortByStart orders spans by start time; a recorder gives them in the
// order they ended.
func sortByStart(spans []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	out := append([]sdktrace.ReadOnlySpan(nil), spans...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].StartTime().Before(out[i].StartTime()) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A pipeline of stages inside a pigging run: each stage is a child span of
// the run span and one line of the run's log.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))

	extract := middleware.Extract("orders", func(ctx context.Context) ([]Order, error) {
		return []Order{{"ada", 1200}, {"bob", -5}, {"ada", 300}}, nil
	})
	clean := middleware.Transform("clean", func(ctx context.Context, in []Order) ([]Order, error) {
		var out []Order
		for _, o := range in {
			if o.Cents > 0 {
				out = append(out, o)
			}
		}
		// Logged with the stage's ctx: the line says stage=clean and the
		// event lands on the stage's span.
		pigging.FromContext(ctx).Logger().WarnContext(ctx, "dropped bad rows", "rows", len(in)-len(out))
		return out, nil
	})
	total := middleware.Transform("total", func(ctx context.Context, in []Order) (map[string]int, error) {
		m := map[string]int{}
		for _, o := range in {
			m[o.Customer] += o.Cents
		}
		return m, nil
	})
	load := middleware.Load("warehouse", func(ctx context.Context, m map[string]int) error {
		return nil
	})

	err := pigging.Run(context.Background(), filepath.Join(dir, "etl.log"), filepath.Join(dir, "etl.lock"),
		func(ctx context.Context, t *pigging.Tracker) error {
			orders, err := extract(ctx)
			if err != nil {
				return err
			}
			if orders, err = clean(ctx, orders); err != nil {
				return err
			}
			totals, err := total(ctx, orders)
			if err != nil {
				return err
			}
			return load(ctx, totals)
		},
		pigging.WithName("etl"), pigging.WithTracerProvider(tp), pigging.WithOutput(io.Discard))
	fmt.Println("run:", err)
	printLog(filepath.Join(dir, "etl.log"))
	printTree(sortByStart(rec.Ended()))
	// Output:
	// run: <nil>
	// INFO: Starting logging job=etl trace_id=…
	// INFO: extract orders done duration=… records_out=3 stage=orders
	// WARN: dropped bad rows rows=1 stage=clean
	// INFO: transform clean done duration=… records_in=3 records_out=2 stage=clean
	// INFO: transform total done duration=… records_in=2 records_out=1 stage=total
	// INFO: load warehouse done duration=… records_in=1 stage=warehouse
	// INFO: TOTAL SCRIPT TIME: …
	// RUN etl
	//   extract orders pigging.records.out=3
	//   transform clean pigging.records.in=3 pigging.records.out=2
	//   transform total pigging.records.in=2 pigging.records.out=1
	//   load warehouse pigging.records.in=1
}

var errUnavailable = errors.New("sink unavailable")

// WithRetry tries a flaky load again: each try is an "attempt <n>" span
// under the stage span, and a failed try that is retried logs a WARN line.
func ExampleWithRetry() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))

	tries := 0
	load := middleware.Load("warehouse", func(ctx context.Context, rows []string) error {
		tries++
		if tries < 3 {
			return errUnavailable
		}
		return nil
	}, middleware.WithRetry(3, time.Millisecond))

	t, _ := pigging.New(filepath.Join(dir, "etl.log"), filepath.Join(dir, "etl.lock"),
		pigging.WithName("etl"), pigging.WithTracerProvider(tp), pigging.WithOutput(io.Discard))
	ctx, _ := t.Start(context.Background())
	fmt.Println("load:", load(ctx, []string{"a", "b"}))
	_ = t.Stop()

	printLog(filepath.Join(dir, "etl.log"))
	printTree(sortByStart(rec.Ended()))
	// Output:
	// load: <nil>
	// INFO: Starting logging job=etl trace_id=…
	// WARN: load warehouse attempt 1 of 3 failed, retrying: sink unavailable attempt=1 stage=warehouse
	// WARN: load warehouse attempt 2 of 3 failed, retrying: sink unavailable attempt=2 stage=warehouse
	// INFO: load warehouse done duration=… records_in=2 attempts=3 stage=warehouse
	// INFO: TOTAL SCRIPT TIME: …
	// RUN etl
	//   load warehouse pigging.records.in=2
	//     attempt 1 pigging.attempt=1 error.type=_OTHER [error]
	//     attempt 2 pigging.attempt=2 error.type=_OTHER [error]
	//     attempt 3 pigging.attempt=3
}

// A panic in a stage comes back as a *middleware.PanicError with the whole
// stack; the error from a stage comes back unchanged.
func ExampleTransform_panic() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	parse := middleware.Transform("parse", func(ctx context.Context, in []string) ([]int, error) {
		var out []int
		for i := range in {
			out[i] = len(in[i]) // index out of range: out is nil
		}
		return out, nil
	}, middleware.WithTracerProvider(tp))

	_, err := parse(context.Background(), []string{"x"})
	var pe *middleware.PanicError
	fmt.Println(errors.As(err, &pe), len(pe.Stack) > 0)
	fmt.Println(err)
	printTree(rec.Ended())
	// Output:
	// true true
	// panic: runtime error: index out of range [0] with length 0
	// transform parse pigging.records.in=1 error.type=*pigging.PanicError [error]
}

// Without a Tracker in ctx the wrappers still trace, here with the provider
// given by WithTracerProvider (the global one otherwise), and log nothing.
func ExampleStage() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	vacuum := middleware.Stage("vacuum", func(ctx context.Context) error {
		return nil
	}, middleware.WithTracerProvider(tp), middleware.WithTimeout(time.Minute))

	fmt.Println(vacuum(context.Background()))
	printTree(rec.Ended())
	// Output:
	// <nil>
	// stage vacuum
}

// Row is a job's own record type, streamed from a reader.
type Row struct {
	ID    int
	Cents int
}

// A Load of a stream of records counts the records it pulls: V (Row) is
// inferred from the function, and nothing else needs to know the type.
func ExampleLoadSeq() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	load := middleware.LoadSeq("warehouse", func(ctx context.Context, rows iter.Seq[Row]) error {
		total := 0
		for r := range rows {
			total += r.Cents
		}
		fmt.Println("total:", total)
		return nil
	}, middleware.WithTracerProvider(tp))

	rows := slices.Values([]Row{{1, 1200}, {2, 300}, {3, 45}})
	fmt.Println(load(context.Background(), rows))
	printTree(rec.Ended())
	// Output:
	// total: 1545
	// <nil>
	// load warehouse pigging.records.in=3
}

// readRows is a reader that yields each row it parses, or the error of a
// line it cannot parse, and goes on.
func readRows(lines ...string) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for i, l := range lines {
			cents, err := strconv.Atoi(l)
			if err != nil {
				err = fmt.Errorf("line %d: %w", i+1, err)
			}
			if !yield(Row{ID: i + 1, Cents: cents}, err) {
				return
			}
		}
	}
}

// A Load of a reader that yields errors counts each pair it pulls, an
// error included; here it stops at the first error.
func ExampleLoadSeq2() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	load := middleware.LoadSeq2("warehouse", func(ctx context.Context, rows iter.Seq2[Row, error]) error {
		for r, err := range rows {
			if err != nil {
				return err
			}
			fmt.Println("row", r.ID, r.Cents)
		}
		return nil
	}, middleware.WithTracerProvider(tp))

	fmt.Println(load(context.Background(), readRows("1200", "300", "4x5", "7")))
	printTree(rec.Ended())
	// Output:
	// row 1 1200
	// row 2 300
	// line 3: strconv.Atoi: parsing "4x5": invalid syntax
	// load warehouse pigging.records.in=3 error.type=*strconv.NumError [error]
}

// A Transform of a stream into a collection counts the records it pulls
// in and the length of what it returns out.
func ExampleTransformSeq() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	total := middleware.TransformSeq("total", func(ctx context.Context, orders iter.Seq[Order]) (map[string]int, error) {
		m := map[string]int{}
		for o := range orders {
			m[o.Customer] += o.Cents
		}
		return m, nil
	}, middleware.WithTracerProvider(tp))

	orders := slices.Values([]Order{{"ada", 1200}, {"bob", 5}, {"ada", 300}})
	m, err := total(context.Background(), orders)
	fmt.Println(m, err)
	printTree(rec.Ended())
	// Output:
	// map[ada:1500 bob:5] <nil>
	// transform total pigging.records.in=3 pigging.records.out=2
}

// A Transform of a sequence of pairs, here the lines of a file with their
// index, counts each pair it pulls.
func ExampleTransformSeq2() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	parse := middleware.TransformSeq2("parse", func(ctx context.Context, lines iter.Seq2[int, string]) ([]Row, error) {
		var rows []Row
		for i, l := range lines {
			cents, err := strconv.Atoi(l)
			if err != nil {
				continue // a bad line is skipped
			}
			rows = append(rows, Row{ID: i + 1, Cents: cents})
		}
		return rows, nil
	}, middleware.WithTracerProvider(tp))

	rows, err := parse(context.Background(), slices.All([]string{"1200", "x", "45"}))
	fmt.Println(rows, err)
	printTree(rec.Ended())
	// Output:
	// [{1 1200} {3 45}] <nil>
	// transform parse pigging.records.in=3 pigging.records.out=2
}

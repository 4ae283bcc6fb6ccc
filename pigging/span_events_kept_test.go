package pigging_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/pigging"
)

// The run span's start, stop and exception events must survive however
// much is logged: the SDK keeps 128 events a span by default and drops the
// oldest (start) first.
func TestRunSpanKeepsStartStopAndExceptions(t *testing.T) {
	cases := []struct {
		name       string
		budget     int
		infos      int
		exceptions int
		wantLogs   int
		wantExc    int
		wantDrop   int64 // pigging.events.dropped
		wantExcDr  int64 // pigging.exceptions.dropped
	}{
		{"default budget, many exceptions", pigging.DefaultEventBudget, 150, 30, 100, 26, 50, 4},
		{"budget above the cap", 1000, 150, 20, 110, 16, 40, 4},
		{"few of each", 10, 5, 3, 5, 3, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			tr, err := pigging.New(filepath.Join(dir, "j.log"), filepath.Join(dir, "j.lock"),
				pigging.WithTracerProvider(tp), pigging.WithOutput(io.Discard), pigging.WithEventBudget(tc.budget))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Exceptions last, after the log events have taken their room.
			for i := range tc.infos {
				tr.Info("record", "i", i)
			}
			for i := range tc.exceptions {
				tr.LogException(fmt.Errorf("failure %d: %w", i, errors.ErrUnsupported))
			}
			if err := tr.Stop(); err != nil {
				t.Fatal(err)
			}
			spans := rec.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.DroppedEvents() != 0 {
				t.Errorf("the SDK dropped %d events", s.DroppedEvents())
			}
			counts := map[string]int{}
			for _, e := range s.Events() {
				counts[e.Name]++
			}
			evs := s.Events()
			if evs[0].Name != "start" || evs[len(evs)-1].Name != "stop" {
				t.Errorf("first and last events = %s, %s; want start, stop", evs[0].Name, evs[len(evs)-1].Name)
			}
			if counts["log"] != tc.wantLogs || counts["exception"] != tc.wantExc {
				t.Errorf("log events %d, exception events %d; want %d, %d", counts["log"], counts["exception"], tc.wantLogs, tc.wantExc)
			}
			attrs := map[attribute.Key]attribute.Value{}
			for _, kv := range s.Attributes() {
				attrs[kv.Key] = kv.Value
			}
			if got := attrs["pigging.events.dropped"].AsInt64(); got != tc.wantDrop {
				t.Errorf("pigging.events.dropped = %d, want %d", got, tc.wantDrop)
			}
			if got := attrs["pigging.exceptions.dropped"].AsInt64(); got != tc.wantExcDr {
				t.Errorf("pigging.exceptions.dropped = %d, want %d", got, tc.wantExcDr)
			}
		})
	}
}

func TestNewRefusesLockAtPrevLog(t *testing.T) {
	dir := t.TempDir()
	_, err := pigging.New(filepath.Join(dir, "j.log"), filepath.Join(dir, "j.log.prev"))
	var pe *pigging.PathError
	if !errors.As(err, &pe) || pe.Op != "lock" {
		t.Fatalf("New = %v, want a *PathError for the lock path", err)
	}
}

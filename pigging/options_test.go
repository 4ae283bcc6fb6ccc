package pigging_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/pigging"
)

func TestDefaultJobName(t *testing.T) {
	// The test binary is <package>.test: the name drops the extension.
	want := strings.TrimSuffix(filepath.Base(os.Args[0]), filepath.Ext(os.Args[0]))
	tr, err := pigging.New("a.log", "a.lock")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Job() != want || want == "" || strings.Contains(want, ".") {
		t.Errorf("default job = %q, want %q", tr.Job(), want)
	}
	named, err := pigging.New("a.log", "a.lock", pigging.WithName("nightly-sync"))
	if err != nil {
		t.Fatal(err)
	}
	if named.Job() != "nightly-sync" {
		t.Errorf("Job() = %q, want nightly-sync", named.Job())
	}
	if s := named.String(); !strings.Contains(s, `"nightly-sync"`) || !strings.Contains(s, `"a.log"`) || !strings.Contains(s, `"a.lock"`) {
		t.Errorf("String() = %q", s)
	}
}

func TestOptionsLaterWins(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t, pigging.WithName("first"), nil, pigging.WithName("second"))
	if tr.Job() != "second" {
		t.Errorf("Job() = %q, want the last WithName", tr.Job())
	}
}

func TestWithOutputNilDiscards(t *testing.T) {
	e := newUnitEnv(t)
	tr, err := pigging.New(e.log, e.lock, pigging.WithName(unitJob), pigging.WithTracerProvider(e.tp), pigging.WithOutput(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(); err != nil {
		t.Errorf("Stop with a nil output: %v", err)
	}
	// The log still has it.
	unitBetween(t, unitRecords(t, e.log))
}

// unitFailingWriter fails every write.
type unitFailingWriter struct{}

func (unitFailingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestOutputErrorDoesNotFailStop(t *testing.T) {
	e := newUnitEnv(t)
	tr, err := pigging.New(e.log, e.lock, pigging.WithName(unitJob), pigging.WithTracerProvider(e.tp), pigging.WithOutput(unitFailingWriter{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(); err != nil {
		t.Errorf("Stop = %v; a closed stdout must not fail the run", err)
	}
	unitNoFile(t, e.lock)
}

func TestDefaultTracerProviderIsGlobal(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	saved := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(saved) })

	e := newUnitEnv(t)
	tr, err := pigging.New(e.log, e.lock, pigging.WithName("global"), pigging.WithOutput(e.out))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitOnlySpan(t, rec, runSpanName("global"))
}

func TestStalePolicyString(t *testing.T) {
	for p, want := range map[pigging.StalePolicy]string{
		pigging.Refuse:          "refuse",
		pigging.TakeOver:        "take-over",
		pigging.StalePolicy(9):  "StalePolicy(9)",
		pigging.StalePolicy(-1): "StalePolicy(-1)",
	} {
		if got := p.String(); got != want {
			t.Errorf("StalePolicy(%d).String() = %q, want %q", int(p), got, want)
		}
	}
	var zero pigging.StalePolicy
	if zero != pigging.Refuse {
		t.Errorf("the zero StalePolicy is %v, want Refuse (the default)", zero)
	}
}

func TestWithMinLevelNilIsDefault(t *testing.T) {
	e := newUnitEnv(t)
	tr, _ := e.start(t, pigging.WithMinLevel(nil))
	_ = tr.Log(slog.LevelDebug, "dropped")
	tr.Info("kept")
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), []string{"INFO: kept"})
}

func TestWithMinLevelIsReadEachTime(t *testing.T) {
	// A *slog.LevelVar can change the level during the run.
	e := newUnitEnv(t)
	lv := unitLevelVar(slog.LevelInfo)
	tr, _ := e.start(t, pigging.WithMinLevel(lv))
	_ = tr.Log(slog.LevelDebug, "dropped")
	lv.Set(slog.LevelDebug)
	_ = tr.Log(slog.LevelDebug, "kept")
	tr.Logger().Debug("kept too")
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), []string{"DEBUG: kept", "DEBUG: kept too"})
}

package pigging

import (
	"context"
	"errors"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestCICDRunDurationErrorType checks cicd.pipeline.run.duration against
// the CI/CD conventions for every result: error.type "if and only if the
// pipeline run failed" (failure, error, timeout, the results that
// cicd.pipeline.run.errors counts), and the state the run's time was
// spent in.
func TestCICDRunDurationErrorType(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	c, err := newConfig([]Option{WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))})
	if err != nil {
		t.Fatal(err)
	}
	tel := newTelemetry(&c)
	ctx := context.Background()
	boom := errors.New("boom")
	for _, s := range []struct {
		state RunState
		err   error
	}{
		{StateSuccess, nil}, {StateFailure, boom}, {StateError, boom}, {StateTimeout, context.DeadlineExceeded},
		{StateCancellation, context.Canceled}, {StateSkip, boom},
	} {
		tel.cicdRunEnded(ctx, "job", s.state, time.Second, s.err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		errorType bool
		state     string
	}{
		"success": {false, "executing"}, "failure": {true, "executing"}, "error": {true, "executing"},
		"timeout": {true, "executing"}, "cancellation": {false, "executing"}, "skip": {false, "pending"},
	}
	seen := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "cicd.pipeline.run.duration" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				seen++
				r, _ := dp.Attributes.Value("cicd.pipeline.result")
				w, ok := want[r.AsString()]
				if !ok {
					t.Errorf("unexpected result %q", r.AsString())
					continue
				}
				if _, has := dp.Attributes.Value("error.type"); has != w.errorType {
					t.Errorf("%s: error.type present %v, want %v", r.AsString(), has, w.errorType)
				}
				if st, _ := dp.Attributes.Value("cicd.pipeline.run.state"); st.AsString() != w.state {
					t.Errorf("%s: cicd.pipeline.run.state %q, want %q", r.AsString(), st.AsString(), w.state)
				}
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d cicd.pipeline.run.duration points, want %d", seen, len(want))
	}
}

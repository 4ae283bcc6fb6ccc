package otelpig

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestFingerprint checks that a fingerprint ignores times and sees
// attributes and values.
func TestFingerprint(t *testing.T) {
	collection := func(at time.Time, value int64, job string, hist float64) *metricdata.ResourceMetrics {
		attrs := attribute.NewSet(attribute.String("pigging.job", job))
		return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
			{Name: "runs", Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, StartTime: at, Time: at, Value: value}}}},
			{Name: "duration", Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{Attributes: attrs, Time: at, Count: 1, Sum: hist, Bounds: []float64{1}, BucketCounts: []uint64{1, 0}}}}},
		}}}}
	}
	now := time.Now()
	base, n := fingerprint(collection(now, 1, "etl", 0.5))
	if n != 2 {
		t.Errorf("%d metrics with points, want 2", n)
	}
	if fp, _ := fingerprint(collection(now.Add(time.Minute), 1, "etl", 0.5)); fp != base {
		t.Error("a later collection of the same values has another fingerprint")
	}
	for name, rm := range map[string]*metricdata.ResourceMetrics{
		"value":     collection(now, 2, "etl", 0.5),
		"attribute": collection(now, 1, "load", 0.5),
		"histogram": collection(now, 1, "etl", 0.7),
	} {
		if fp, _ := fingerprint(rm); fp == base {
			t.Errorf("a different %s gives the same fingerprint", name)
		}
	}
	// Scopes and data points come in map order: the order does not count.
	two := func(first, second string) *metricdata.ResourceMetrics {
		sm := func(scope string) metricdata.ScopeMetrics {
			var points []metricdata.DataPoint[int64]
			for _, job := range []string{first, second} {
				points = append(points, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("job", job)), Value: 1})
			}
			return metricdata.ScopeMetrics{Scope: instrumentation.Scope{Name: scope},
				Metrics: []metricdata.Metrics{{Name: "runs", Data: metricdata.Sum[int64]{DataPoints: points}}}}
		}
		return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{sm(first), sm(second)}}
	}
	if a, _ := fingerprint(two("a", "b")); a != func() string { fp, _ := fingerprint(two("b", "a")); return fp }() {
		t.Error("the same scopes and points in another order give another fingerprint")
	}
	empty := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
		{Name: "runs", Data: metricdata.Sum[int64]{Temporality: metricdata.DeltaTemporality}}}}}}
	if _, n := fingerprint(empty); n != 0 {
		t.Errorf("a collection without points counts %d metrics", n)
	}
}

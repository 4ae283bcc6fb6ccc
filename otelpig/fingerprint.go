package otelpig

import (
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// fingerprint returns a digest of what rm says, its times and exemplars
// left out: two collections with the same fingerprint hold the same
// metrics, attributes and values. The SDK gives scopes and data points in
// no fixed order (they come from maps), so the digest is of the sorted
// lines, one per data point. It also returns the number of metrics that
// hold at least one data point.
func fingerprint(rm *metricdata.ResourceMetrics) (string, int) {
	var lines []string
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var b strings.Builder
			points := writePoints(&b, m.Data)
			if points > 0 {
				n++
			}
			prefix := fmt.Sprintf("%s %s %s %s ", sm.Scope.Name, sm.Scope.Version, m.Name, m.Unit)
			for l := range strings.Lines(b.String()) {
				lines = append(lines, prefix+l)
			}
		}
	}
	slices.Sort(lines)
	h := fnv.New128a()
	for _, l := range lines {
		_, _ = io.WriteString(h, l)
	}
	return string(h.Sum(nil)), n
}

// writePoints writes the attributes and values of data's points to w and
// returns how many there are.
func writePoints(w io.Writer, data metricdata.Aggregation) int {
	attrs := func(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }
	switch d := data.(type) {
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%s=%d\n", attrs(p.Attributes), p.Value)
		}
		return len(d.DataPoints)
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%s=%v\n", attrs(p.Attributes), p.Value)
		}
		return len(d.DataPoints)
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%v %s=%d\n", d.Temporality, attrs(p.Attributes), p.Value)
		}
		return len(d.DataPoints)
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%v %s=%v\n", d.Temporality, attrs(p.Attributes), p.Value)
		}
		return len(d.DataPoints)
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%s=%d %d %v %v\n", attrs(p.Attributes), p.Count, p.Sum, p.Bounds, p.BucketCounts)
		}
		return len(d.DataPoints)
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%s=%d %v %v %v\n", attrs(p.Attributes), p.Count, p.Sum, p.Bounds, p.BucketCounts)
		}
		return len(d.DataPoints)
	case metricdata.ExponentialHistogram[int64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%s=%d %d %d %v %v\n", attrs(p.Attributes), p.Count, p.Sum, p.Scale, p.PositiveBucket, p.NegativeBucket)
		}
		return len(d.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%s=%d %v %d %v %v\n", attrs(p.Attributes), p.Count, p.Sum, p.Scale, p.PositiveBucket, p.NegativeBucket)
		}
		return len(d.DataPoints)
	case metricdata.Summary:
		for _, p := range d.DataPoints {
			fmt.Fprintf(w, "%s=%d %v %v\n", attrs(p.Attributes), p.Count, p.Sum, p.QuantileValues)
		}
		return len(d.DataPoints)
	}
	// A kind this does not know: never equal to another collection.
	fmt.Fprintf(w, "%p\n", &data)
	return 1
}

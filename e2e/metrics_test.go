package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MetricFamily is one metric family scraped from the prometheus exporter of
// Jaeger's metrics pipeline (see internal/tools/jaeger/config.yaml), in the
// Prometheus text format. The exporter derives the names: dots become
// underscores, the unit is appended ("s" gives _seconds, braces units such
// as {record} are dropped), and counters end in _total; a histogram has
// _bucket, _sum and _count samples. service.name and service.instance.id
// become the job and instance labels.
type MetricFamily struct {
	Name    string // as in # TYPE
	Type    string // counter, gauge, histogram, summary, untyped
	Samples []Sample
}

// Sample is one line of a family.
type Sample struct {
	Name   string // the family name or it plus _bucket, _sum, _count
	Labels map[string]string
	Value  float64
}

func (s Sample) String() string { return fmt.Sprintf("%s%s %v", s.Name, sortedMap(s.Labels), s.Value) }

// Metrics are the families of one scrape, by name.
type Metrics map[string]*MetricFamily

// Find returns the samples named name (the family name, or it with a
// suffix such as _count) whose labels include every label in match.
func (m Metrics) Find(name string, match map[string]string) []Sample {
	var out []Sample
	for _, f := range m {
		for _, s := range f.Samples {
			if s.Name != name {
				continue
			}
			ok := true
			for k, v := range match {
				ok = ok && s.Labels[k] == v
			}
			if ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// String lists the families and samples, for failure messages.
func (m Metrics) String() string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %s (%s)\n", n, m[n].Type)
		for _, s := range m[n].Samples {
			fmt.Fprintf(&b, "    %s\n", s)
		}
	}
	return b.String()
}

// ScrapeMetrics reads the metrics Jaeger's prometheus exporter serves now.
func (j *jaeger) ScrapeMetrics() (Metrics, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	u := "http://" + j.Prometheus + "/metrics"
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, body)
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

// WaitMetrics scrapes until ready accepts the metrics or the bound passes;
// then it fails the test with what it last saw.
func (j *jaeger) WaitMetrics(t *testing.T, ready func(Metrics) bool) Metrics {
	t.Helper()
	deadline := time.Now().Add(logQueryTimeout)
	for {
		m, err := j.ScrapeMetrics()
		if err == nil && ready(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics were not in Jaeger's prometheus exporter after %s (last error %v); got:\n%s%s",
				logQueryTimeout, err, m, j.tail())
		}
		time.Sleep(pollInterval)
	}
}

// parseMetrics parses the Prometheus text format (version 0.0.4).
func parseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			m.family(name).Type = typ
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return m, fmt.Errorf("line %d %q: %w", n, line, err)
		}
		name := s.Name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(s.Name, suffix); ok && m[base] != nil {
				name = base
			}
		}
		f := m.family(name)
		f.Samples = append(f.Samples, s)
	}
	return m, sc.Err()
}

func (m Metrics) family(name string) *MetricFamily {
	f := m[name]
	if f == nil {
		f = &MetricFamily{Name: name, Type: "untyped"}
		m[name] = f
	}
	return f
}

// parseSample parses name{l="v",...} value [timestamp].
func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no value")
	}
	s.Name, line = line[:i], line[i:]
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, ", ")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad label list")
			}
			key := line[:eq]
			line = line[eq+1:]
			val, err := strconv.QuotedPrefix(line)
			if err != nil {
				return s, fmt.Errorf("label %s: %w", key, err)
			}
			line = line[len(val):]
			if s.Labels[key], err = strconv.Unquote(val); err != nil {
				return s, fmt.Errorf("label %s: %w", key, err)
			}
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value")
	}
	switch fields[0] {
	case "+Inf":
		s.Value = math.Inf(1)
	case "-Inf":
		s.Value = math.Inf(-1)
	default:
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return s, err
		}
		s.Value = v
	}
	return s, nil
}

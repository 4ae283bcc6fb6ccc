package otelpig

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func TestOTLPTarget(t *testing.T) {
	tests := []struct {
		name string
		sig  signal
		env  map[string]string
		want otlpTarget
		bad  bool // an unknown protocol: an error, with the default protocol's target
	}{
		{"defaults", tracesSignal, nil,
			otlpTarget{protocolHTTP, "http://localhost:4318/v1/traces", true, false}, false},
		{"grpc default", metricsSignal, map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			otlpTarget{protocolGRPC, "http://localhost:4317", true, false}, false},
		{"base endpoint gets the signal path", logsSignal, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/"},
			otlpTarget{protocolHTTP, "https://collector:4318/v1/logs", false, false}, false},
		{"signal endpoint is used as is", tracesSignal, map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:9999/otlp"},
			otlpTarget{protocolHTTP, "http://b:9999/otlp", false, false}, false},
		{"grpc endpoint", tracesSignal, map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317"},
			otlpTarget{protocolGRPC, "https://collector:4317", false, false}, false},
		{"signal protocol wins", metricsSignal, map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "GRPC"},
			otlpTarget{protocolGRPC, "http://localhost:4317", true, false}, false},
		{"an insecure variable leaves TLS to it", tracesSignal, map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "false"},
			otlpTarget{protocolHTTP, "localhost:4318/v1/traces", false, false}, false},
		{"an unknown protocol falls back to http/protobuf", tracesSignal, map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			otlpTarget{protocolHTTP, "http://c:4318/v1/traces", false, false}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_INSECURE"} {
				t.Setenv(k, "")
			}
			for _, s := range []string{"TRACES", "METRICS", "LOGS"} {
				for _, k := range []string{"PROTOCOL", "ENDPOINT", "INSECURE"} {
					t.Setenv("OTEL_EXPORTER_OTLP_"+s+"_"+k, "")
				}
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := tt.sig.otlpTarget()
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("otlpTarget() = %+v, %v; want %+v (an error: %v)", got, err, tt.want, tt.bad)
			}
		})
	}
}

func TestServiceVersion(t *testing.T) {
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{&debug.BuildInfo{Main: debug.Module{Path: "example.com/etl", Version: "v1.4.2"}}, true, "v1.4.2"},
		{&debug.BuildInfo{Main: debug.Module{Path: "example.com/etl", Version: "v0.0.0-20261127213517-0f130ed1be0b+dirty"}}, true,
			"v0.0.0-20261127213517-0f130ed1be0b+dirty"},
		{&debug.BuildInfo{Main: debug.Module{Path: "example.com/etl", Version: "(devel)"}}, true, ""},
		{&debug.BuildInfo{}, true, ""},
		{nil, false, ""},
	} {
		if got := serviceVersion(tc.bi, tc.ok); got != tc.want {
			t.Errorf("serviceVersion(%+v) = %q, want %q", tc.bi, got, tc.want)
		}
	}
}

func TestInstanceID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := newInstanceID(), newInstanceID()
	if !uuid.MatchString(a) || !uuid.MatchString(b) || a == b {
		t.Errorf("newInstanceID() = %q, %q; want two different version 4 UUIDs", a, b)
	}
	if first, again := instanceID(), instanceID(); first != again || !uuid.MatchString(first) {
		t.Errorf("instanceID changes within the process")
	}
}

// stableInstanceID is RFC 9562's version 5 UUID in the semantic
// conventions' namespace; the expected values come from another
// implementation (Python's uuid.uuid5).
func TestStableInstanceID(t *testing.T) {
	for _, tc := range []struct{ ns, svc, host, want string }{
		{"", "etl", "box-1", "8e2a0434-0299-5141-af5a-141c131c0b69"},
		{"shop", "etl", "box-1", "8e44934c-b621-5622-b68c-12c71f18de6e"},
		{"", "etl", "box-2", "d89e7d4b-a0ed-5470-9449-10bf4956b76a"},
		{"", "orders", "box-1", "5fd8ddb2-86b5-5622-b5f3-f5e540d33b1e"},
	} {
		if got := stableInstanceID(tc.ns, tc.svc, tc.host); got != tc.want {
			t.Errorf("stableInstanceID(%q, %q, %q) = %s, want %s", tc.ns, tc.svc, tc.host, got, tc.want)
		}
	}
	// The NUL separator keeps the values apart.
	if stableInstanceID("", "etl", "box") == stableInstanceID("", "etlb", "ox") {
		t.Error("values moved from one field to the next give the same id")
	}
}

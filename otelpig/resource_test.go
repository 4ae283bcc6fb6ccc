package otelpig_test

import (
	"os"
	"regexp"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/pigging-go/pigging/otelpig"
)

var uuidV5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// service.instance.id is the same for every run of a job on a host, so a
// metrics backend keeps one series per job and host across runs: a version
// 5 UUID of service.namespace, service.name and host.name as the resource
// finally has them. It differs between jobs and between hosts, and an
// explicit one wins.
func TestInstanceIDStableForJobAndHost(t *testing.T) {
	instance := func(t *testing.T, env map[string]string, opts ...otelpig.Option) string {
		t.Helper()
		isolate(t)
		setenv(t, env)
		return resourceOf(t, opts...)["service.instance.id"].String()
	}
	t.Run("same job, same host: same id in every run", func(t *testing.T) {
		a := instance(t, nil, otelpig.WithServiceName("etl"))
		b := instance(t, nil, otelpig.WithServiceName("etl"))
		if a != b || !uuidV5.MatchString(a) {
			t.Errorf("two setups of etl on this host: %q and %q, want one version 5 UUID", a, b)
		}
		if host, err := os.Hostname(); err == nil && host != "" {
			other := instance(t, map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "host.name=" + host + "-other"}, otelpig.WithServiceName("etl"))
			if other == a {
				t.Errorf("another host.name gives the same id %q", a)
			}
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		opts []otelpig.Option
		want string
	}{
		{"from service.name and host.name", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "host.name=box-1"},
			[]otelpig.Option{otelpig.WithServiceName("etl")}, "8e2a0434-0299-5141-af5a-141c131c0b69"},
		{"service.namespace counts", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "host.name=box-1,service.namespace=shop"},
			[]otelpig.Option{otelpig.WithServiceName("etl")}, "8e44934c-b621-5622-b68c-12c71f18de6e"},
		{"another host", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "host.name=box-2"},
			[]otelpig.Option{otelpig.WithServiceName("etl")}, "d89e7d4b-a0ed-5470-9449-10bf4956b76a"},
		{"OTEL_SERVICE_NAME is the job", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "host.name=box-1", "OTEL_SERVICE_NAME": "orders"},
			[]otelpig.Option{otelpig.WithServiceName("etl")}, "5fd8ddb2-86b5-5622-b5f3-f5e540d33b1e"},
		{"OTEL_RESOURCE_ATTRIBUTES overrides it", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "host.name=box-1,service.instance.id=etl-box-1"},
			[]otelpig.Option{otelpig.WithServiceName("etl")}, "etl-box-1"},
		{"WithResourceAttributes overrides it", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "host.name=box-1"},
			[]otelpig.Option{otelpig.WithServiceName("etl"), otelpig.WithResourceAttributes(attribute.String("service.instance.id", "mine"))}, "mine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := instance(t, tc.env, tc.opts...); got != tc.want {
				t.Errorf("service.instance.id = %q, want %q", got, tc.want)
			}
		})
	}
}

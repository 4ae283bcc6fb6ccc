package otelpig

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// newResource describes this process: telemetry SDK, host, process and
// service version, then [WithResourceAttributes], the service name,
// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, each overriding what
// comes before. Unless one of them sets service.instance.id, it is derived
// from the final service.namespace, service.name and host.name (see
// stableInstanceID).
func newResource(ctx context.Context, cfg config) (*resource.Resource, error) {
	name := cfg.serviceName
	if name == "" {
		name = programName()
	}
	var attrs []attribute.KeyValue
	if v := serviceVersion(debug.ReadBuildInfo()); v != "" {
		attrs = append(attrs, semconv.ServiceVersion(v))
	}
	attrs = append(attrs, cfg.attrs...)
	attrs = append(attrs, semconv.ServiceName(name))
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithOSType(),
		// Process attributes, without the command line: a job's arguments
		// may hold credentials and must not leave the machine in every span.
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessExecutablePath(),
		resource.WithProcessOwner(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithProcessRuntimeDescription(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if err != nil {
		if res == nil {
			return nil, fmt.Errorf("otelpig: resource: %w", err)
		}
		otel.Handle(fmt.Errorf("otelpig: resource: %w", err))
	}
	if _, set := res.Set().Value(semconv.ServiceInstanceIDKey); !set {
		id := instanceID()
		if host, ok := res.Set().Value(semconv.HostNameKey); ok && host.AsString() != "" {
			ns, _ := res.Set().Value(semconv.ServiceNamespaceKey)
			svc, _ := res.Set().Value(semconv.ServiceNameKey)
			id = stableInstanceID(ns.AsString(), svc.AsString(), host.AsString())
		}
		// Neither resource has a schema URL the other lacks, so Merge
		// cannot fail here.
		merged, err := resource.Merge(res, resource.NewSchemaless(semconv.ServiceInstanceID(id)))
		if err != nil {
			return nil, fmt.Errorf("otelpig: resource: %w", err)
		}
		res = merged
	}
	return res, nil
}

// instanceNamespace is the UUID namespace the semantic conventions give
// for a version 5 UUID as service.instance.id.
var instanceNamespace = [16]byte{0x4d, 0x63, 0x00, 0x9a, 0x8d, 0x0f, 0x11, 0xee, 0xaa, 0xd7, 0x4c, 0x79, 0x6e, 0xd8, 0xe3, 0x20}

// stableInstanceID is the service.instance.id of the job named service in
// namespace on host: a version 5 UUID (RFC 9562) in the namespace the
// semantic conventions give, of the three values joined by NUL bytes. It is
// the same for every run of the job on that host, so a metrics backend
// keeps one series per job and host across runs instead of a new one per
// process; the job's lock makes one run at a time the instance. The values
// are hashed, not shown: a host name may be private.
func stableInstanceID(namespace, service, host string) string {
	h := sha1.New()
	h.Write(instanceNamespace[:])
	h.Write([]byte(namespace + "\x00" + service + "\x00" + host))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return formatUUID(u)
}

// formatUUID is u in the 8-4-4-4-12 hexadecimal form.
func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// programName is the program's base name without extension.
func programName() string {
	exe := os.Args[0]
	if exe == "" {
		if p, err := os.Executable(); err == nil {
			exe = p
		}
	}
	base := filepath.Base(exe)
	if n := strings.TrimSuffix(base, filepath.Ext(base)); n != "" && n != "." {
		return n
	}
	return base
}

// serviceVersion is the main module's version from the build info, or ""
// when it is not known: "(devel)" for a build from a working tree without
// version control stamping.
func serviceVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return ""
	}
	switch v := bi.Main.Version; v {
	case "", "(devel)":
		return ""
	default:
		return v
	}
}

// instanceID is this process's random service.instance.id, for when there
// is no host name to derive a stable one from: one for all Setup calls.
var instanceID = sync.OnceValue(newInstanceID)

// newInstanceID returns a random (version 4) UUID in its text form.
func newInstanceID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // never fails since Go 1.24
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return formatUUID(u)
}

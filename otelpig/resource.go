package otelpig

import (
	"context"
	"crypto/rand"
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

// newResource describes this process: telemetry SDK, host, process,
// service version and instance id, then [WithResourceAttributes], the
// service name, OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, each
// overriding what comes before.
func newResource(ctx context.Context, cfg config) (*resource.Resource, error) {
	name := cfg.serviceName
	if name == "" {
		name = programName()
	}
	var attrs []attribute.KeyValue
	if v := serviceVersion(debug.ReadBuildInfo()); v != "" {
		attrs = append(attrs, semconv.ServiceVersion(v))
	}
	attrs = append(attrs, semconv.ServiceInstanceID(instanceID()))
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
	return res, nil
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

// instanceID is this process's service.instance.id: one for all Setup calls.
var instanceID = sync.OnceValue(newInstanceID)

// newInstanceID returns a random (version 4) UUID in its text form, which
// the semantic conventions recommend for service.instance.id.
func newInstanceID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // never fails since Go 1.24
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

package pigtest

import (
	"context"
	"slices"
	"sync"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// LogSink is an sdklog.Exporter that keeps a copy of every log record the
// SDK exports, for a test to read; it is safe for concurrent use.
type LogSink struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

// Export keeps a clone of each record; it never fails.
func (s *LogSink) Export(_ context.Context, recs []sdklog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.recs = append(s.recs, r.Clone())
	}
	return nil
}

// Shutdown does nothing and returns nil.
func (s *LogSink) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing and returns nil: records are kept as exported.
func (s *LogSink) ForceFlush(context.Context) error { return nil }

// Records returns the records kept so far, in the order exported.
func (s *LogSink) Records() []sdklog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

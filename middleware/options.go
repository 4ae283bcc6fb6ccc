package middleware

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// MaxBackoff caps the wait before any retry, whatever the base given to
// WithRetry.
const MaxBackoff = 30 * time.Second

// An Option configures a stage wrapper. Options are made by the With*
// functions; the interface is sealed.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	attempts int
	backoff  time.Duration
	timeout  time.Duration
	attrs    []attribute.KeyValue
	provider trace.TracerProvider
}

// newConfig applies the defaults, then opts in order, then checks the
// result. The error wraps ErrInvalidOption and names the option.
func newConfig(opts []Option) (config, error) {
	c := config{attempts: 1}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	var errs []error
	if c.attempts < 1 {
		errs = append(errs, fmt.Errorf("WithRetry: attempts is %d, want 1 or more: %w", c.attempts, ErrInvalidOption))
	}
	if c.backoff < 0 {
		errs = append(errs, fmt.Errorf("WithRetry: backoff is %v, want 0 or more: %w", c.backoff, ErrInvalidOption))
	}
	if c.timeout < 0 {
		errs = append(errs, fmt.Errorf("WithTimeout: %v is negative, want 0 (none) or more: %w", c.timeout, ErrInvalidOption))
	}
	return c, errors.Join(errs...)
}

// WithRetry makes the stage try its function up to attempts times in all
// (attempts counts the first try). Before try n (n ≥ 2) it waits a random
// time in [0, backoff·2^(n-2)], capped at MaxBackoff ("full jitter"), and
// stops waiting when the caller's ctx is done. Each try is a child span of
// the stage span named "attempt <n>" with pigging.attempt; a failed try that
// will be retried logs a WARN line. Panics are not retried.
//
// The default is one attempt: no retry and no attempt spans. attempts below
// 1 or a negative backoff make every call of the stage return an error that
// wraps ErrInvalidOption.
func WithRetry(attempts int, backoff time.Duration) Option {
	return optionFunc(func(c *config) {
		c.attempts = attempts
		c.backoff = backoff
	})
}

// WithTimeout bounds each attempt: the ctx given to the stage's function
// gets a deadline d after the attempt begins. The function must watch its
// ctx; a stage cannot stop code that ignores it. An attempt that runs out
// of time is recorded with pigging.timed_out=true and, when its error wraps
// context.DeadlineExceeded, error.type context.DeadlineExceeded.
//
// The default is 0: no deadline beyond the caller's ctx. A negative d makes
// every call of the stage return an error that wraps ErrInvalidOption.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = d })
}

// WithAttributes adds kv to the attributes of every stage span the wrapper
// makes. Repeated options add to the list.
//
// The default is none beyond pigging.stage.kind, pigging.stage.name and the
// record counts.
func WithAttributes(kv ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, kv...) })
}

// WithTracerProvider sets the provider of the stage spans for calls whose
// ctx carries no pigging run. When ctx comes from a started Tracker, the
// Tracker's provider is used, so that a run and its stages form one trace.
//
// The default is nil: the global provider (otel.GetTracerProvider) at the
// time of the call.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.provider = tp })
}

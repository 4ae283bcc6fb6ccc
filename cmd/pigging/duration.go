package main

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationFlag is a flag taking a duration: a Go duration ("90s", "1m30s",
// "250ms") or a bare number of seconds ("5", "0.5"), as timeout(1) and
// flock -w take them. A bare number is what a shell user types first; it
// is not an error that a nightly job meets only when it runs.
type durationFlag struct{ d *time.Duration }

// String returns the duration, or "" for none (0), which help then shows
// as no default.
func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// errDuration is the error of a value that is neither a duration nor a
// number of seconds; the flag package puts the flag and the value before it.
var errDuration = errors.New("want a duration such as 90s, 5m or 1h30m, or a number of seconds")

// parseDuration parses s as a Go duration, or as a number of seconds when
// it has no unit.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || math.Abs(secs) > math.MaxInt64/float64(time.Second) {
		return 0, errDuration
	}
	return time.Duration(secs * float64(time.Second)), nil
}

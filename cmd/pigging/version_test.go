package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	want := "pigging (devel) " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		if code != exitOK || stdout.String() != want || stderr.Len() != 0 {
			t.Errorf("pigging %s: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", strings.Join(args, " "), code, stdout.String(), stderr.String(), want)
		}
	}
}

func TestVersionUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version", "extra"}, strings.NewReader(""), &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), `unexpected argument "extra"`) {
		t.Errorf("pigging version extra: exit %d, stderr %q; want exit %d naming the argument", code, stderr.String(), exitUsage)
	}
	stdout.Reset()
	if code := run([]string{"help", "version"}, strings.NewReader(""), &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "(devel)") {
		t.Errorf("pigging help version: exit %d, stdout %q", code, stdout.String())
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "u")
	tests := []struct {
		args   []string
		code   int
		stdout string // a part of stdout
		stderr string // a part of stderr
	}{
		{nil, exitUsage, "", "Commands:"},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "run      run a command", ""},
		{[]string{"--help"}, exitOK, "Commands:", ""},
		{[]string{"help", "run"}, exitOK, "(default 10s)", ""},
		{[]string{"help", "frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"run", "--help"}, exitOK, "default JOB.log in the working directory", ""},
		{[]string{"run", "-h"}, exitOK, "64 KiB", ""},
		{[]string{"run"}, exitUsage, "", "no command given"},
		{[]string{"run", "--"}, exitUsage, "", "no command given"},
		{[]string{"run", "--bogus", "true"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{[]string{"run", "--timeout", "soon", "true"}, exitUsage, "", `invalid value "soon" for flag -timeout`},
		{[]string{"run", "--timeout", "-1s", "true"}, exitUsage, "", "--timeout -1s is negative"},
		{[]string{"run", "--grace", "-1s", "true"}, exitUsage, "", "--grace -1s is negative"},
		{[]string{"run", "some/dir/"}, exitUsage, "", `no job name in the command "some/dir/"`},
		{[]string{"run", "--name", "a/b", "true"}, exitUsage, "", `job name "a/b" cannot name a file`},
		{[]string{"run", "--log", log, "--lock", log, "true"}, exitUsage, "", "pigging run: lock path"},
		{[]string{"run", "--log", filepath.Join(dir, "missing", "x.log"), "--lock", lock, "true"}, exitInternal, "", "missing"},
	}
	for _, tt := range tests {
		r := runInProcess(t, tt.args...)
		if r.code != tt.code {
			t.Errorf("pigging %q: exit status %d, want %d\nstderr: %s", tt.args, r.code, tt.code, r.stderr)
		}
		if !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("pigging %q:\nstdout %q\nstderr %q\nwant %q on stdout and %q on stderr", tt.args, abbrev(r.stdout), r.stderr, tt.stdout, tt.stderr)
		}
		if strings.Contains(r.stderr, ": pigging: ") {
			t.Errorf("pigging %q: prefix given twice on stderr: %q", tt.args, r.stderr)
		}
		if tt.code == exitOK && r.stderr != "" {
			t.Errorf("pigging %q wrote to stderr: %q", tt.args, r.stderr)
		}
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("a refused command line left %s: %v", lock, err)
	}
}

func TestJobName(t *testing.T) {
	for in, want := range map[string]string{
		"sh":                  "sh",
		"/usr/bin/python3":    "python3",
		"./sync.sh":           "sync.sh",
		`C:\jobs\nightly.exe`: "nightly",
		"backup.CMD":          "backup",
		"etl.py":              "etl.py",
	} {
		if got := jobName(in); got != want {
			t.Errorf("jobName(%q) = %q, want %q", in, got, want)
		}
	}
}

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		{[]string{"run", "--timeout", "5x", "true"}, exitUsage, "", "want a duration such as 90s, 5m or 1h30m, or a number of seconds"},
		{[]string{"run", "--wait", "-5", "true"}, exitUsage, "", "--wait -5s is negative"},
		{[]string{"run", "some/dir/"}, exitUsage, "", `no job name in the command "some/dir/"`},
		{[]string{"run", "bash", "-c", "echo hi"}, exitUsage, "", `it would be "bash", like every bash job`},
		{[]string{"run", "dbt", "run"}, exitUsage, "", "give --name JOB"},
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

// TestDurationFlags checks that a bare number is taken as seconds, as
// timeout(1) and flock -w take it, and a Go duration as it is.
func TestDurationFlags(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5":     5 * time.Second,
		"0.5":   500 * time.Millisecond,
		"0":     0,
		"90s":   90 * time.Second,
		"1h30m": 90 * time.Minute,
		" 2 ":   2 * time.Second,
	} {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "5x", "NaN", "inf", "1e30"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
	o, code, ok := (&cli{stdout: io.Discard, stderr: io.Discard}).parseRun([]string{"--timeout", "5", "--grace", "1.5", "--wait", "2", "--name", "j", "true"})
	if !ok {
		t.Fatalf("parseRun: exit status %d", code)
	}
	if o.timeout != 5*time.Second || o.grace != 1500*time.Millisecond || o.wait != 2*time.Second {
		t.Errorf("--timeout 5 --grace 1.5 --wait 2 parsed as %v, %v, %v", o.timeout, o.grace, o.wait)
	}
}

func TestDefaultJobName(t *testing.T) {
	tests := []struct {
		argv string // split on spaces
		want string // "" when the command names no job
	}{
		{"./sync.sh", "sync.sh"},
		{"/usr/bin/awk -f x.awk", "awk"},
		{"python3 jobs/sync.py", "sync.py"},
		{"/usr/bin/python3.12 -u -W ignore jobs/sync.py --full", "sync.py"},
		{"python -Wignore sync.py", "sync.py"},
		{"python3 -m etl.nightly", "etl.nightly"},
		{"python3 -um etl.nightly", "etl.nightly"},
		{"python3 -c print(1)", ""},
		{"python3 -uc print(1)", ""},
		{"python3", ""},
		{"python3 -", ""},
		{"bash -e -o pipefail nightly.sh", "nightly.sh"},
		{"bash -ec true", ""},
		{"sh -- ./x.sh", "x.sh"},
		{"dash +o nounset y.sh", "y.sh"},
		{"zsh --rcfile rc z.zsh", "z.zsh"},
		{"node --require dotenv/config build/index.js", "index.js"},
		{"node -e 1", ""},
		{"node --eval=1", ""},
		{"ruby -I lib task.rb", "task.rb"},
		{"perl -e 1", ""},
		{"perl report.pl", "report.pl"},
		{"php -f cron.php", "cron.php"},
		{"php -r echo;", ""},
		{"Rscript --vanilla model.R", "model.R"},
		{"Rscript -e 1", ""},
		{"java -Xmx1g -jar /opt/etl.jar", "etl.jar"},
		{"java -cp lib Main", ""},
		{"dbt run", ""},
		{"dbt run --select orders", ""},
		{"uv run --with pandas sync.py", "sync.py"},
		{"uv run python3 sync.py", "sync.py"},
		{"uv run dbt run", ""},
		{"uv sync", ""},
		{"env A=1 -u B bash x.sh", "x.sh"},
		{"/usr/bin/env python3 y.py", "y.py"},
		{"env -S python3 y.py", ""},
		{"env", ""},
		{`C:\Python312\python.exe C:\jobs\w.py`, "w.py"},
		{"nice -n 10 ./backup.sh", "backup.sh"},
		{"nohup python3 y.py", "y.py"},
		{"timeout -k 10s 1h python3 -u z.py", "z.py"},
		{"timeout 1h", ""},
		{"ionice -c 3 nice bash -c true", ""},
		{"nice", ""},
	}
	for _, tt := range tests {
		got, err := defaultJobName(strings.Split(tt.argv, " "))
		if tt.want == "" {
			if !errors.Is(err, errNoScript) {
				t.Errorf("defaultJobName(%q) = %q, %v; want errNoScript", tt.argv, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("defaultJobName(%q) = %q, %v; want %q", tt.argv, got, err, tt.want)
		}
	}
}

// TestRunInterpreterJobNames runs two scripts with sh: each gets files of
// its own, named after the script; sh -c without --name is refused before
// anything is created.
func TestRunInterpreterJobNames(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, name := range []string{"a.sh", "b.sh"} {
		if err := os.WriteFile(name, []byte("echo "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, script := range []string{"a.sh", "b.sh"} {
		if r := runInProcess(t, "run", "--", "sh", script); r.code != 0 {
			t.Fatalf("sh %s: exit status %d\nstderr: %s", script, r.code, r.stderr)
		}
		if _, err := os.Stat(script + ".log"); err != nil {
			t.Errorf("sh %s: no log of its own: %v", script, err)
		}
	}
	r := runInProcess(t, "run", "--", "sh", "-c", "echo hi")
	if r.code != exitUsage || !strings.Contains(r.stderr, "give --name") {
		t.Errorf("sh -c without --name: exit status %d, stderr %q; want 2 asking for --name", r.code, r.stderr)
	}
	if _, err := os.Stat("sh.lock"); !os.IsNotExist(err) {
		t.Errorf("a refused command line left sh.lock: %v", err)
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

package main

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// jobName is the default job name for the command cmd: its base name,
// without the extension of a Windows executable. Both / and \ separate
// directories, whatever the system.
func jobName(cmd string) string {
	name := cmd[strings.LastIndexAny(cmd, `/\`)+1:]
	switch ext := filepath.Ext(name); strings.ToLower(ext) {
	case ".exe", ".bat", ".cmd", ".com":
		name = strings.TrimSuffix(name, ext)
	}
	return name
}

// errNoScript is the error of a command line whose job pigging cannot
// name: an interpreter given no script (bash -c '...', python3 -c '...'),
// or a tool whose subcommand is no name (dbt run).
var errNoScript = errors.New("no script to name the job after")

// An interpreter describes the options of a program that runs a script
// named among its arguments, so that the job can be named after the
// script: every python3 x.py in one directory would otherwise share
// python3.lock, and the second job would be refused as if it were the
// first.
//
// Short options are read as getopt does: letters in one word (-ue), the
// last one's value attached (-Wignore) or in the next word (-W ignore).
type interpreter struct {
	inline string // short options whose value is the program itself: no script (python -c)
	named  string // short options whose value names the job (python -m MODULE, php -f FILE)
	value  string // other short options taking a value
	// longInline and longValue are the long options (--eval) of the first
	// two kinds and those taking a value in the next word.
	longInline, longValue []string
	sub                   string // a subcommand that must come first (uv run); the rest is a command of its own
	noName                bool   // nothing on its command line names the job (dbt run)
}

var (
	shell      = interpreter{inline: "c", value: "oO", longValue: []string{"--rcfile", "--init-file"}}
	python     = interpreter{inline: "c", named: "m", value: "WX", longValue: []string{"--check-hash-based-pycs"}}
	pythonName = regexp.MustCompile(`^(python|pypy)[0-9.]*$`)
)

// interpreters are the programs named after their script, by their base
// name in lower case (pythonX.Y is python).
var interpreters = map[string]interpreter{
	"python":  python,
	"bash":    shell,
	"sh":      shell,
	"dash":    shell,
	"zsh":     shell,
	"ksh":     shell,
	"node":    {inline: "ep", value: "r", longInline: []string{"--eval", "--print"}, longValue: []string{"--require", "--import", "--loader", "--experimental-loader", "--input-type", "--title"}},
	"ruby":    {inline: "e", value: "IrCE"},
	"perl":    {inline: "eE", value: "I"},
	"php":     {inline: "rBRE", named: "f", value: "cdzt"},
	"rscript": {inline: "e"},
	"uv": {sub: "run", value: "pw", longValue: []string{
		"--with", "--with-editable", "--with-requirements", "--python", "--env-file", "--package",
		"--extra", "--group", "--only-group", "--no-group", "--directory", "--project", "--index",
		"--default-index", "--index-url", "--extra-index-url", "--find-links", "--config-file", "--cache-dir"}},
	"dbt": {noName: true},
}

// defaultJobName returns the job name for argv when --name is not given:
// the base name of its script when argv[0] is an interpreter (python3
// jobs/sync.py is sync.py, java -jar etl.jar is etl.jar, uv run x.py is
// x.py), that of the command a wrapper runs (env A=1 bash x.sh and
// nice -n 5 ./x.sh are x.sh), else the base name of argv[0]. It returns
// errNoScript when argv[0] is an interpreter given no script, or dbt.
func defaultJobName(argv []string) (string, error) {
	base := jobName(argv[0])
	key := strings.ToLower(base)
	if pythonName.MatchString(key) {
		key = "python"
	}
	args := argv[1:]
	switch key {
	case "env":
		return envJobName(args)
	case "java":
		return javaJobName(args)
	}
	if w, ok := wrappers[key]; ok {
		return w.jobName(args)
	}
	in, ok := interpreters[key]
	if !ok {
		return base, nil
	}
	if in.noName {
		return "", errNoScript
	}
	if in.sub != "" {
		if len(args) == 0 || args[0] != in.sub {
			return "", errNoScript
		}
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return in.script(args[i+1:])
		case a == "-" || (a[0] != '-' && a[0] != '+'):
			return in.script(args[i:])
		case strings.HasPrefix(a, "--"):
			opt, _, hasValue := strings.Cut(a, "=")
			switch {
			case slices.Contains(in.longInline, opt):
				return "", errNoScript
			case slices.Contains(in.longValue, opt) && !hasValue:
				i++
			}
		default: // -abc, or +o for a shell
			for j := 1; j < len(a); j++ {
				c := a[j : j+1]
				switch {
				case strings.Contains(in.inline, c):
					return "", errNoScript
				case strings.Contains(in.named, c):
					if v := a[j+1:]; v != "" {
						return jobName(v), nil
					}
					if i+1 < len(args) {
						return jobName(args[i+1]), nil
					}
					return "", errNoScript
				case strings.Contains(in.value, c):
					if j == len(a)-1 {
						i++ // the value is the next word
					}
					j = len(a) // the rest of the word is the value
				}
			}
		}
	}
	return "", errNoScript
}

// script returns the job name for args, which start with the script (or,
// after uv run, a command of its own).
func (in interpreter) script(args []string) (string, error) {
	if len(args) == 0 || args[0] == "" || args[0] == "-" {
		return "", errNoScript // the program comes from stdin
	}
	if in.sub != "" {
		return defaultJobName(args)
	}
	return jobName(args[0]), nil
}

// envJobName names the job of env [OPTION]... [NAME=VALUE]... CMD [ARG]...
// after CMD.
func envJobName(args []string) (string, error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-S" || strings.HasPrefix(a, "--split-string") || (strings.HasPrefix(a, "-S") && !strings.HasPrefix(a, "--")):
			return "", errNoScript // the command is one word to split
		case a == "-u" || a == "--unset" || a == "-C" || a == "--chdir":
			i++
		case a == "--":
			if i+1 < len(args) {
				return defaultJobName(args[i+1:])
			}
			return "", errNoScript
		case strings.HasPrefix(a, "-") && a != "-":
		case strings.Contains(a, "="):
		default:
			return defaultJobName(args[i:])
		}
	}
	return "", errNoScript
}

// A wrapper runs a command given in its arguments, after its options and
// a fixed number of other arguments (timeout's duration): the job is the
// command's.
type wrapper struct {
	value []string // options taking the next argument as their value
	skip  int      // arguments before the command
}

// wrappers are the programs looked through, by their base name.
var wrappers = map[string]wrapper{
	"nohup":   {},
	"nice":    {value: []string{"-n", "--adjustment"}},
	"ionice":  {value: []string{"-c", "--class", "-n", "--classdata"}},
	"timeout": {value: []string{"-s", "--signal", "-k", "--kill-after"}, skip: 1},
}

// jobName names the job of the command w runs.
func (w wrapper) jobName(args []string) (string, error) {
	skip := w.skip
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			if rest := args[i+1+skip:]; i+1+skip <= len(args) && len(rest) > 0 {
				return defaultJobName(rest)
			}
			return "", errNoScript
		case slices.Contains(w.value, a):
			i++
		case strings.HasPrefix(a, "-") && len(a) > 1:
		case skip > 0:
			skip--
		default:
			return defaultJobName(args[i:])
		}
	}
	return "", errNoScript
}

// javaJobName names the job of java [OPTION]... -jar FILE after FILE; a
// class name is not taken as the job's.
func javaJobName(args []string) (string, error) {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-jar":
			if i+1 < len(args) {
				return jobName(args[i+1]), nil
			}
			return "", errNoScript
		case a == "-cp" || a == "-classpath" || a == "--class-path" || a == "-p" || a == "--module-path":
			i++
		case !strings.HasPrefix(a, "-"):
			return "", errNoScript // a class: java -cp lib Main
		}
	}
	return "", errNoScript
}

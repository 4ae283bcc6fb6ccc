// Package shell writes values as words of a POSIX shell command line, for
// the commands pigging's messages tell a person to run.
package shell

import "strings"

// Word returns s as one word for a POSIX shell: as it is when it holds only
// characters that need no quoting, else single-quoted.
func Word(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,:/@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package shell

import (
	"os/exec"
	"testing"
)

// Each word, read back by a real shell, is the value it was made from.
func TestWordRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this system")
	}
	for _, s := range []string{"etl", "/var/lib/etl.lock", "", "two words", "it's", `$HOME`, "a\"b", "*", "x\ny", "-n"} {
		out, err := exec.Command(sh, "-c", "printf %s "+Word(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("Word(%q) = %s: the shell reads %q (%v)", s, Word(s), out, err)
		}
	}
	if got := Word("/srv/etl/job.lock"); got != "/srv/etl/job.lock" {
		t.Errorf("a plain path is quoted: %s", got)
	}
}

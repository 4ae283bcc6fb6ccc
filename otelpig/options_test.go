package otelpig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewConfigDefaults(t *testing.T) {
	cfg := newConfig()
	if cfg.writer != os.Stderr {
		t.Errorf("default writer = %v, want os.Stderr", cfg.writer)
	}
	if cfg.shutdownTimeout != 5*time.Second {
		t.Errorf("default shutdown timeout = %v, want 5s", cfg.shutdownTimeout)
	}
	cfg = newConfig(WithWriter(nil), WithShutdownTimeout(-time.Second), nil)
	if cfg.writer != os.Stderr || cfg.shutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("nil writer / negative timeout: got %v, %v; want the defaults", cfg.writer, cfg.shutdownTimeout)
	}
	cfg = newConfig(WithShutdownTimeout(time.Second), WithServiceName("a"), WithServiceName("b"))
	if cfg.shutdownTimeout != time.Second || cfg.serviceName != "b" {
		t.Errorf("got %v %q, want 1s and the last service name", cfg.shutdownTimeout, cfg.serviceName)
	}
}

func TestProgramName(t *testing.T) {
	orig := os.Args[0]
	t.Cleanup(func() { os.Args[0] = orig })
	tests := map[string]string{
		filepath.Join("usr", "local", "bin", "etl"): "etl",
		"etl.exe":                     "etl",
		filepath.Join("jobs", "sync"): "sync",
		".hidden":                     ".hidden",
	}
	for arg0, want := range tests {
		os.Args[0] = arg0
		if got := programName(); got != want {
			t.Errorf("programName() with os.Args[0]=%q = %q, want %q", arg0, got, want)
		}
	}
	os.Args[0] = ""
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	base := filepath.Base(exe)
	if got := programName(); got == "" || !strings.HasPrefix(base, got) {
		t.Errorf("programName() with empty os.Args[0] = %q, want a prefix of %q", got, base)
	}
}

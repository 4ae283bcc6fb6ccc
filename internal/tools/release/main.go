// Command release lays out a module proxy directory for one version of the
// pigging module, as a release publishes it, and checks what the module zip
// holds. CI serves that directory with GOPROXY=file://DIR to a scratch
// module outside the repository, so the install lines of the README are
// tried the way a user types them before a version is tagged.
//
//	go run . -version v0.3.0 -dir ../../.. -out /tmp/proxy
//
// It writes DIR/github.com/pigging-go/pigging/@v/{list,VERSION.info,
// VERSION.mod,VERSION.zip} (the zip exactly as the module proxy serves it,
// by golang.org/x/mod/zip), and fails when the zip holds a compiled test
// binary or another executable, a file over 1 MiB, or is 2 MiB or more.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

const (
	maxFile = 1 << 20 // no file in the module over 1 MiB
	maxZip  = 2 << 20 // the whole zip under 2 MiB
)

func main() {
	version := flag.String("version", "", "the `version` to publish, e.g. v0.3.0")
	dir := flag.String("dir", ".", "the module's root `directory`")
	out := flag.String("out", "", "the proxy `directory` to write")
	flag.Parse()
	if err := run(*version, *dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(version, dir, out string) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		return fmt.Errorf("%s: no module path", filepath.Join(dir, "go.mod"))
	}
	mv := module.Version{Path: path, Version: version}
	if err := module.Check(path, version); err != nil {
		return err
	}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	at := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}

	var z bytes.Buffer
	if err := modzip.CreateFromDir(&z, mv, dir); err != nil {
		return err
	}
	if err := check(z.Bytes()); err != nil {
		return fmt.Errorf("module zip %s@%s: %w", path, version, err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": info,
		version + ".mod":  gomod,
		version + ".zip":  z.Bytes(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s@%s: zip %d bytes (limit %d), written to %s\n", path, version, z.Len(), maxZip, at)
	return nil
}

// check refuses a zip that carries what does not belong in a release: a
// compiled test binary or any other executable, a file over 1 MiB, or a
// zip of 2 MiB or more.
func check(b []byte) error {
	if len(b) >= maxZip {
		return fmt.Errorf("%d bytes, the limit is %d", len(b), maxZip)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	var bad []string
	for _, f := range zr.File {
		switch {
		case f.UncompressedSize64 > maxFile:
			bad = append(bad, fmt.Sprintf("%s is %d bytes (over 1 MiB)", f.Name, f.UncompressedSize64))
		case strings.HasSuffix(f.Name, ".test") || strings.HasSuffix(f.Name, ".exe"):
			bad = append(bad, f.Name+" is a compiled binary")
		default:
			exe, err := isExecutable(f)
			if err != nil {
				return err
			}
			if exe {
				bad = append(bad, f.Name+" is an executable binary")
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("holds what a release must not:\n\t%s", strings.Join(bad, "\n\t"))
	}
	return nil
}

// isExecutable says whether f starts with the magic number of an ELF,
// Mach-O or PE (MZ) executable.
func isExecutable(f *zip.File) (bool, error) {
	r, err := f.Open()
	if err != nil {
		return false, err
	}
	defer r.Close()
	var head [4]byte
	n, _ := r.Read(head[:])
	h := head[:n]
	for _, magic := range [][]byte{
		{0x7f, 'E', 'L', 'F'},
		{0xcf, 0xfa, 0xed, 0xfe}, {0xce, 0xfa, 0xed, 0xfe}, {0xfe, 0xed, 0xfa, 0xcf}, {0xca, 0xfe, 0xba, 0xbe},
		{'M', 'Z'},
	} {
		if bytes.HasPrefix(h, magic) {
			return true, nil
		}
	}
	return false, nil
}

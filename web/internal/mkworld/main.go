package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkworld:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkworld", flag.ContinueOnError)
	out := fs.String("o", "web/static/world.svg-path", "where to write the SVG path")
	in := fs.String("in", "", "a local land-110m.json or world-atlas .tgz instead of npm")
	version := fs.String("version", "2.0.2", "the world-atlas version npm fetches")
	cache := fs.String("cache", "", "keep the npm tarball in this directory and use it next time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		topo []byte
		err  error
	)
	switch {
	case *in == "":
		topo, err = fetch(*version, *cache)
	case strings.HasSuffix(*in, ".tgz"):
		topo, err = fromTarball(*in)
	default:
		topo, err = os.ReadFile(*in)
	}
	if err != nil {
		return err
	}
	path, err := landPath(topo)
	if err != nil {
		return err
	}
	// Write, then rename: a build that reads it never sees half a file.
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, []byte(path), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Printf("%s: %d bytes\n", *out, len(path))
	return nil
}

// fetch packs world-atlas@version with npm, into cache when it is set (and reads it from
// there when an earlier run left it), else into a temporary directory, and returns its
// land-110m.json.
func fetch(version, cache string) ([]byte, error) {
	tgz := "world-atlas-" + version + ".tgz"
	if cache != "" {
		if b, err := fromTarball(filepath.Join(cache, tgz)); err == nil {
			return b, nil
		}
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return nil, errors.New("npm is needed to fetch world-atlas (apt-get install npm)")
	}
	dir := cache
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mkworld")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command("npm", "pack", "--silent", "world-atlas@"+version)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("npm pack world-atlas@%s: %w", version, err)
	}
	return fromTarball(filepath.Join(dir, tgz))
}

// fromTarball reads package/land-110m.json out of an npm package tarball.
func fromTarball(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no package/land-110m.json", name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if h.Name == "package/land-110m.json" {
			return io.ReadAll(io.LimitReader(tr, 16<<20))
		}
	}
}

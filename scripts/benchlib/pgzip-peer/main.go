// pgzip-peer: CDI's gzip reader as a peer for scripts/bench. CDI's importer (since v1.66,
// pkg/importer/format-readers.go) decodes gzip with github.com/klauspost/pgzip's NewReader and its defaults; this
// does the same from a file (or stdin) to stdout. Built by scripts/benchlib/peers.py from Debian's
// golang-github-klauspost-pgzip-dev (GOPATH mode: no module download).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	gzip "github.com/klauspost/pgzip"
)

func main() {
	var in io.Reader = os.Stdin
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgzip-peer:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	gz, err := gzip.NewReader(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgzip-peer:", err)
		os.Exit(1)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	if _, err := io.Copy(out, gz); err != nil {
		fmt.Fprintln(os.Stderr, "pgzip-peer:", err)
		os.Exit(1)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "pgzip-peer:", err)
		os.Exit(1)
	}
}

// Command gorun-natsd is the NATS server gorun embeds: the launcher runs it
// for "gorun --transport nats" without a URL and for "gorun agent --serve".
// It is a program of its own so that gorun does not link, and pay for at
// every start, the server's code; users install it beside gorun
// ("go install ./cmd/...") and never run it themselves.
//
// It reads its configuration (package natsd's Config, as JSON) on standard
// input, starts the server, writes one JSON line on standard output (the
// port, or why it could not start), and serves until its standard input
// ends: when the launcher stops it or dies.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gorun-mpi/gorun/internal/natsd"
	"github.com/gorun-mpi/gorun/internal/natsserver"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

// run is gorun-natsd: it returns the exit status.
func run(stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := natsd.ReadConfig(stdin)
	if err == nil {
		var srv *natsserver.Server
		if srv, err = natsserver.Start(cfg); err == nil {
			defer srv.Shutdown()
			if err := natsd.WriteReady(stdout, srv.Port(), nil); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", natsd.Program, err)
				return 1
			}
			// Serve until the launcher closes the pipe, or dies.
			io.Copy(io.Discard, stdin)
			return 0
		}
	}
	if werr := natsd.WriteReady(stdout, 0, err); werr != nil {
		fmt.Fprintf(stderr, "%s: %v\n", natsd.Program, err)
	}
	return 1
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
)

// runAgents is "gorun agents --nats URL": it lists the agents that answer.
func runAgents(args []string) int {
	var cfg natsConfig
	fs := flag.NewFlagSet("gorun agents", flag.ContinueOnError)
	fs.StringVar(&cfg.URL, "nats", os.Getenv("NATS_URL"), "NATS server `URL`")
	fs.StringVar(&cfg.Creds, "nats-creds", "", "NATS credentials `file`")
	fs.StringVar(&cfg.CA, "nats-ca", "", "CA `file` for the NATS server's TLS certificate")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "gorun agents: %v\n", err)
		return 2
	}
	if cfg.URL == "" {
		fmt.Fprintln(os.Stderr, "gorun agents: missing --nats URL")
		return 2
	}
	nc, err := dialLauncherNATS(cfg, "gorun agents", func(string) {})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gorun agents: %v\n", err)
		return 1
	}
	defer nc.Close()
	agents, err := discoverAgents(nc)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gorun agents: %v\n", err)
		return 1
	}
	if len(agents) == 0 {
		fmt.Fprintln(os.Stderr, "gorun agents: no agent answers")
		return 1
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSLOTS\tFREE\tPLATFORM\tVERSION")
	for _, a := range agents {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", a.Name, a.Slots, a.Free, a.platform(), a.Version)
	}
	w.Flush()
	return 0
}

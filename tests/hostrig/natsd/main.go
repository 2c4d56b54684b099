// Command natsd runs a NATS server (nats-server/v2, as gorun embeds it) for
// the multi-host test rig: it listens on -addr, optionally joins a cluster
// or limits its messages' size (-max-payload),
// prints "ready" once it accepts clients, and runs until killed. On
// SIGUSR1 it prints its counters: "stats in_msgs=N in_bytes=N slow_consumers=N".
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4222", "client `host:port`")
	name := flag.String("name", "", "server name")
	cluster := flag.String("cluster", "", "cluster listen `host:port` (empty: no cluster)")
	routes := flag.String("routes", "", "comma-separated nats-route://host:port of the other servers")
	jsDir := flag.String("js", "", "enable JetStream, storing in this `directory`")
	expect := flag.Int("expect-routes", 0, "print \"routed\" once this many routes are up")
	maxPayload := flag.Int("max-payload", 0, "the largest message in `bytes` (0: the server's default, 1 MiB)")
	flag.Parse()
	host, portText, err := net.SplitHostPort(*addr)
	if err != nil {
		fail(err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		fail(err)
	}
	opts := &server.Options{ServerName: *name, Host: host, Port: port, NoSigs: true, NoLog: true,
		MaxPending: 256 << 20, WriteDeadline: 30 * time.Second}
	if *maxPayload > 0 {
		opts.MaxPayload = int32(*maxPayload)
	}
	if *jsDir != "" {
		opts.JetStream, opts.StoreDir = true, *jsDir
	}
	if *cluster != "" {
		ch, cp, err := net.SplitHostPort(*cluster)
		if err != nil {
			fail(err)
		}
		opts.Cluster.Name = "rig"
		opts.Cluster.Host = ch
		if opts.Cluster.Port, err = strconv.Atoi(cp); err != nil {
			fail(err)
		}
		for _, r := range strings.Split(*routes, ",") {
			if r == "" {
				continue
			}
			u, err := url.Parse(r)
			if err != nil {
				fail(err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		fail(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		fail(fmt.Errorf("not ready after 10s"))
	}
	fmt.Println("ready")
	for *expect > 0 && srv.NumRoutes() < *expect {
		time.Sleep(10 * time.Millisecond)
	}
	if *expect > 0 {
		fmt.Println("routed")
	}
	// SIGUSR1 asks for the server's message counters.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	for range usr1 {
		v, err := srv.Varz(nil)
		if err != nil {
			fail(err)
		}
		fmt.Printf("stats in_msgs=%d in_bytes=%d slow_consumers=%d\n", v.InMsgs, v.InBytes, v.SlowConsumers)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "natsd:", err)
	os.Exit(1)
}

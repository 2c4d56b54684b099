// Command natsspy is an eavesdropper for the multi-host test rig: a client
// of the NATS account that subscribes to everything (">") and writes every
// message it sees (subject, reply subject, headers and payload) to -out. It
// prints "ready" once its subscription is in place. On SIGUSR1 it publishes
// a marker through the server and prints "synced K N" (K: the signal's number, from 1; N: the
// messages seen)
// once the marker comes back, so every message the server had routed
// before the signal is in the file.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/nats-io/nats.go"
)

const markerSubject = "natsspy.sync"

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS server `URL`, with the account's credentials")
	out := flag.String("out", "", "`file` to write the messages to")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fail(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	nc, err := nats.Connect(*url, nats.NoReconnect())
	if err != nil {
		fail(err)
	}
	seen := 0
	// One handler goroutine writes, so w needs no lock.
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		if m.Subject == markerSubject {
			if err := w.Flush(); err != nil {
				fail(err)
			}
			fmt.Printf("synced %s %d\n", m.Data, seen)
			return
		}
		seen++
		fmt.Fprintf(w, "%s %s %d\n", m.Subject, m.Reply, len(m.Data))
		for k, vs := range m.Header {
			for _, v := range vs {
				fmt.Fprintf(w, "%s: %s\n", k, v)
			}
		}
		w.Write(m.Data)
		w.WriteByte('\n')
	})
	if err != nil {
		fail(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		fail(err)
	}
	if err := nc.Flush(); err != nil {
		fail(err)
	}
	fmt.Println("ready")
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	for n := 1; ; n++ {
		<-usr1
		if err := nc.Publish(markerSubject, []byte(strconv.Itoa(n))); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "natsspy:", err)
	os.Exit(1)
}

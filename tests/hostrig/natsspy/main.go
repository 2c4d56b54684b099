// Command natsspy is an eavesdropper for the multi-host test rig: a client
// of the NATS account that subscribes to everything (">") and writes every
// message it sees (subject, reply subject, headers and payload) to -out. It
// prints "ready" once its subscription is in place. On SIGUSR1 it publishes
// a marker through the server and prints "synced K N" (K: the signal's number, from 1; N: the
// messages seen)
// once the marker comes back, so every message the server had routed
// before the signal is in the file.
//
// On SIGUSR2 it attacks the jobs whose relay it has seen (gorun.job.ID.*):
// it publishes again every relay message it has seen (replays), and forged
// ones as a client of the account could write them: SIGKILL for the
// ranks of hosts 0 and 1, an exit status of 7 for ranks 0 to 3, a line of
// stdin ("forged"). It prints "forged N" (N: messages sent) once the server
// has them.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
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
	var relayMu sync.Mutex
	var relay []*nats.Msg // the jobs' relay messages seen
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
		if strings.HasPrefix(m.Subject, "gorun.job.") {
			relayMu.Lock()
			relay = append(relay, &nats.Msg{Subject: m.Subject, Data: append([]byte(nil), m.Data...)})
			relayMu.Unlock()
		}
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
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	for n := 1; ; {
		if <-sigs == syscall.SIGUSR2 {
			relayMu.Lock()
			seen := relay
			relayMu.Unlock()
			fmt.Printf("forged %d\n", attack(nc, seen))
			continue
		}
		if err := nc.Publish(markerSubject, []byte(strconv.Itoa(n))); err != nil {
			fail(err)
		}
		n++
	}
}

// attack replays the relay messages seen and forges some of its own for
// every job among them (see the package comment); it returns how many it
// sent, once the server has them all.
func attack(nc *nats.Conn, seen []*nats.Msg) int {
	sent := 0
	publish := func(subject string, data []byte) {
		if err := nc.Publish(subject, data); err != nil {
			fail(err)
		}
		sent++
	}
	jobs := map[string]bool{}
	for _, m := range seen {
		publish(m.Subject, m.Data)
		if tokens := strings.SplitN(m.Subject, ".", 4); len(tokens) == 4 {
			jobs[strings.Join(tokens[:3], ".")] = true
		}
	}
	for ctl := range jobs {
		for host := range 2 {
			publish(fmt.Sprintf("%s.down.%d", ctl, host), []byte(`{"kind":"signal","signal":9}`))
			for rank := range 4 {
				publish(fmt.Sprintf("%s.up.%d", ctl, host), []byte(fmt.Sprintf(`{"kind":"exit","rank":%d,"exit":{"code":7}}`, rank)))
			}
		}
		publish(ctl+".stdin", []byte(`{"data":"Zm9yZ2VkCg=="}`))
	}
	if err := nc.Flush(); err != nil {
		fail(err)
	}
	return sent
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "natsspy:", err)
	os.Exit(1)
}

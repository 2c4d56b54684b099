// Command behave is the integration tests' test program: it joins the job
// and then behaves as -mode says, so the tests can check how gorun forwards
// output and ends jobs.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	mode := flag.String("mode", "hello", "what to do: hello, exit, signal, panic, abort, nofinalize, deadlock, "+
		"collective-deadlock, die-in-collective, sleep, stdin, args, lines, noeol, longline, cpus, escape")
	victim := flag.Int("rank", 1, "the rank that misbehaves")
	code := flag.Int("code", 3, "exit or abort code")
	lines := flag.Int("n", 200, "lines to print (lines and escape modes)")
	spam := flag.Bool("spam", false, "escape mode: the leftover child writes to the rank's stdout without end")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	me := world.Rank()
	fmt.Fprintf(os.Stderr, "pid %d %d\n", me, os.Getpid())
	switch *mode {
	case "hello":
		fmt.Printf("hello from rank %d of %d\n", me, world.Size())
	case "exit":
		if me == *victim {
			os.Exit(*code)
		}
		time.Sleep(time.Minute)
	case "signal":
		if me == *victim {
			time.Sleep(100 * time.Millisecond)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		time.Sleep(time.Minute)
	case "panic":
		if me == *victim {
			var m map[string]int
			//lint:ignore SA5000 this case exists to panic, as a buggy rank would
			m["boom"]++
		}
		time.Sleep(time.Minute)
	case "abort":
		if me == *victim {
			mpi.Abort(*code, "the input is wrong")
		}
		time.Sleep(time.Minute)
	case "nofinalize":
		if me == *victim {
			return
		}
		time.Sleep(time.Minute)
	case "deadlock":
		var x int
		_, err := world.Recv(&x, (me+1)%world.Size(), 5)
		fmt.Println(err)
	case "collective-deadlock":
		// Ranks 0 and 2 wait in an AllreduceSlice (in shared memory on the
		// local transport) that the others never join; they wait for a
		// message from rank 0. (Rank 2 in another collective would be a
		// mismatch, which the ranks find and report themselves.)
		if me == 0 || me == 2 {
			_, err := mpi.AllreduceSlice(world, make([]float64, 1<<20), mpi.Sum)
			fmt.Println(err)
		} else {
			var x int
			_, err := world.Recv(&x, 0, 5)
			fmt.Println(err)
		}
	case "die-in-collective":
		// Every rank reduces in a loop; the victim exits between two calls,
		// leaving the others waiting for it inside one.
		v := make([]float64, 1<<18)
		for i := 0; i < 50; i++ {
			if me == *victim && i == 20 {
				os.Exit(*code)
			}
			if _, err := mpi.AllreduceSlice(world, v, mpi.Sum); err != nil {
				fmt.Println(err)
				time.Sleep(time.Minute)
			}
		}
		time.Sleep(time.Minute)
	case "cpus":
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			fmt.Println(err)
			break
		}
		for _, line := range strings.Split(string(status), "\n") {
			if list, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				fmt.Printf("rank %d cpus %s\n", me, strings.TrimSpace(list))
			}
		}
		// The job's shared memory, mapped by Init on the local transport.
		maps, _ := os.ReadFile("/proc/self/maps")
		fmt.Printf("rank %d shm %v\n", me, strings.Contains(string(maps), "memfd:gorun-"))
		// The least and the most timer slack of this process's threads
		// (they start with the one gorun gave the process; Init gives its
		// own thread the launcher's back).
		least, most, err := timerSlacks()
		fmt.Printf("rank %d timerslack %d..%d %v\n", me, least, most, err)
	case "sleep":
		time.Sleep(time.Minute)
	case "stdin":
		in := bufio.NewScanner(os.Stdin)
		n := 0
		for in.Scan() {
			n++
			fmt.Printf("rank %d read %q\n", me, in.Text())
		}
		fmt.Printf("rank %d read %d lines\n", me, n)
	case "args":
		fmt.Printf("rank %d args %q\n", me, flag.Args())
	case "lines":
		for i := 0; i < *lines; i++ {
			fmt.Printf("rank %d line %d %s\n", me, i, strings.Repeat("x", 50+i%200))
		}
	case "escape":
		// A child in a session of its own, out of gorun's reach, holds
		// this rank's stdout open after the rank exits (and writes to it
		// without end with -spam); the rank's own lines come first.
		script := "exec sleep 120"
		if *spam {
			script = "while :; do echo leftover; done"
		}
		child := exec.Command("/bin/sh", "-c", script)
		child.Stdout = os.Stdout
		child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "rank %d leftover %d\n", me, child.Process.Pid)
		for i := 0; i < *lines; i++ {
			fmt.Printf("rank %d line %d %s\n", me, i, strings.Repeat("x", 50+i%200))
		}
	case "noeol":
		fmt.Printf("rank %d without newline", me)
	case "longline":
		fmt.Printf("%d:%s\n", me, strings.Repeat(string(rune('a'+me)), 1<<20))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", *mode)
		os.Exit(2)
	}
	if err := mpi.Finalize(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// timerSlacks returns the least and the most timer slack, in nanoseconds,
// of this process's threads (/proc/TID/timerslack_ns for each thread of
// /proc/self/task: the entry is not under task/).
func timerSlacks() (least, most int, err error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, 0, err
	}
	least = math.MaxInt
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
		if err != nil {
			return 0, 0, err
		}
		ns, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return 0, 0, err
		}
		least, most = min(least, ns), max(most, ns)
	}
	return least, most, nil
}

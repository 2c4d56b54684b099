package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPageFaultCostTimesFreshPages(t *testing.T) {
	perPage, err := pageFaultCost(4 << 20)
	if err != nil {
		t.Skip(err)
	}
	// A page's first write goes through the kernel: never free, never
	// as slow as a millisecond.
	if perPage <= 0 || perPage > time.Millisecond {
		t.Errorf("a fresh page's first write took %v", perPage)
	}
}

func TestChainStepCostIsPerStep(t *testing.T) {
	step := chainStepCost(1_000_000)
	// Each step waits for the last: a 64-bit multiply and an add, four
	// cycles at least (0.67 ns at 6 GHz), where a loop that dropped the
	// chain would take about one; far less than a microsecond.
	if step < 0.5 || step > 1000 {
		t.Errorf("a chain step took %v ns", step)
	}
}

func TestProcessStartCostIsPerProcess(t *testing.T) {
	if _, err := exec.LookPath("true"); err != nil {
		t.Skip(err)
	}
	one, err := processStartCost(10)
	if err != nil {
		t.Fatal(err)
	}
	// A fork, an exec and a wait: tens of microseconds at the least, and
	// not a second even on a loaded machine.
	if one < 20*time.Microsecond || one > time.Second {
		t.Errorf("a process start took %v", one)
	}
}

func TestHostSpeedStrings(t *testing.T) {
	h := hostSpeed{pageFault: 2500 * time.Nanosecond, chainStep: 1.3, ok: true}
	if got := h.String(); got != "page 2.50 us, chain step 1.30 ns" {
		t.Errorf("String() = %q", got)
	}
	h.processStart = 2900 * time.Microsecond
	if got := h.String(); got != "page 2.50 us, chain step 1.30 ns, process start 2.90 ms" {
		t.Errorf("String() with a process start = %q", got)
	}
	if got := (hostSpeed{}).String(); got != "unknown" {
		t.Errorf("unprobed String() = %q", got)
	}
	if !strings.Contains(probeHost().String(), "page ") {
		t.Error("probeHost found no page-fault cost on this system")
	}
}

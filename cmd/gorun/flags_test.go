package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestParseFlagsAccepts(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want config
	}{
		{[]string{"-np", "4", "prog"}, nil,
			config{np: 4, transport: "local", program: "prog", args: []string{}}},
		{[]string{"--n=2", "--tag-output", "--timeout", "1m30s", "./x", "-np", "9", "--", "y"}, nil,
			config{np: 2, tagOutput: true, timeout: 90 * time.Second, transport: "local", program: "./x",
				args: []string{"-np", "9", "--", "y"}}},
		{[]string{"-np", "1", "--nats", "nats://u:p@h:4222", "--nats-ca", "ca.pem", "p"}, nil,
			config{np: 1, transport: "nats", nats: natsConfig{URL: "nats://u:p@h:4222", CA: "ca.pem"}, program: "p", args: []string{}}},
		{[]string{"-np", "1", "--transport", "nats", "p"}, map[string]string{"NATS_URL": "nats://env:4222"},
			config{np: 1, transport: "nats", nats: natsConfig{URL: "nats://env:4222"}, program: "p", args: []string{}}},
		// NATS_URL alone does not switch the transport.
		{[]string{"-np", "1", "p"}, map[string]string{"NATS_URL": "nats://env:4222"},
			config{np: 1, transport: "local", program: "p", args: []string{}}},
		{[]string{"-np", "3", "--", "p", "a"}, nil,
			config{np: 3, transport: "local", program: "p", args: []string{"a"}}},
	}
	for _, tc := range cases {
		got, err := parseFlags(tc.args, func(k string) string { return tc.env[k] })
		if err != nil {
			t.Errorf("parseFlags(%q): %v", tc.args, err)
			continue
		}
		if got.np != tc.want.np || got.tagOutput != tc.want.tagOutput || got.timeout != tc.want.timeout ||
			got.transport != tc.want.transport || got.nats != tc.want.nats || got.program != tc.want.program ||
			!slices.Equal(got.args, tc.want.args) {
			t.Errorf("parseFlags(%q) = %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestParseFlagsRejects(t *testing.T) {
	cases := []struct {
		args []string
		want string // in the message
	}{
		{[]string{"prog"}, "missing -np"},
		{[]string{"-np", "0", "prog"}, "-np 0"},
		{[]string{"-np", "-3", "prog"}, "-np -3"},
		{[]string{"-np", "x", "prog"}, "invalid value"},
		{[]string{"-np", "2"}, "missing PROGRAM"},
		{[]string{"-np", "2", "--bogus", "prog"}, "bogus"},
		{[]string{"-np", "2", "-n", "3", "prog"}, "once"},
		{[]string{"-np", "2", "--transport", "tcp", "prog"}, "tcp"},
		{[]string{"-np", "2", "--transport", "local", "--nats", "nats://h", "prog"}, "--nats needs"},
		{[]string{"-np", "2", "--nats-creds", "f", "prog"}, "--nats-creds needs"},
		{[]string{"-np", "2", "--timeout", "-1s", "prog"}, "negative"},
		{[]string{"-np", "2", "--timeout", "soon", "prog"}, "timeout"},
	}
	for _, tc := range cases {
		_, err := parseFlags(tc.args, noEnv)
		if !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", tc.args, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %q, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestParseFlagsHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		if _, err := parseFlags([]string{arg}, noEnv); !errors.Is(err, errHelp) {
			t.Errorf("parseFlags(%q) = %v, want errHelp", arg, err)
		}
	}
}

func TestUsageListsEveryFlagAndStatus(t *testing.T) {
	var b bytes.Buffer
	printUsage(&b)
	for _, want := range []string{"-np", "-n ", "-timeout", "-tag-output", "-transport", "-nats ", "-nats-creds",
		"-nats-ca", "Exit status", "124", "127", "128+S", "NATS_URL", "GORUN_SPIN"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage does not mention %q:\n%s", want, b.String())
		}
	}
}

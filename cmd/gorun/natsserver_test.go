package main

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/internal/natsserver"
)

// testServer starts a real NATS server allowing messages of maxPayload
// bytes (0: NATS's default) for the test, and returns a function that
// connects one more client to it; the server and the clients end with the
// test.
func testServer(t *testing.T, maxPayload int32) (connect func() *nats.Conn) {
	t.Helper()
	user := natsserver.User{Name: "u", Password: "p"}
	srv, err := natsserver.Start(natsserver.Config{Users: []natsserver.User{user}, MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return func() *nats.Conn {
		nc, err := nats.Connect(srv.URL(user))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
}

// Package comm moves frames between the ranks of a gorun job. It knows
// nothing of tags, communicators, matching or any protocol above it: a
// Transport sends a frame (a Header whose fields the layer above owns, and a
// payload) to a rank, delivers received frames to a Handler in order per
// source with Source filled in from the authenticated connection, reports
// peers that finished or died, and closes. Matching and the message protocol
// live once, above it, in package mpi.
//
// Implementations: Unix domain sockets for ranks on one host (NewUnix), NATS
// for ranks anywhere (NewNATS), a Composite that routes each peer to one of
// several transports (NewComposite: same-host peers through Unix sockets,
// the others through NATS), and an in-memory Network for unit tests of the
// layers above. Each serves the ranks its configuration names as its peers.
//
// Optional abilities are small interfaces found by type assertion: Poller
// (progress on the caller's goroutine), TrySender (a send that never
// waits), PartsSender (a payload in two parts), PeerMemoryReader and
// PeerMemoryWriter (copying out of and into a same-host peer's memory),
// EagerLimiter (a preferred eager limit per destination), PushLimiter (the
// largest message above it worth sending unasked), and, on the
// Handler's side, BufferProvider (the memory a large payload is read into)
// and SplitBufferProvider (a payload read in two parts, its body where its
// head says). comm/commtest checks every transport
// against the contract, abilities included.
//
// # Usage
//
//	t := net.Transport(rank) // or comm.NewUnix(cfg), comm.NewNATS(cfg)
//	t.Start(handler)         // frames arrive at handler.Deliver
//	t.Send(ctx, dest, comm.Header{Kind: 1, Tag: 7}, payload)
//	t.Close()                // peers see PeerGone(rank, ErrPeerFinished)
//
// # Adding a transport
//
// A transport is a type with the Transport methods (and whichever optional
// abilities it can offer) in its own files under comm/, a conformance test
// that runs commtest.Run with a factory of connected instances, and one
// registration in mpi/transport_job.go, which builds the transport a job
// names in its environment.
package comm

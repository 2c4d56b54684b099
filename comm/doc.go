// Package comm moves frames between the ranks of a gorun job. It knows
// nothing of tags, communicators or matching: a Transport sends a frame to a
// rank, delivers received frames to a Handler in order per source, reports
// peers that finished or died, and closes. Matching lives once, above it, in
// package mpi.
//
// Implementations: Unix domain sockets for ranks on one host (NewUnix), NATS
// for ranks anywhere (NewNATS), and an in-memory Network for unit tests of the
// layers above. Optional abilities, such as polling for progress on the
// caller's goroutine (Poller), are small interfaces found by type assertion.
//
// # Usage
//
//	t := net.Transport(rank) // or comm.NewUnix(cfg)
//	t.Start(handler)         // frames arrive at handler.Deliver
//	t.Send(ctx, dest, comm.Header{Kind: comm.KindEager, Tag: 7}, payload)
//	t.Close()                // peers see PeerGone(rank, ErrPeerFinished)
package comm

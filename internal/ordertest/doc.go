// Package ordertest checks the order rule of point-to-point messages with
// a randomized plan derived from a seed: messages from one sender to one
// receiver on one communicator are matched in the order they were sent.
//
// Every rank derives the same Plan from the seed: rounds of messages of
// mixed sizes (a few bytes, 124-132 KiB, 256-300 KiB, 1-2 MiB: on both
// sides of the eager limits and of the shared-copy threshold), sent with Send,
// Ssend, Isend and Sendrecv over a few tags on three communicators (the
// world, a Dup and a Split), received with specific tags and sources,
// AnyTag and AnySource, by Irecvs posted before the round's barrier (before
// the messages can arrive) and by Irecvs and Recvs posted after the sends
// (usually after they arrived), some of them found by Probe first. The plan is free of deadlock by
// construction: see Plan.planReceives.
//
// Each message carries its sender, communicator, tag, sequence number and
// ID, and a checksum. The receiver checks every message's content, that
// every planned message came exactly once, and the order rule, including
// among messages of different tags that a wildcard-tag receive could take.
//
// # Usage
//
// Every rank of a world runs
//
//	p := ordertest.NewPlan(seed, world.Size(), ordertest.Config{Rounds: 4, PerRank: 8})
//	err := ordertest.Run(world, p)
//
// tests/progs/order does so under gorun; mpi's tests do so over the
// in-memory transport.
package ordertest

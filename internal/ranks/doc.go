// Package ranks is the core of the project's in-process test harness: it
// makes N connected comm.Transports over one network (in memory, Unix
// sockets in a private directory, NATS through an embedded server, or a
// composite of two of them, as gorun builds for a placement), and
// runs one body per rank on its own goroutine, catching panics and
// runtime.Goexit (t.FailNow) and ending ranks that hang with what they were
// blocked in.
//
// It does not import package mpi, so mpi's internal tests use it as well as
// the public harness built on it, package mpi/mpitest.
//
// # Usage
//
//	job, err := ranks.Start(ranks.Unix, 4)
//	if err != nil { ... }
//	defer job.Close()
//	errs := ranks.Run(4, ranks.Limits{Timeout: time.Minute, Stop: stop}, func(rank int) error {
//		world, err := mpi.Init(mpi.WithTransport(job.Transports[rank]))
//		...
//	})
package ranks

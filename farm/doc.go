// Package farm is a task farm over gorun's mpi package: Parallel Python's
// pp.Server.submit(func, args, callback=...), multiprocessing.Pool.map and
// mpi4py.futures in SPMD style.
//
// Every rank of a communicator calls the same function. Rank 0 is the
// master: it holds the inputs (or produces them, RunSeq), hands them out,
// and gets the results, in input order from Map, or one by one as they
// arrive from Run's callback.
// The other ranks are workers: they run fn on whatever the master sends
// them until it tells them the farm is over, and return.
//
// Work is handed out on demand, so the load balances itself: a worker
// that finishes early gets more, and a slow task holds up only the worker
// running it (and the one task that worker holds in reserve, so that it
// never waits for the master between two tasks). Tiny tasks travel in
// chunks (WithChunk, or an automatic size). With a single rank, rank 0
// runs every task itself, so a program runs unchanged without gorun.
//
// # Usage
//
//	world, err := mpi.Init()
//	if err != nil { ... }
//	defer mpi.Finalize()
//	var inputs []int
//	if world.Rank() == 0 {
//		inputs = []int{1, 2, 3, 4, 5} // only rank 0's inputs are used
//	}
//	squares, err := farm.Map(world, inputs, func(n int) (int, error) { return n * n, nil })
//	if err != nil { ... }          // the same error on every rank
//	if world.Rank() == 0 {
//		fmt.Println(squares)   // [1 4 9 16 25]; nil on the other ranks
//	}
//
// Or, handling each result as soon as it arrives (pp's callback=):
//
//	err = farm.Run(world, inputs, square, func(i, out int) {
//		fmt.Println("task", i, "->", out) // on rank 0, in arrival order
//	})
//
// Or over inputs produced as the farm goes (Pool.imap's lazy iterable): a
// generator, lines of a file, a data set too large to hold whole. Rank 0
// takes the next inputs from the sequence only when a worker needs more:
//
//	err = farm.RunSeq(world, requests(), answer, func(i int, out Answer) { ... })
//
// # Results and errors
//
// Results go to rank 0 only, as Pool.map's go to the process that called
// it and mpi4py.futures' to the root; a rank that needs them all follows
// Map with mpi.Bcast(c, results, 0).
//
// When fn returns an error or panics (the panic is recovered and wraps
// ErrPanic), or a worker is lost (the error wraps mpi.ErrPeerLost), the
// farm stops handing out work, lets the workers finish the task they are
// running, and every rank returns a *TaskError naming the task and the
// rank, such as "farm: task 17 on rank 2: no such file". On rank 0 it
// wraps fn's own error, so errors.Is works with your sentinels when the
// task ran on rank 0; from another rank only its text crosses (and
// ErrPanic or mpi.ErrPeerLost). Every rank still there returns the same
// outcome, so SPMD code that checks the error takes the same path on every
// rank. Under gorun, a worker process that dies ends the whole job anyway,
// with gorun naming the rank.
//
// # Messages
//
// The farm talks on a Dup of the communicator it is given, so its messages
// never mix with the caller's. Inputs and results travel as any mpi
// message: In and Out must be msgpack-encodable (exported fields), and a
// slice of numbers travels as raw bytes: when one input is already a batch
// (a []float64 of many requests, say), use WithChunk(1) so that it travels
// as it is.
package farm

// Command bank is the joint-account race, without the race. Several
// clients (ranks 1..N-1) deposit into and withdraw from one account. With
// shared memory, two threads doing "read balance, add, write balance" at
// the same time can lose an update (see README.md). Here the balance lives
// in one place, rank 0, and the clients only send it messages; rank 0
// applies them one at a time, so no update is ever lost and the final
// balance is always right.
//
//	go run ./cmd/gorun -np 4 ./examples/bank -n 1000
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// tagTransaction marks the clients' messages to the bank.
const tagTransaction = 1

// transaction is a deposit (positive Amount) or withdrawal (negative), or
// the client closing its session. Closing travels on the same tag as the
// transactions, so it cannot overtake them: messages from one sender on
// one tag arrive in the order sent.
type transaction struct {
	Amount int
	Close  bool
}

// initialBalance is the account's balance before the clients start.
const initialBalance = 1000

func main() {
	n := flag.Int("n", 1000, "deposits and as many withdrawals per client")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if world.Rank() == 0 {
		err = bank(world)
	} else {
		err = client(world, *n)
	}
	if err != nil {
		mpi.Abort(1, err.Error())
	}
}

// client r deposits r+10 and withdraws 10, n times each: its net effect on
// the balance is n*r.
func client(world *mpi.Comm, n int) error {
	me := world.Rank()
	for range n {
		for _, amount := range []int{me + 10, -10} {
			if err := world.Send(transaction{Amount: amount}, 0, tagTransaction); err != nil {
				return err
			}
		}
	}
	return world.Send(transaction{Close: true}, 0, tagTransaction)
}

// bank owns the balance and applies transactions one at a time, in the
// order they arrive, until every client has closed its session.
func bank(world *mpi.Comm) error {
	balance, applied := initialBalance, 0
	open := world.Size() - 1
	for open > 0 {
		var t transaction
		if _, err := world.Recv(&t, mpi.AnySource, tagTransaction); err != nil {
			return err
		}
		if t.Close {
			open--
			continue
		}
		balance += t.Amount // read, add, write: nobody else can touch it
		applied++
	}
	fmt.Printf("bank: %d transactions from %d clients, final balance %d\n", applied, world.Size()-1, balance)
	return nil
}

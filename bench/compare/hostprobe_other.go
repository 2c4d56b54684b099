//go:build !unix

package main

import (
	"errors"
	"time"
)

// pageFaultCost is not measured here.
func pageFaultCost(int) (time.Duration, error) {
	return 0, errors.New("no page-fault probe on this system")
}

// Command usesnet links package net, which a go build with cgo enabled
// links to the C library for its DNS resolver.
package main

import (
	"fmt"
	"net"
)

func main() {
	fmt.Println("usesnet", net.ParseIP("127.0.0.1").IsLoopback())
}

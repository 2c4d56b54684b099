//go:build !amd64

package collectives

// prefetchWrite does nothing where PREFETCHW is not known.
func prefetchWrite(p *byte) {}

package collectives

// prefetchWrite asks the processor for the cache line at p, to be written
// (PREFETCHW): the line's other copies are invalidated while this rank
// goes on, not when it stores into it.
//
//go:noescape
func prefetchWrite(p *byte)

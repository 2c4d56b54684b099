package comm

// Frame kinds the tests of this package send: any kinds of the layer above,
// which the transports carry unread.
const (
	tkEager   Kind = 1
	tkRTS     Kind = 2
	tkCTS     Kind = 3
	tkData    Kind = 4
	tkControl Kind = 5
)

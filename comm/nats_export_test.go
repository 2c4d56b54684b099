package comm

import "context"

// SendFirstMessageOnly sends the first message of the frame SendParts
// would send to dest, and nothing of the rest, as a sender that dies
// between them would; it returns once the server has it.
func SendFirstMessageOnly(ctx context.Context, t *NATS, dest int, h Header, head, body []byte) error {
	if err := t.sendMessages(ctx, dest, h, head, body, 1); err != nil {
		return err
	}
	return t.nc.FlushWithContext(ctx)
}

// NATSHalfFrom reports whether t holds the first part of a frame from
// src whose rest has not arrived.
func NATSHalfFrom(t *NATS, src int) bool {
	t.hmu.Lock()
	defer t.hmu.Unlock()
	return t.peers[src].asm != nil
}

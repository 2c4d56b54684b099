package ranks

import (
	"crypto/rand"
	"encoding/hex"
)

// randomSecret is 32 hex digits from crypto/rand, as gorun makes a job's
// secret.
func randomSecret() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails on Linux (Go 1.24+: it cannot return an error)
	return hex.EncodeToString(b)
}

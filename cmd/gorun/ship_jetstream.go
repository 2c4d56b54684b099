package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// programBucket is the JetStream object store that holds programs, each
// named by its SHA-256.
const programBucket = "gorun-programs"

// objectTimeout bounds storing or fetching one program in the object store.
const objectTimeout = 2 * time.Minute

// storeProgram puts the program at path into the server's object store
// under its digest, unless it is there already. It returns the bucket, or
// "" when the server has no JetStream (the agents then fetch the program
// from the launcher in chunks).
func storeProgram(nc *nats.Conn, path, digest string, size int64) (string, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), objectTimeout)
	defer cancel()
	probe, cancelProbe := context.WithTimeout(ctx, requestTimeout)
	_, err = js.AccountInfo(probe)
	cancelProbe()
	if err != nil {
		return "", nil // no JetStream here
	}
	store, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: programBucket,
		Description: "programs of gorun jobs, named by SHA-256"})
	if err != nil {
		return "", fmt.Errorf("JetStream object store %s: %w", programBucket, err)
	}
	if info, err := store.GetInfo(ctx, digest); err == nil && int64(info.Size) == size {
		return programBucket, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot open the program to store it: %w", err)
	}
	defer f.Close()
	if _, err := store.Put(ctx, jetstream.ObjectMeta{Name: digest}, f); err != nil {
		return "", fmt.Errorf("storing the program in JetStream object store %s: %w", programBucket, err)
	}
	return programBucket, nil
}

// fetchObject copies the program named spec.Digest from the object store
// into w, returning its size and SHA-256.
func (a *agent) fetchObject(ctx context.Context, spec shipSpec, w io.Writer) (int64, string, error) {
	js, err := jetstream.New(a.nc)
	if err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, objectTimeout)
	defer cancel()
	store, err := js.ObjectStore(ctx, spec.Bucket)
	if err != nil {
		return 0, "", fmt.Errorf("JetStream object store %s: %w", spec.Bucket, err)
	}
	obj, err := store.Get(ctx, spec.Digest)
	if err != nil {
		return 0, "", fmt.Errorf("fetching the program from JetStream object store %s: %w", spec.Bucket, err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), obj)
	if err != nil {
		return n, "", fmt.Errorf("fetching the program from JetStream object store %s: %w", spec.Bucket, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

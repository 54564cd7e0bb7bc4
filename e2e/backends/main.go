// Command backends starts the shared back ends of a multi-replica
// deployment for the browser tests: a throwaway PostgreSQL cluster
// (store/pgtest) and a real weaviate-server (store/weaviate/weaviatetest).
// It prints one JSON line {"database","weaviate","weaviateKeyFile"} when
// both are ready, and stops both (deleting their files) when its standard
// input closes or it gets SIGTERM/SIGINT.
//
//	go run ./e2e/backends
//
// e2e/replicas.e2e.test.mjs runs it; it is not part of the product.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/weaviate/weaviatetest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "backends:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	dir, err := os.MkdirTemp("", "likeness-backends-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	pg, err := pgtest.Start()
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	defer pg.Stop()
	wv, err := weaviatetest.Start(ctx, weaviatetest.Options{DataDir: filepath.Join(dir, "weaviate"), Log: os.Stderr})
	if err != nil {
		return fmt.Errorf("weaviate: %w", err)
	}
	defer wv.Stop()
	keyFile := filepath.Join(dir, "weaviate.key")
	if err := os.WriteFile(keyFile, []byte(wv.APIKey), 0o600); err != nil {
		return err
	}
	out, err := json.Marshal(map[string]string{"database": pg.URL, "weaviate": wv.URL, "weaviateKeyFile": keyFile})
	if err != nil {
		return err
	}
	fmt.Println(string(out))

	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(closed)
	}()
	select {
	case <-ctx.Done():
	case <-closed:
	}
	return nil
}

package main

import (
	"context"
	"os"
	"runtime/pprof"
	"testing"
	"time"
)

func TestZZProfileLoad(t *testing.T) {
	dir := os.Getenv("ZZ_DIR")
	if dir == "" {
		t.Skip()
	}
	f, _ := os.Create("/tmp/load.prof")
	pprof.StartCPUProfile(f)
	start := time.Now()
	for range 3 {
		db, err := openStore(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	pprof.StopCPUProfile()
	t.Logf("3 loads: %v", time.Since(start))
}

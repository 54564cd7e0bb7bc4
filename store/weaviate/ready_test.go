package weaviate

import (
	"context"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/weaviate/weaviatetest"
)

// TestReady: a running Weaviate is ready; a killed one is not.
func TestReady(t *testing.T) {
	s := weaviatetest.New(t)
	ix := open(t, s)
	defer ix.Close()
	if err := ix.Ready(context.Background()); err != nil {
		t.Fatalf("a running Weaviate: %v", err)
	}
	s.Kill()
	if err := ix.Ready(context.Background()); likeness.ErrorCode(err) != likeness.EUNAVAILABLE {
		t.Errorf("a killed Weaviate: %v", err)
	}
}

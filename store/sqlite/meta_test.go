package sqlite_test

import (
	"context"
	"testing"

	"github.com/likeness/likeness/store/sqlite"
)

func TestServerURL(t *testing.T) {
	ctx := context.Background()
	db := sqlite.OpenTest(t)
	if u, err := db.ServerURL(ctx); err != nil || u != "" {
		t.Fatalf("fresh database: %q %v", u, err)
	}
	for _, want := range []string{"http://127.0.0.1:8080", "https://auth.example"} {
		if err := db.SetServerURL(ctx, want); err != nil {
			t.Fatal(err)
		}
		if u, err := db.ServerURL(ctx); err != nil || u != want {
			t.Fatalf("got %q %v, want %q", u, err, want)
		}
	}
}

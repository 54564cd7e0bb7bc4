package weaviate

import (
	"context"

	"github.com/likeness/likeness"
)

// Ready asks Weaviate whether it is ready to serve (its
// /v1/.well-known/ready endpoint), for /readyz. EUNAVAILABLE when it is
// not or does not answer.
func (ix *Index) Ready(ctx context.Context) error {
	ok, err := ix.c.Misc().ReadyChecker().Do(ctx)
	if err != nil {
		return unavailable("ready", err)
	}
	if !ok {
		return likeness.Errorf(likeness.EUNAVAILABLE, "The face index is not ready.")
	}
	return nil
}

package likeness

import (
	"context"
	"encoding/json"
	"time"
)

// Collection is an application's sandboxed face index and its policy.
type Collection struct {
	ID            string
	AppID         string
	Name          string
	RetentionDays *int // nil keeps faces until they are deleted
	StoreImages   bool // keep the enrollment images (sealed); default off
	FaceCount     int
	CreatedAt     time.Time
}

// AuditEntry is one link of an organization's tamper-evident audit chain:
// Hash covers every other field and the previous entry's hash.
type AuditEntry struct {
	OrgID    string
	Seq      int64 // 1, 2, 3… per organization
	At       time.Time
	Actor    string // "api:<keyID>", "widget:<session>", "console:<user>", "system:<worker>"
	Action   string // e.g. "facialid.deleted", "apikey.created"
	AppID    string
	Target   string // the Facial ID, key ID… acted on
	Details  json.RawMessage
	PrevHash string
	Hash     string
}

type actorKey struct{}

// WithActor returns a context naming who acts, for the audit trail.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor named by WithActor, or "system".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

// AuditActorKinds are the kinds of actor ("widget:" for every widget
// session…) an AuditFilter may name instead of one actor.
var AuditActorKinds = []string{"console:", "api:", "widget:", "self_service:", "support:", "system:", "cli:"}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	Action string    // one action, exactly
	Actor  string    // one actor exactly, or one of AuditActorKinds
	From   time.Time // entries at or after
	To     time.Time // entries before
	// BeforeSeq pages backwards: only entries with a smaller Seq (0: from
	// the newest).
	BeforeSeq int64
	Limit     int // at most this many (1 to 10 000; 0 means 100)
}

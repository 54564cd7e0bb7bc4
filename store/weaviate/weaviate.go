// Package weaviate is the scale-out vector index: face templates in a
// Weaviate server, one tenant per collection (multi-tenancy) of a single
// class with an HNSW index, cosine distance and no vectorizer.
//
// Templates are stored only rotated by a secret per-collection orthogonal
// matrix (protect.go): cosine search works unchanged, the stored vectors
// are unlinkable across collections, and they are meaningless once the
// application's data key is destroyed. Weaviate deletes objects logically
// (a tombstone; the bytes stay in its LSM files until it compacts them, on
// its own schedule), so Compact makes removals physical: it moves the live
// vectors of a collection to a fresh tenant under a new rotation and
// deletes the old tenant, whose files Weaviate removes.
package weaviate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/google/uuid"
	wv "github.com/weaviate/weaviate-go-client/v4/weaviate"
	"github.com/weaviate/weaviate-go-client/v4/weaviate/auth"
	"github.com/weaviate/weaviate-go-client/v4/weaviate/fault"
	"github.com/weaviate/weaviate-go-client/v4/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v4/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/likeness/likeness"
)

// Defaults of Options.
const (
	DefaultClass          = "LikenessFace"
	DefaultEF             = 256 // search breadth: top-1 recall 0.997 at 100k (0.98 at Weaviate's default)
	DefaultEFConstruction = 128
	DefaultMaxConnections = 32
	DefaultTimeout        = 30 * time.Second
)

const (
	pageSize     = 500  // objects per listing or compaction page
	deleteBatch  = 1000 // IDs per batch deletion
	maxNameLen   = 48   // collection names leave room for the epoch suffix
	epochPrefix  = "-e" // tenant of epoch N > 0: <collection>-e<N>
	secretLength = 32
)

var collectionName = regexp.MustCompile(`^[A-Za-z0-9_]{1,48}$`)

// Options configure Open.
type Options struct {
	URL            string        // Weaviate's REST address, e.g. http://127.0.0.1:8080; required
	APIKey         string        // API key; empty for a server without authentication
	Class          string        // the class holding every collection (default DefaultClass)
	EF             int           // HNSW search breadth (default DefaultEF)
	EFConstruction int           // HNSW build breadth (default DefaultEFConstruction)
	MaxConnections int           // HNSW links per node (default DefaultMaxConnections)
	Timeout        time.Duration // per request (default DefaultTimeout)
	StartupTimeout time.Duration // how long Open waits for the server to be ready (default Timeout)
	Logger         *slog.Logger  // nil discards
}

// Index is a likeness.VectorIndex in Weaviate. It is safe for concurrent use.
type Index struct {
	c     *wv.Client
	class string
	log   *slog.Logger

	mu   sync.Mutex
	cols map[string]*collection
}

var _ likeness.VectorIndex = (*Index)(nil)

// collection is what the index keeps in memory for one collection.
type collection struct {
	name string
	// write is held shared by Add and Remove and exclusively by each
	// compaction step, so that a compaction copies a consistent state.
	write sync.RWMutex

	mu     sync.RWMutex // guards the fields below
	secret []byte
	tenant string // the tenant searches and writes go to
	epoch  int
	dim    int // 0 until known
	rot    *rotation
	next   *target // the tenant a running compaction fills
}

// target is a tenant with its rotation.
type target struct {
	tenant string
	epoch  int
	rot    *rotation
}

// Open connects to Weaviate, waits until it is ready, and creates the class
// when it does not exist (multi-tenancy, HNSW, cosine, no vectorizer). It
// refuses an existing class configured otherwise.
func Open(ctx context.Context, opts Options) (*Index, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("weaviate: URL %q must be http(s)://host[:port]", opts.URL)
	}
	opts.Class = cmp.Or(opts.Class, DefaultClass)
	opts.EF = cmp.Or(opts.EF, DefaultEF)
	opts.EFConstruction = cmp.Or(opts.EFConstruction, DefaultEFConstruction)
	opts.MaxConnections = cmp.Or(opts.MaxConnections, DefaultMaxConnections)
	opts.Timeout = cmp.Or(opts.Timeout, DefaultTimeout)
	opts.StartupTimeout = cmp.Or(opts.StartupTimeout, opts.Timeout)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := wv.Config{Host: u.Host, Scheme: u.Scheme, Timeout: opts.Timeout, StartupTimeout: opts.StartupTimeout}
	if opts.APIKey != "" {
		cfg.AuthConfig = auth.ApiKey{Value: opts.APIKey}
	}
	c, err := wv.NewClient(cfg)
	if err != nil {
		return nil, unavailable("connect", err)
	}
	ix := &Index{c: c, class: opts.Class, log: opts.Logger, cols: make(map[string]*collection)}
	if err := ix.ensureClass(ctx, opts); err != nil {
		return nil, err
	}
	return ix, nil
}

func (ix *Index) ensureClass(ctx context.Context, opts Options) error {
	class, err := ix.c.Schema().ClassGetter().WithClassName(ix.class).Do(ctx)
	if err != nil && !isStatus(err, 404) {
		return unavailable("read the schema", err)
	}
	if err != nil || class == nil {
		err = ix.c.Schema().ClassCreator().WithClass(&models.Class{
			Class:           ix.class,
			Description:     "Likeness face templates (rotated); one tenant per collection",
			Vectorizer:      "none",
			VectorIndexType: "hnsw",
			VectorIndexConfig: map[string]any{
				"distance":       "cosine",
				"ef":             opts.EF,
				"efConstruction": opts.EFConstruction,
				"maxConnections": opts.MaxConnections,
			},
			MultiTenancyConfig: &models.MultiTenancyConfig{Enabled: true, AutoTenantActivation: true},
			Properties:         []*models.Property{},
		}).Do(ctx)
		if err == nil {
			return nil
		}
		// Another process may have created it meanwhile.
		if class, err = ix.c.Schema().ClassGetter().WithClassName(ix.class).Do(ctx); err != nil {
			return unavailable("create the class", err)
		}
	}
	if class.MultiTenancyConfig == nil || !class.MultiTenancyConfig.Enabled {
		return fmt.Errorf("weaviate: class %s exists without multi-tenancy", ix.class)
	}
	if class.Vectorizer != "none" {
		return fmt.Errorf("weaviate: class %s has vectorizer %q, want none", ix.class, class.Vectorizer)
	}
	cfg, _ := class.VectorIndexConfig.(map[string]any)
	if class.VectorIndexType != "hnsw" || cfg["distance"] != "cosine" {
		return fmt.Errorf("weaviate: class %s is not an HNSW index with cosine distance", ix.class)
	}
	return nil
}

// Close forgets every collection secret and rotation. The server's data is
// not touched.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for name, c := range ix.cols {
		c.forget()
		delete(ix.cols, name)
	}
	return nil
}

// Durable reports true: Weaviate keeps the vectors.
func (ix *Index) Durable() bool { return true }

// tenantName returns the tenant of a collection epoch.
func tenantName(collection string, epoch int) string {
	if epoch == 0 {
		return collection
	}
	return collection + epochPrefix + strconv.Itoa(epoch)
}

// parseTenant returns the collection and epoch a tenant belongs to.
func parseTenant(tenant string) (string, int, bool) {
	if i := strings.LastIndex(tenant, epochPrefix); i > 0 {
		if n, err := strconv.Atoi(tenant[i+len(epochPrefix):]); err == nil && n > 0 {
			return tenant[:i], n, true
		}
		return "", 0, false
	}
	return tenant, 0, collectionName.MatchString(tenant)
}

// epochs returns the epochs of the collection's tenants, lowest first.
func (ix *Index) epochs(ctx context.Context, name string) ([]int, error) {
	ts, err := ix.c.Schema().TenantsGetter().WithClassName(ix.class).Do(ctx)
	if err != nil {
		return nil, unavailable("list tenants", err)
	}
	var out []int
	for _, t := range ts {
		if col, epoch, ok := parseTenant(t.Name); ok && col == name {
			out = append(out, epoch)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Ensure creates the collection's tenant, or opens it. When a compaction
// was interrupted (two epochs exist), the older tenant, which was complete
// and current, is kept and the newer one deleted.
func (ix *Index) Ensure(ctx context.Context, name string, secret []byte) error {
	if !collectionName.MatchString(name) {
		return likeness.Errorf(likeness.EINVALID, "Collection name %q is not usable.", name)
	}
	if len(secret) != secretLength {
		return likeness.Errorf(likeness.EINVALID, "A collection secret is %d bytes.", secretLength)
	}
	epochs, err := ix.epochs(ctx, name)
	if err != nil {
		return err
	}
	epoch := 0
	if len(epochs) == 0 {
		err := ix.c.Schema().TenantsCreator().WithClassName(ix.class).
			WithTenants(models.Tenant{Name: tenantName(name, 0), ActivityStatus: "HOT"}).Do(ctx)
		if err != nil && !strings.Contains(strings.ToLower(err.Error()), "already exist") {
			return unavailable("create a tenant", err)
		}
	} else {
		epoch = epochs[0]
		if len(epochs) > 1 {
			stale := make([]string, 0, len(epochs)-1)
			for _, e := range epochs[1:] {
				stale = append(stale, tenantName(name, e))
			}
			ix.log.Warn("weaviate: removing the tenants of an interrupted compaction", "collection", name, "tenants", stale)
			if err := ix.c.Schema().TenantsDeleter().WithClassName(ix.class).WithTenants(stale...).Do(ctx); err != nil {
				return unavailable("delete stale tenants", err)
			}
		}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := ix.cols[name]
	if c == nil {
		c = &collection{name: name}
		ix.cols[name] = c
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next != nil {
		return nil // compacting: this process already holds it
	}
	if c.secret == nil || string(c.secret) != string(secret) || c.epoch != epoch {
		clear(c.secret)
		c.rot.destroy()
		c.secret, c.rot, c.dim = slices.Clone(secret), nil, 0
	}
	c.tenant, c.epoch = tenantName(name, epoch), epoch
	return nil
}

func (c *collection) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.secret)
	c.secret = nil
	c.rot.destroy()
	c.rot = nil
	if c.next != nil {
		c.next.rot.destroy()
	}
}

// get returns an ensured collection.
func (ix *Index) get(name string) (*collection, error) {
	if c := ix.lookup(name); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("weaviate: collection %s was not ensured", name)
}

// lookup returns an ensured collection, nil for any other.
func (ix *Index) lookup(name string) *collection {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.cols[name]
}

// rotationFor returns the collection's current rotation for dim, deriving
// it on first use. The caller holds c.mu.
func (c *collection) rotationFor(dim int) (*rotation, error) {
	if c.rot != nil && c.rot.dim == dim {
		return c.rot, nil
	}
	if c.secret == nil {
		return nil, fmt.Errorf("weaviate: collection %s has no secret", c.name)
	}
	r, err := newRotation(c.secret, c.epoch, dim)
	if err != nil {
		return nil, err
	}
	c.rot.destroy()
	c.rot = r
	return r, nil
}

// normalize checks and normalises a template.
func normalize(v []float32, what string) ([]float32, error) {
	var ss float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, likeness.Errorf(likeness.EINVALID, "%s is not a usable face template.", what)
		}
		ss += f * f
	}
	if len(v) == 0 || ss == 0 || math.IsInf(ss, 0) {
		return nil, likeness.Errorf(likeness.EINVALID, "%s is not a usable face template.", what)
	}
	inv := 1 / math.Sqrt(ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out, nil
}

// Add stores the rotated template under id (a UUID) in the collection's
// tenant, and in the tenant a running compaction fills.
func (ix *Index) Add(ctx context.Context, name, id string, v []float32) error {
	nv, err := normalize(v, "Template")
	if err != nil {
		return err
	}
	if _, err := uuid.Parse(id); err != nil {
		return likeness.Errorf(likeness.EINVALID, "IDs in Weaviate are UUIDs.")
	}
	c, err := ix.get(name)
	if err != nil {
		return err
	}
	if err := ix.learnDim(ctx, c); err != nil {
		return err
	}
	c.write.RLock()
	defer c.write.RUnlock()
	c.mu.Lock()
	if c.dim != 0 && c.dim != len(nv) {
		c.mu.Unlock()
		return likeness.Errorf(likeness.EINVALID, "Template dimension does not match the collection's.")
	}
	rot, err := c.rotationFor(len(nv))
	if err == nil && c.next != nil && c.next.rot == nil {
		// A compaction of an empty collection is running.
		c.next.rot, err = newRotation(c.secret, c.next.epoch, len(nv))
	}
	if err != nil {
		c.mu.Unlock()
		return err
	}
	tenant, next := c.tenant, c.next
	c.dim = len(nv)
	c.mu.Unlock()
	objs := []*models.Object{ix.object(tenant, id, rot.apply(nv))}
	if next != nil {
		objs = append(objs, ix.object(next.tenant, id, next.rot.apply(nv)))
	}
	clear(nv)
	return ix.put(ctx, objs)
}

func (ix *Index) object(tenant, id string, v []float32) *models.Object {
	return &models.Object{Class: ix.class, ID: strfmt.UUID(id), Tenant: tenant, Vector: v, Properties: map[string]any{}}
}

// put writes objects with one batch request (an upsert).
func (ix *Index) put(ctx context.Context, objs []*models.Object) error {
	res, err := ix.c.Batch().ObjectsBatcher().WithObjects(objs...).Do(ctx)
	if err != nil {
		return unavailable("write vectors", err)
	}
	for _, r := range res {
		if r.Result != nil && r.Result.Errors != nil && len(r.Result.Errors.Error) > 0 {
			return likeness.Wrap(errors.New(r.Result.Errors.Error[0].Message), likeness.EINTERNAL, "Weaviate refused a vector.")
		}
	}
	return nil
}

// Remove deletes the objects of ids from the collection's tenants.
func (ix *Index) Remove(ctx context.Context, name string, ids ...string) error {
	c, err := ix.get(name)
	if err != nil {
		return err
	}
	var valid []string
	for _, id := range ids {
		if _, err := uuid.Parse(id); err == nil {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return nil
	}
	c.write.RLock()
	defer c.write.RUnlock()
	c.mu.RLock()
	tenants := []string{c.tenant}
	if c.next != nil {
		tenants = append(tenants, c.next.tenant)
	}
	c.mu.RUnlock()
	for _, t := range tenants {
		if err := ix.delete(ctx, t, valid); err != nil {
			return err
		}
	}
	return nil
}

// delete removes objects from one tenant: one by one for a few, by batch
// (a filter on the IDs) for many.
func (ix *Index) delete(ctx context.Context, tenant string, ids []string) error {
	if len(ids) <= 4 {
		for _, id := range ids {
			err := ix.c.Data().Deleter().WithClassName(ix.class).WithTenant(tenant).WithID(id).Do(ctx)
			if err != nil && !isStatus(err, 404) {
				return unavailable("delete a vector", err)
			}
		}
		return nil
	}
	for len(ids) > 0 {
		n := min(deleteBatch, len(ids))
		where := filters.Where().WithPath([]string{"id"}).WithOperator(filters.ContainsAny).WithValueText(ids[:n]...)
		res, err := ix.c.Batch().ObjectsBatchDeleter().WithClassName(ix.class).WithTenant(tenant).
			WithWhere(where).WithOutput("minimal").Do(ctx)
		if err != nil {
			return unavailable("delete vectors", err)
		}
		if res != nil && res.Results != nil && res.Results.Failed > 0 {
			return likeness.Wrap(fmt.Errorf("%d deletions failed", res.Results.Failed), likeness.EINTERNAL, "Weaviate did not delete every vector.")
		}
		ids = ids[n:]
	}
	return nil
}

// learnDim finds the collection's dimension from a stored vector when it is
// not known yet.
func (ix *Index) learnDim(ctx context.Context, c *collection) error {
	c.mu.RLock()
	dim, tenant := c.dim, c.tenant
	c.mu.RUnlock()
	if dim != 0 {
		return nil
	}
	objs, err := ix.c.Data().ObjectsGetter().WithClassName(ix.class).WithTenant(tenant).WithLimit(1).WithVector().Do(ctx)
	if err != nil {
		return unavailable("read a vector", err)
	}
	if len(objs) == 1 && len(objs[0].Vector) > 0 {
		c.mu.Lock()
		if c.dim == 0 {
			c.dim = len(objs[0].Vector)
		}
		c.mu.Unlock()
	}
	return nil
}

// Dim returns the collection's dimension, 0 when it is empty (or was not
// ensured).
func (ix *Index) Dim(ctx context.Context, name string) (int, error) {
	c := ix.lookup(name)
	if c == nil {
		return 0, nil
	}
	if err := ix.learnDim(ctx, c); err != nil {
		return 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.dim, nil
}

// Search returns the k nearest vectors by HNSW over GraphQL.
func (ix *Index) Search(ctx context.Context, name string, q []float32, k int) ([]likeness.Match, error) {
	nq, err := normalize(q, "Probe")
	if err != nil {
		return nil, err
	}
	c := ix.lookup(name)
	if k < 1 || c == nil {
		return []likeness.Match{}, nil
	}
	if err := ix.learnDim(ctx, c); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		if c.dim == 0 {
			c.mu.Unlock()
			return []likeness.Match{}, nil
		}
		if c.dim != len(nq) {
			c.mu.Unlock()
			return nil, likeness.Errorf(likeness.EINVALID, "Probe dimension does not match the collection's.")
		}
		rot, err := c.rotationFor(c.dim)
		tenant := c.tenant
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		m, err := ix.nearest(ctx, tenant, rot.apply(nq), k)
		if err != nil && attempt == 0 && tenantGone(err) {
			continue // a compaction switched tenants meanwhile
		}
		return m, err
	}
}

func (ix *Index) nearest(ctx context.Context, tenant string, v []float32, k int) ([]likeness.Match, error) {
	res, err := ix.c.GraphQL().Get().WithClassName(ix.class).WithTenant(tenant).
		WithNearVector(ix.c.GraphQL().NearVectorArgBuilder().WithVector(v)).WithLimit(k).
		WithFields(graphql.Field{Name: "_additional", Fields: []graphql.Field{{Name: "id"}, {Name: "distance"}}}).
		Do(ctx)
	if err != nil {
		return nil, unavailable("search", err)
	}
	if len(res.Errors) > 0 {
		return nil, likeness.Wrap(errors.New(res.Errors[0].Message), likeness.EINTERNAL, "The face index could not search.")
	}
	get, _ := res.Data["Get"].(map[string]any)
	items, _ := get[ix.class].([]any)
	out := make([]likeness.Match, 0, len(items))
	for _, it := range items {
		obj, _ := it.(map[string]any)
		add, _ := obj["_additional"].(map[string]any)
		id, _ := add["id"].(string)
		dist, ok := add["distance"].(float64)
		if id == "" || !ok {
			return nil, likeness.Wrap(errors.New("malformed search result"), likeness.EINTERNAL, "The face index could not search.")
		}
		out = append(out, likeness.Match{FacialID: id, Similarity: float32(min(1, max(-1, 1-dist)))})
	}
	slices.SortStableFunc(out, func(a, b likeness.Match) int {
		if c := cmp.Compare(b.Similarity, a.Similarity); c != 0 {
			return c
		}
		return strings.Compare(a.FacialID, b.FacialID)
	})
	return out, nil
}

// Len counts the collection's objects (0 for a collection not ensured).
func (ix *Index) Len(ctx context.Context, name string) (int, error) {
	c := ix.lookup(name)
	if c == nil {
		return 0, nil
	}
	c.mu.RLock()
	tenant := c.tenant
	c.mu.RUnlock()
	return ix.count(ctx, tenant)
}

func (ix *Index) count(ctx context.Context, tenant string) (int, error) {
	res, err := ix.c.GraphQL().Aggregate().WithClassName(ix.class).WithTenant(tenant).
		WithFields(graphql.Field{Name: "meta", Fields: []graphql.Field{{Name: "count"}}}).Do(ctx)
	if err != nil {
		return 0, unavailable("count", err)
	}
	if len(res.Errors) > 0 {
		return 0, likeness.Wrap(errors.New(res.Errors[0].Message), likeness.EINTERNAL, "The face index could not count.")
	}
	agg, _ := res.Data["Aggregate"].(map[string]any)
	rows, _ := agg[ix.class].([]any)
	if len(rows) == 0 {
		return 0, nil
	}
	row, _ := rows[0].(map[string]any)
	meta, _ := row["meta"].(map[string]any)
	n, _ := meta["count"].(float64)
	return int(n), nil
}

// IDs lists the collection's object IDs page by page (a cursor over IDs).
func (ix *Index) IDs(ctx context.Context, name string, fn func(ids []string) error) error {
	c, err := ix.get(name)
	if err != nil {
		return err
	}
	c.mu.RLock()
	tenant := c.tenant
	c.mu.RUnlock()
	after := ""
	for {
		g := ix.c.Data().ObjectsGetter().WithClassName(ix.class).WithTenant(tenant).WithLimit(pageSize)
		if after != "" {
			g = g.WithAfter(after)
		}
		objs, err := g.Do(ctx)
		if err != nil {
			return unavailable("list vectors", err)
		}
		if len(objs) == 0 {
			return nil
		}
		ids := make([]string, len(objs))
		for i, o := range objs {
			ids[i] = string(o.ID)
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(objs) < pageSize {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// Collections returns the collections that have a tenant.
func (ix *Index) Collections(ctx context.Context) ([]string, error) {
	ts, err := ix.c.Schema().TenantsGetter().WithClassName(ix.class).Do(ctx)
	if err != nil {
		return nil, unavailable("list tenants", err)
	}
	var out []string
	for _, t := range ts {
		if col, _, ok := parseTenant(t.Name); ok && !slices.Contains(out, col) {
			out = append(out, col)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Drop deletes every tenant of the collection (Weaviate deletes their
// files) and forgets its secret.
func (ix *Index) Drop(ctx context.Context, name string) error {
	if !collectionName.MatchString(name) {
		return likeness.Errorf(likeness.EINVALID, "Collection name %q is not usable.", name)
	}
	ix.mu.Lock()
	c := ix.cols[name]
	delete(ix.cols, name)
	ix.mu.Unlock()
	if c != nil {
		c.write.Lock()
		defer c.write.Unlock()
		c.forget()
	}
	epochs, err := ix.epochs(ctx, name)
	if err != nil || len(epochs) == 0 {
		return err
	}
	tenants := make([]string, len(epochs))
	for i, e := range epochs {
		tenants[i] = tenantName(name, e)
	}
	if err := ix.c.Schema().TenantsDeleter().WithClassName(ix.class).WithTenants(tenants...).Do(ctx); err != nil {
		return unavailable("delete tenants", err)
	}
	return nil
}

// Compact makes the collection's removals physical. It creates the tenant
// of the next epoch, copies every live vector into it page by page
// (re-rotated under the next epoch's matrix; writes meanwhile go to both
// tenants), then deletes the old tenant and switches to the new one. A
// search during the switch retries once on the new tenant. After an
// interruption the old tenant stays current (see Ensure).
func (ix *Index) Compact(ctx context.Context, name string) error {
	c, err := ix.get(name)
	if err != nil {
		return err
	}
	if err := ix.learnDim(ctx, c); err != nil {
		return err
	}
	c.write.Lock()
	c.mu.Lock()
	if c.next != nil {
		c.mu.Unlock()
		c.write.Unlock()
		return likeness.Errorf(likeness.ECONFLICT, "The collection is being compacted.")
	}
	old := target{tenant: c.tenant, epoch: c.epoch, rot: c.rot}
	dim := c.dim
	next := &target{tenant: tenantName(name, c.epoch+1), epoch: c.epoch + 1}
	if dim != 0 {
		old.rot, err = c.rotationFor(dim)
	}
	secret := slices.Clone(c.secret)
	c.mu.Unlock()
	if err == nil && dim != 0 {
		// Derived outside c.mu: searches go on meanwhile.
		next.rot, err = newRotation(secret, next.epoch, dim)
	}
	clear(secret)
	if err == nil {
		err = ix.c.Schema().TenantsCreator().WithClassName(ix.class).
			WithTenants(models.Tenant{Name: next.tenant, ActivityStatus: "HOT"}).Do(ctx)
		if err != nil {
			err = unavailable("create a tenant", err)
		}
	}
	if err != nil {
		c.write.Unlock()
		return err
	}
	c.mu.Lock()
	c.next = next
	c.mu.Unlock()
	c.write.Unlock()

	abort := func(err error) error {
		c.write.Lock()
		defer c.write.Unlock()
		c.mu.Lock()
		c.next = nil
		c.mu.Unlock()
		next.rot.destroy()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultTimeout)
		defer cancel()
		if derr := ix.c.Schema().TenantsDeleter().WithClassName(ix.class).WithTenants(next.tenant).Do(dctx); derr != nil {
			ix.log.Warn("weaviate: could not delete an aborted compaction's tenant", "tenant", next.tenant, "err", derr)
		}
		return err
	}
	after := ""
	for dim != 0 {
		done, last, err := ix.copyPage(ctx, c, old, next, after)
		if err != nil {
			return abort(err)
		}
		if done {
			break
		}
		after = last
	}
	// Switch: the old tenant's deletion is the commit point.
	c.write.Lock()
	if err := ix.c.Schema().TenantsDeleter().WithClassName(ix.class).WithTenants(old.tenant).Do(ctx); err != nil {
		c.write.Unlock()
		return abort(unavailable("delete the old tenant", err))
	}
	c.mu.Lock()
	c.tenant, c.epoch, c.next = next.tenant, next.epoch, nil
	c.rot.destroy()
	c.rot = next.rot
	c.mu.Unlock()
	c.write.Unlock()
	return nil
}

// copyPage copies one page of the old tenant into the new one, holding the
// collection's write lock.
func (ix *Index) copyPage(ctx context.Context, c *collection, old target, next *target, after string) (done bool, last string, err error) {
	c.write.Lock()
	defer c.write.Unlock()
	g := ix.c.Data().ObjectsGetter().WithClassName(ix.class).WithTenant(old.tenant).WithLimit(pageSize).WithVector()
	if after != "" {
		g = g.WithAfter(after)
	}
	objs, err := g.Do(ctx)
	if err != nil {
		return false, "", unavailable("read vectors", err)
	}
	if len(objs) == 0 {
		return true, "", nil
	}
	batch := make([]*models.Object, 0, len(objs))
	for _, o := range objs {
		if len(o.Vector) != old.rot.dim {
			return false, "", fmt.Errorf("weaviate: object %s has %d dimensions, want %d", o.ID, len(o.Vector), old.rot.dim)
		}
		v := old.rot.invert(o.Vector)
		batch = append(batch, ix.object(next.tenant, string(o.ID), next.rot.apply(v)))
		clear(v)
	}
	if err := ix.put(ctx, batch); err != nil {
		return false, "", err
	}
	return len(objs) < pageSize, string(objs[len(objs)-1].ID), nil
}

// unavailable wraps a client error: EUNAVAILABLE when the server could not
// be reached or failed, EINTERNAL when it refused the request.
func unavailable(op string, err error) error {
	var we *fault.WeaviateClientError
	if errors.As(err, &we) && we.StatusCode >= 400 && we.StatusCode < 500 {
		return likeness.Wrap(fmt.Errorf("weaviate: %s: %w", op, err), likeness.EINTERNAL, "The face index refused a request.")
	}
	return likeness.Wrap(fmt.Errorf("weaviate: %s: %w", op, err), likeness.EUNAVAILABLE, "The face index is unavailable; try again.")
}

func isStatus(err error, code int) bool {
	var we *fault.WeaviateClientError
	return errors.As(err, &we) && we.StatusCode == code
}

// tenantGone reports whether a search failed because its tenant was just
// deleted.
func tenantGone(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "tenant") && (strings.Contains(s, "not found") || strings.Contains(s, "not exist"))
}

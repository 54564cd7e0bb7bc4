package sqlite

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/vecindex"
)

// The vector index is a derived copy of the faces table (see vector.go at
// the root). The store writes it after each commit, holding the writer lock
// so that it changes in the order the database does; a change that may not
// have reached it is in vector_journal (migration 0004) until it has.

const (
	// indexTimeout bounds one index call made after a commit.
	indexTimeout = 30 * time.Second
	// loadBatch is how many templates a loader worker decrypts and adds
	// to the index at a time.
	loadBatch = 4096
	// secretInfo labels the collection secret derived from the data key.
	secretInfo = "likeness vector-index collection secret v1\x00"
)

// indexer is the store's view of the configured likeness.VectorIndex. Its
// methods without a context are called after a commit with the writer lock
// held; they never fail for a reason the caller could act on: a change that
// does not reach a networked index stays in the journal and is retried by
// SyncIndex.
type indexer struct {
	db       *DB
	vi       likeness.VectorIndex
	own      bool            // the store made vi and closes it
	embedded *vecindex.Index // vi's index when it is the in-process one
	bulk     batchAdder      // vi when it adds many templates in one call
	log      *slog.Logger

	mu      sync.Mutex
	ensured map[string]bool // collections ensured by this process
}

func newIndexer(db *DB, vi likeness.VectorIndex, log *slog.Logger) *indexer {
	x := &indexer{db: db, vi: vi, log: log, ensured: make(map[string]bool)}
	if vi == nil {
		v := vecindex.NewVectors()
		x.vi, x.own = v, true
	}
	if v, ok := x.vi.(*vecindex.Vectors); ok {
		x.embedded = v.Index()
	}
	x.bulk, _ = x.vi.(batchAdder)
	return x
}

// batchAdder is an index that adds many templates in one call (the
// embedded one: vecindex.Vectors.AddBatch), as many Add calls in order
// would, and stores none of them when it refuses one.
type batchAdder interface {
	AddBatch(ctx context.Context, collection string, ids []string, vecs []float32) error
}

// loader collects the decrypted templates of one collection and adds them
// to the index loadBatch at a time: in one call when the index takes
// batches, else one Add each.
type loader struct {
	x          *indexer
	collection string
	ids        []string
	vecs       []float32 // the templates of ids, one after another
	dim        int
}

// add decodes the template of face id (plain, little-endian float32s) into
// the batch, adding the batch first when it is full or the template's
// dimension differs from the batch's.
func (l *loader) add(ctx context.Context, id string, plain []byte) error {
	dim, err := templateDim(plain)
	if err != nil {
		return fmt.Errorf("sqlite: face %s: %w", id, err)
	}
	if len(l.ids) == loadBatch || (len(l.ids) > 0 && dim != l.dim) {
		if err := l.flush(ctx); err != nil {
			return err
		}
	}
	l.dim = dim
	n := len(l.vecs)
	if n+dim > cap(l.vecs) {
		// Doubled up to a whole batch (a collection with few faces keeps a
		// small buffer), and the old array overwritten: growing by append
		// would leave copies of templates behind.
		grown := make([]float32, n, max(n+dim, min(2*cap(l.vecs), loadBatch*dim), 64*dim))
		copy(grown, l.vecs)
		clear(l.vecs)
		l.vecs = grown
	}
	l.vecs = l.vecs[:n+dim]
	decodeTemplateInto(l.vecs[n:], plain)
	l.ids = append(l.ids, id)
	return nil
}

// flush adds the batch to the index and overwrites it.
func (l *loader) flush(ctx context.Context) error {
	if len(l.ids) == 0 {
		return nil
	}
	defer func() {
		clear(l.vecs)
		clear(l.ids)
		l.ids, l.vecs = l.ids[:0], l.vecs[:0]
	}()
	if l.x.bulk != nil {
		if err := l.x.bulk.AddBatch(ctx, l.collection, l.ids, l.vecs); err != nil {
			return fmt.Errorf("sqlite: templates of collection %s: %w", l.collection, err)
		}
		return nil
	}
	for i, id := range l.ids {
		if err := l.x.vi.Add(ctx, l.collection, id, l.vecs[i*l.dim:(i+1)*l.dim]); err != nil {
			return fmt.Errorf("sqlite: template of face %s (collection %s): %w", id, l.collection, err)
		}
	}
	return nil
}

func bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), indexTimeout)
}

// ensure makes the collection ready in the index, once per process.
func (x *indexer) ensure(ctx context.Context, collection string) error {
	x.mu.Lock()
	ok := x.ensured[collection]
	x.mu.Unlock()
	if ok {
		return nil
	}
	secret, err := x.db.collectionSecret(ctx, collection)
	if err != nil {
		return err
	}
	defer clear(secret)
	if err := x.vi.Ensure(ctx, collection, secret); err != nil {
		return err
	}
	x.mu.Lock()
	x.ensured[collection] = true
	x.mu.Unlock()
	return nil
}

// created makes a new collection in the index (a Weaviate tenant). A
// failure is logged: the collection is made on first use instead.
func (x *indexer) created(collection string) {
	ctx, cancel := bg()
	defer cancel()
	if err := x.ensure(ctx, collection); err != nil {
		x.log.Warn("vector index: collection not created yet; it will be on first use", "collection", collection, "err", err)
	}
}

func (x *indexer) forget(collection string) {
	x.mu.Lock()
	delete(x.ensured, collection)
	x.mu.Unlock()
}

// Dim returns the collection's dimension, 0 when empty or unknown.
func (x *indexer) Dim(collection string) int {
	ctx, cancel := bg()
	defer cancel()
	if err := x.ensure(ctx, collection); err != nil {
		return 0
	}
	d, err := x.vi.Dim(ctx, collection)
	if err != nil {
		return 0
	}
	return d
}

// Add indexes a committed face. An unusable vector is an error; any other
// failure is journaled for SyncIndex and logged.
func (x *indexer) Add(collection, id string, v []float32) error {
	ctx, cancel := bg()
	defer cancel()
	err := x.ensure(ctx, collection)
	if err == nil {
		err = x.vi.Add(ctx, collection, id, v)
	}
	if err == nil || likeness.ErrorCode(err) == likeness.EINVALID {
		return err
	}
	x.log.Warn("vector index: add failed; journaled for retry", "collection", collection, "facial_id", id, "err", err)
	if jerr := x.db.updateLocked(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, x.db.journalSQL("add"), collection, id)
		return err
	}); jerr != nil {
		x.log.Error("vector index: journal failed; run `likeness index rebuild`", "collection", collection, "err", jerr)
	}
	return nil
}

// Remove takes a deleted face out of the index (the deleting transaction
// journaled it). It reports true: a failure is retried by SyncIndex.
func (x *indexer) Remove(collection, id string) bool {
	ctx, cancel := bg()
	defer cancel()
	err := x.ensure(ctx, collection)
	if err == nil {
		err = x.vi.Remove(ctx, collection, id)
	}
	if err != nil {
		x.log.Warn("vector index: remove failed; journaled for retry", "collection", collection, "facial_id", id, "err", err)
	}
	return true
}

// Drop deletes a deleted application's collection from the index. A
// failure leaves the journal rows, and SyncIndex drops it later.
func (x *indexer) Drop(collection string) {
	ctx, cancel := bg()
	defer cancel()
	x.forget(collection)
	if err := x.vi.Drop(ctx, collection); err != nil {
		x.log.Warn("vector index: drop failed; retried by SyncIndex", "collection", collection, "err", err)
		return
	}
	if err := x.db.updateLocked(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM vector_journal WHERE collection_id = ?`, collection)
		return err
	}); err != nil {
		x.log.Warn("vector index: journal cleanup failed", "collection", collection, "err", err)
	}
}

// Clear releases the index at Close: the store closes only an index it
// made; an index passed in Options is closed by its owner.
func (x *indexer) Clear() {
	if x.own {
		_ = x.vi.Close()
	}
}

// search searches one collection.
func (x *indexer) search(ctx context.Context, collection string, q []float32, k int) ([]likeness.Match, error) {
	if err := x.ensure(ctx, collection); err != nil {
		return nil, err
	}
	m, err := x.vi.Search(ctx, collection, q, k)
	if err != nil && likeness.ErrorCode(err) == likeness.EINTERNAL {
		return nil, likeness.Wrap(err, likeness.EUNAVAILABLE, "The face index is unavailable; try again.")
	}
	return m, err
}

// VectorIndex returns the configured vector index (for tools and tests;
// callers must not change it behind the store's back).
func (db *DB) VectorIndex() likeness.VectorIndex { return db.index.vi }

// collectionSecret derives the collection's index secret from its
// application's data key, so that destroying the data key destroys every
// secret a backend used to protect the collection's vectors.
func (db *DB) collectionSecret(ctx context.Context, collection string) ([]byte, error) {
	var appID string
	db.mu.RLock()
	for id, ak := range db.apps {
		if ak.collection == collection {
			appID = id
			break
		}
	}
	db.mu.RUnlock()
	if appID == "" {
		err := db.r.QueryRowContext(ctx, `SELECT id FROM applications WHERE collection_id = ? AND data_key_wrapped IS NOT NULL`,
			collection).Scan(&appID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: collection %s: %w", collection, err)
		}
	}
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, ak.key, nil, secretInfo+collection, 32)
}

// appCollections returns every live application's ID by collection.
func (db *DB) appCollections(ctx context.Context) (map[string]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, collection_id FROM applications WHERE data_key_wrapped IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: applications: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, col string
		if err := rows.Scan(&id, &col); err != nil {
			return nil, fmt.Errorf("sqlite: applications: %w", err)
		}
		out[col] = id
	}
	return out, rows.Err()
}

// loadIndex runs at Open: it ensures every collection in the index and, for
// an index that does not keep its vectors across restarts, loads every
// template into it (decrypted by all cores); for one that does, it applies
// what the journal says is owed (SyncIndex).
func (db *DB) loadIndex(ctx context.Context) error {
	cols, err := db.appCollections(ctx)
	if err != nil {
		return err
	}
	for col := range cols {
		if err := db.index.ensure(ctx, col); err != nil {
			return fmt.Errorf("sqlite: vector index: %w", err)
		}
	}
	if db.index.vi.Durable() {
		if err := db.SyncIndex(ctx); err != nil {
			// The server can still start: the journal is retried later.
			db.index.log.Warn("vector index: journal not applied at start", "err", err)
		}
		return nil
	}
	if err := db.loadAll(ctx, cols); err != nil {
		return err
	}
	// The journal is left alone: it may be owed to a durable index that
	// another process (the server) is configured with.
	return nil
}

// loadAll decrypts every template of the live applications into the
// index: one reader per core, each over its own range of the faces table's
// rowids, decrypting and adding what it reads.
func (db *DB) loadAll(ctx context.Context, cols map[string]string) error {
	keys := make(map[string]loadKey, len(cols))
	for col, appID := range cols {
		ak, err := db.appKey(ctx, appID)
		if err != nil {
			return err
		}
		o, err := crypt.NewOpener(ak.key)
		if err != nil {
			return err
		}
		keys[appID] = loadKey{collection: col, open: o}
	}
	if r, ok := db.index.vi.(interface {
		Reserve(collection string, n int)
	}); ok {
		rows, err := db.r.QueryContext(ctx, `SELECT app_id, count(*) FROM faces GROUP BY app_id`)
		if err != nil {
			return fmt.Errorf("sqlite: load index: %w", err)
		}
		for rows.Next() {
			var appID string
			var n int
			if err := rows.Scan(&appID, &n); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: load index: %w", err)
			}
			if k, ok := keys[appID]; ok {
				r.Reserve(k.collection, n)
			}
		}
		rows.Close()
	}
	if db.postgres {
		// No rowid ranges: one reader per application, one decrypting
		// worker per core (loadTemplates).
		for col, appID := range cols {
			if err := db.loadTemplates(ctx, appID, col, nil); err != nil {
				return err
			}
		}
		return nil
	}
	var last int64
	if err := db.r.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM faces`).Scan(&last); err != nil {
		return fmt.Errorf("sqlite: load index: %w", err)
	}
	workers := int64(runtime.GOMAXPROCS(0))
	span := last/workers + 1
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			if errs[w] = db.loadRange(ctx, keys, w*span+1, (w+1)*span); errs[w] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadKey is what the loader needs of an application.
type loadKey struct {
	collection string
	open       *crypt.Opener
}

// loadRange loads the faces with rowids in [from, to].
func (db *DB) loadRange(ctx context.Context, keys map[string]loadKey, from, to int64) error {
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: load index: %w", err)
	}
	defer conn.Close()
	// Map the file while loading instead of a read call per page.
	if _, err := conn.ExecContext(ctx, `PRAGMA mmap_size = 68719476736`); err == nil {
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA mmap_size = 0`)
	}
	rows, err := conn.QueryContext(ctx, `SELECT app_id, facial_id, template_sealed FROM faces WHERE rowid BETWEEN ? AND ?`,
		from, to)
	if err != nil {
		return fmt.Errorf("sqlite: load index: %w", err)
	}
	defer rows.Close()
	var (
		appID, id string
		sealed    sql.RawBytes // the driver's buffer, valid until Next
		plain     []byte
	)
	loaders := map[string]*loader{} // by collection
	buffered := 0                   // templates in the loaders
	defer func() {
		clear(plain)
		for _, l := range loaders {
			clear(l.vecs)
		}
	}()
	for rows.Next() {
		if err := rows.Scan(&appID, &id, &sealed); err != nil {
			return fmt.Errorf("sqlite: load index: %w", err)
		}
		k, ok := keys[appID]
		if !ok {
			continue // an application being deleted
		}
		p, err := k.open.Open(plain[:0], sealed, templateAAD(appID, id))
		if err != nil {
			return fmt.Errorf("sqlite: template of face %s (application %s): %w", id, appID, err)
		}
		plain = p
		l := loaders[k.collection]
		if l == nil {
			l = &loader{x: db.index, collection: k.collection}
			loaders[k.collection] = l
		}
		if err := l.add(ctx, id, plain); err != nil {
			return err
		}
		if buffered++; buffered == loadBatch {
			buffered = 0
			if len(loaders) > 1 {
				// Faces of several collections: at most a batch in all is
				// held, and the buffers go (they grow as they fill).
				for _, l := range loaders {
					if err := l.flush(ctx); err != nil {
						return err
					}
					l.ids, l.vecs = nil, nil
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: load index: %w", err)
	}
	for _, l := range loaders {
		if err := l.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// sealedTemplate is one row for the loader.
type sealedTemplate struct {
	id     string
	sealed []byte
}

// sealedTemplates reads the sealed templates of the named faces of the
// application that exist (none for an empty list).
func (db *DB) sealedTemplates(ctx context.Context, appID string, facialIDs []string) ([]sealedTemplate, error) {
	if len(facialIDs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(facialIDs)+1)
	args = append(args, appID)
	for _, id := range facialIDs {
		args = append(args, id)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT facial_id, template_sealed FROM faces WHERE app_id = ? AND facial_id IN (?`+
		strings.Repeat(",?", len(facialIDs)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: templates: %w", err)
	}
	defer rows.Close()
	var out []sealedTemplate
	for rows.Next() {
		var t sealedTemplate
		if err := rows.Scan(&t.id, &t.sealed); err != nil {
			return nil, fmt.Errorf("sqlite: templates: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// loadTemplates decrypts the application's templates and adds them to the
// index; with only non-nil, just the faces it names. Rows are read by one
// goroutine and decrypted and added by one worker per core.
func (db *DB) loadTemplates(ctx context.Context, appID, collection string, only map[string]bool) error {
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []sealedTemplate, 1)
	errc := make(chan error, runtime.GOMAXPROCS(0)+1)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for b := range batches {
				if err := db.addSealed(ctx, appID, collection, ak.key, b); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		})
	}
	err = func() error {
		defer close(batches)
		rows, err := db.r.QueryContext(ctx, `SELECT facial_id, template_sealed FROM faces WHERE app_id = ?`, appID)
		if err != nil {
			return fmt.Errorf("sqlite: load index: %w", err)
		}
		defer rows.Close()
		b := make([]sealedTemplate, 0, loadBatch)
		for rows.Next() {
			var t sealedTemplate
			if err := rows.Scan(&t.id, &t.sealed); err != nil {
				return fmt.Errorf("sqlite: load index: %w", err)
			}
			if only != nil && !only[t.id] {
				continue
			}
			if b = append(b, t); len(b) == loadBatch {
				select {
				case batches <- b:
				case <-ctx.Done():
					return nil // a worker failed
				}
				b = make([]sealedTemplate, 0, loadBatch)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: load index: %w", err)
		}
		if len(b) > 0 {
			select {
			case batches <- b:
			case <-ctx.Done():
			}
		}
		return nil
	}()
	wg.Wait()
	close(errc)
	return errors.Join(err, <-errc)
}

// addSealed opens and indexes a batch of sealed templates.
func (db *DB) addSealed(ctx context.Context, appID, collection string, key []byte, b []sealedTemplate) error {
	o, err := crypt.NewOpener(key)
	if err != nil {
		return err
	}
	l := &loader{x: db.index, collection: collection}
	defer func() { clear(l.vecs) }()
	var plain []byte
	defer func() { clear(plain) }()
	for _, t := range b {
		p, err := o.Open(plain[:0], t.sealed, templateAAD(appID, t.id))
		if err != nil {
			return fmt.Errorf("sqlite: template of face %s (application %s): %w", t.id, appID, err)
		}
		plain = p
		if err := l.add(ctx, t.id, plain); err != nil {
			return err
		}
	}
	return l.flush(ctx)
}

// journalSQL is the statement that journals op (with a new seq, replacing
// the face's row if any) for a collection and a Facial ID.
func (db *DB) journalSQL(op string) string {
	if db.postgres {
		return `INSERT INTO vector_journal (collection_id, facial_id, op) VALUES (?, ?, '` + op + `')
			ON CONFLICT (collection_id, facial_id) DO UPDATE
			SET op = excluded.op, seq = nextval(pg_get_serial_sequence('vector_journal', 'seq'))`
	}
	return `INSERT OR REPLACE INTO vector_journal (collection_id, facial_id, op) VALUES (?, ?, '` + op + `')`
}

// journalRow is one row of vector_journal.
type journalRow struct {
	seq        int64
	collection string
	facialID   string
	op         string
}

func (db *DB) journal(ctx context.Context) ([]journalRow, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT seq, collection_id, facial_id, op FROM vector_journal ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: vector journal: %w", err)
	}
	defer rows.Close()
	var out []journalRow
	for rows.Next() {
		var r journalRow
		if err := rows.Scan(&r.seq, &r.collection, &r.facialID, &r.op); err != nil {
			return nil, fmt.Errorf("sqlite: vector journal: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SyncIndex applies what the journal says the vector index is owed: it
// adds the faces whose index write failed, takes deleted faces out again
// (removal is idempotent), and drops the collections of deleted
// applications. Removals stay journaled until CompactIndex has made them
// physical. It holds the writer lock while it runs.
func (db *DB) SyncIndex(ctx context.Context) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	rows, err := db.journal(ctx)
	if err != nil || len(rows) == 0 {
		return err
	}
	cols, err := db.appCollections(ctx)
	if err != nil {
		return err
	}
	var errs []error
	adds := map[string]map[string]bool{}
	addSeqs := map[string][]int64{}
	removes := map[string][]string{}
	for _, r := range rows {
		switch {
		case cols[r.collection] == "":
			// The application is gone: drop the whole collection below.
		case r.op == "add":
			if adds[r.collection] == nil {
				adds[r.collection] = map[string]bool{}
			}
			adds[r.collection][r.facialID] = true
			addSeqs[r.collection] = append(addSeqs[r.collection], r.seq)
		default:
			removes[r.collection] = append(removes[r.collection], r.facialID)
		}
	}
	var done []int64
	for col, ids := range adds {
		err := db.index.ensure(ctx, col)
		if err == nil {
			err = db.loadTemplates(ctx, cols[col], col, ids)
		}
		if err != nil {
			errs = append(errs, err) // retried next time
			continue
		}
		done = append(done, addSeqs[col]...)
	}
	for col, ids := range removes {
		err := db.index.ensure(ctx, col)
		if err == nil {
			err = db.index.vi.Remove(ctx, col, ids...)
		}
		errs = append(errs, err)
	}
	gone := map[string]bool{}
	for _, r := range rows {
		if cols[r.collection] == "" && !gone[r.collection] {
			gone[r.collection] = true
			db.index.forget(r.collection)
			if err := db.index.vi.Drop(ctx, r.collection); err != nil {
				errs = append(errs, err)
				delete(gone, r.collection)
			}
		}
	}
	err = db.updateLocked(ctx, func(tx *sql.Tx) error {
		for _, seq := range done {
			if _, err := tx.ExecContext(ctx, `DELETE FROM vector_journal WHERE seq = ? AND op = 'add'`, seq); err != nil {
				return err
			}
		}
		for col := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM vector_journal WHERE collection_id = ?`, col); err != nil {
				return err
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// CompactIndex makes the journaled removals physical: for each collection
// with some, it compacts the index (for Weaviate, the collection moves to a
// fresh tenant under a new key and the old tenant's files are deleted) and
// then clears the removals it covered. With several replicas on PostgreSQL
// one of them compacts at a time. It does not hold the writer lock
// while the index compacts: writes go on meanwhile, and removals made
// during the compaction stay journaled for the next one.
func (db *DB) CompactIndex(ctx context.Context) error {
	_, err := db.tryMaintenance(ctx, func() error { return db.compactIndex(ctx) })
	return err
}

// compactIndex is CompactIndex on one replica at a time.
func (db *DB) compactIndex(ctx context.Context) error {
	if err := db.SyncIndex(ctx); err != nil {
		return err
	}
	rows, err := db.journal(ctx)
	if err != nil {
		return err
	}
	upto := map[string]int64{} // collection → last journaled removal
	for _, r := range rows {
		if r.op == "remove" {
			upto[r.collection] = max(upto[r.collection], r.seq)
		}
	}
	var errs []error
	for col, seq := range upto {
		if err := db.index.ensure(ctx, col); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := db.index.vi.Compact(ctx, col); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: compact %s: %w", col, err))
			continue
		}
		errs = append(errs, db.update(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM vector_journal WHERE collection_id = ? AND op = 'remove' AND seq <= ?`,
				col, seq)
			return err
		}))
	}
	return errors.Join(errs...)
}

// IndexReport is what RebuildIndex did.
type IndexReport struct {
	Collections int // collections checked
	Faces       int // faces in the database
	Added       int // faces missing from the index, added
	Removed     int // vectors without a face, removed
	Dropped     int // collections without an application, dropped
}

// RebuildIndex re-synchronises the vector index with the database: for
// every application it adds the faces the index lacks and removes the
// vectors that have no face; it drops the collections of applications that
// no longer exist; then it compacts, so the removals are physical. Writes
// may go on meanwhile; what they change is journaled as usual.
func (db *DB) RebuildIndex(ctx context.Context) (*IndexReport, error) {
	rep := &IndexReport{}
	cols, err := db.appCollections(ctx)
	if err != nil {
		return nil, err
	}
	have, err := db.index.vi.Collections(ctx)
	if err != nil {
		return nil, err
	}
	for _, col := range have {
		if cols[col] == "" {
			db.index.forget(col)
			if err := db.index.vi.Drop(ctx, col); err != nil {
				return rep, err
			}
			rep.Dropped++
		}
	}
	for col, appID := range cols {
		rep.Collections++
		if err := db.rebuildCollection(ctx, rep, col, appID); err != nil {
			return rep, err
		}
	}
	return rep, db.CompactIndex(ctx)
}

// rebuildCollection re-synchronises one collection, holding the writer lock
// so that no face is enrolled or erased while the two sides are compared.
func (db *DB) rebuildCollection(ctx context.Context, rep *IndexReport, col, appID string) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if err := db.index.ensure(ctx, col); err != nil {
		return err
	}
	want := map[string]bool{}
	rows, err := db.r.QueryContext(ctx, `SELECT facial_id FROM faces WHERE app_id = ?`, appID)
	if err != nil {
		return fmt.Errorf("sqlite: rebuild: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: rebuild: %w", err)
		}
		want[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: rebuild: %w", err)
	}
	rep.Faces += len(want)
	var extra []string
	missing := maps.Clone(want)
	if err := db.index.vi.IDs(ctx, col, func(ids []string) error {
		for _, id := range ids {
			if want[id] {
				delete(missing, id)
			} else {
				extra = append(extra, id)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if len(extra) > 0 {
		if err := db.index.vi.Remove(ctx, col, extra...); err != nil {
			return err
		}
		rep.Removed += len(extra)
		// Journal them so that CompactIndex erases them physically.
		if err := db.updateLocked(ctx, func(tx *sql.Tx) error {
			for _, id := range extra {
				if _, err := tx.ExecContext(ctx, db.journalSQL("remove"), col, id); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		if err := db.loadTemplates(ctx, appID, col, missing); err != nil {
			return err
		}
		rep.Added += len(missing)
	}
	return nil
}

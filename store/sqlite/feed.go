package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Several replicas on one PostgreSQL database each keep an in-process
// vector index. Triggers on faces write every enrollment and erasure to
// vector_feed (migration 0013) in the writing transaction; each replica
// polls the rows after the last one it applied and applies them to its own
// index. Write transactions are serialised by the writer lock, so seq order
// is commit order and a poll never skips a row that commits later with a
// smaller seq. An erasure that the index has not seen yet never reaches an
// answer: searches drop matches whose face is gone (Search re-scores from the database).

const (
	// feedInterval is the default poll period.
	feedInterval = 250 * time.Millisecond
	// feedBatch is how many feed rows one poll applies at most.
	feedBatch = 1000
	// feedRetention is how long feed rows are kept (purged with the
	// retention purge). A replica that could not poll for longer re-reads
	// every collection (rebuildAll).
	feedRetention = 10 * time.Minute
)

// feed is the state of the poller.
type feed struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	last     int64     // seq of the last row applied
	lastPoll time.Time // when a poll last succeeded
}

// feedHead returns the last seq of the feed. Read before the index is
// loaded, it makes what commits during the load applied afterwards.
func (db *DB) feedHead(ctx context.Context) (int64, error) {
	var last int64
	if err := db.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM vector_feed`).Scan(&last); err != nil {
		return 0, fmt.Errorf("postgres: vector feed: %w", err)
	}
	return last, nil
}

// followsFeed reports whether the store polls the feed: on PostgreSQL with
// the in-process index (a shared index such as Weaviate needs no feed).
func (db *DB) followsFeed() bool { return db.postgres && db.index.embedded != nil }

// startFeed starts the poller; stopFeed (from Close) stops it.
func (db *DB) startFeed(every time.Duration) {
	if !db.followsFeed() {
		return
	}
	if every <= 0 {
		every = feedInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.feed.cancel, db.feed.done = cancel, make(chan struct{})
	go func() {
		defer close(db.feed.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := db.PollFeed(ctx); err != nil && ctx.Err() == nil {
					db.index.log.Warn("vector feed: poll failed; retried", "err", err)
				}
			}
		}
	}()
}

func (db *DB) stopFeed() {
	if db.feed.cancel != nil {
		db.feed.cancel()
		<-db.feed.done
		db.feed.cancel = nil
	}
}

// PollFeed applies to the in-process index the enrollments and erasures
// that other replicas committed since the last poll. The store polls by
// itself every Options.FeedInterval; tests call it to avoid waiting. It
// does nothing on SQLite or with a shared (networked) index.
func (db *DB) PollFeed(ctx context.Context) error {
	if !db.followsFeed() {
		return nil
	}
	db.feed.mu.Lock()
	defer db.feed.mu.Unlock()
	if time.Since(db.feed.lastPoll) > feedRetention/2 {
		// Rows this replica has not applied may have been purged.
		if err := db.rebuildAll(ctx); err != nil {
			return err
		}
		db.feed.lastPoll = time.Now()
	}
	for {
		n, err := db.pollOnce(ctx)
		if err != nil {
			return err
		}
		db.feed.lastPoll = time.Now()
		if n < feedBatch {
			return nil
		}
	}
}

// pollOnce applies up to feedBatch rows; the caller holds db.feed.mu.
func (db *DB) pollOnce(ctx context.Context) (int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT seq, collection_id, facial_id, op FROM vector_feed
		WHERE seq > ? ORDER BY seq LIMIT ?`, db.feed.last, feedBatch)
	if err != nil {
		return 0, fmt.Errorf("postgres: vector feed: %w", err)
	}
	var batch []journalRow
	for rows.Next() {
		var r journalRow
		if err := rows.Scan(&r.seq, &r.collection, &r.facialID, &r.op); err != nil {
			rows.Close()
			return 0, fmt.Errorf("postgres: vector feed: %w", err)
		}
		batch = append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("postgres: vector feed: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	cols, err := db.appCollections(ctx)
	if err != nil {
		return 0, err
	}
	// Apply in order, a run of the same operation on one collection at a
	// time, so that an erasure after an enrollment wins.
	for i := 0; i < len(batch); {
		j := i
		var ids []string
		for j < len(batch) && batch[j].collection == batch[i].collection && batch[j].op == batch[i].op {
			ids = append(ids, batch[j].facialID)
			j++
		}
		col, op := batch[i].collection, batch[i].op
		appID := cols[col]
		switch {
		case appID == "":
			// The application is gone: its faces were removed before it.
			db.index.forget(col)
			_ = db.index.vi.Remove(ctx, col, ids...)
		case op == "add":
			if err := db.addFaces(ctx, appID, col, ids); err != nil {
				return 0, err
			}
		default:
			if err := db.index.ensure(ctx, col); err != nil {
				return 0, err
			}
			if err := db.index.vi.Remove(ctx, col, ids...); err != nil {
				return 0, err
			}
		}
		db.feed.last = batch[j-1].seq
		i = j
	}
	return len(batch), nil
}

// addFaces indexes the named faces that still exist.
func (db *DB) addFaces(ctx context.Context, appID, col string, ids []string) error {
	if err := db.index.ensure(ctx, col); err != nil {
		return err
	}
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return err
	}
	b, err := db.sealedTemplates(ctx, appID, ids)
	if err != nil {
		return err
	}
	return db.addSealed(ctx, appID, col, ak.key, b)
}

// rebuildAll re-synchronises every collection of the in-process index with
// the database (after a poll gap longer than the feed keeps rows); the
// caller holds db.feed.mu.
func (db *DB) rebuildAll(ctx context.Context) error {
	last, err := db.feedHead(ctx)
	if err != nil {
		return err
	}
	db.feed.last = last
	cols, err := db.appCollections(ctx)
	if err != nil {
		return err
	}
	rep := &IndexReport{}
	for col, appID := range cols {
		if err := db.rebuildCollection(ctx, rep, col, appID); err != nil {
			return err
		}
	}
	return nil
}

// purgeFeed deletes feed rows older than feedRetention.
func (db *DB) purgeFeed(ctx context.Context) error {
	if !db.postgres {
		return nil
	}
	return db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM vector_feed
			WHERE at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - ?`, feedRetention.Milliseconds())
		return err
	})
}

package sqlite_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/sqlite"
)

// BenchmarkStore measures the store alone (no engine): enrollments (a
// consent record, the sealed face, the audit entry and the event, one
// transaction each) and searches (index + the database check) of 512-d
// templates, 8 goroutines, on SQLite, and on PostgreSQL with one and two
// replicas (the goroutines split between two stores on one database).
//
//	go test ./store/sqlite -run '^$' -bench Store -benchtime 2000x
func BenchmarkStore(b *testing.B) {
	counts := []int{1}
	if pgtest.Enabled() {
		counts = append(counts, 2)
	}
	for _, n := range counts {
		name := "sqlite"
		if pgtest.Enabled() {
			name = "postgres"
		}
		if n == 2 {
			name += "-2replicas"
		}
		b.Run(name+"/enroll", func(b *testing.B) { benchStore(b, n, true) })
		b.Run(name+"/search", func(b *testing.B) { benchStore(b, n, false) })
	}
}

func benchStore(b *testing.B, replicas int, enroll bool) {
	f := &fixture{path: sqlite.TestTarget(b), key: make([]byte, 32), clock: newClock()}
	var dbs []*sqlite.DB
	for range replicas {
		db, err := sqlite.Open(ctx, f.path, sqlite.Options{MasterKey: f.key})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	app, _, err := dbs[0].CreateApp(ctx, likeness.AppCreate{Name: "Bench", Origins: []string{"https://example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const gallery = 1000
	tmpls := make([][]float32, gallery)
	for i := range tmpls {
		tmpls[i] = randTemplate(r, 512)
	}
	do := func(db *sqlite.DB, i int) error {
		if enroll {
			rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
			if err := db.CreateConsentRecord(ctx, rec); err != nil {
				return err
			}
			_, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: tmpls[i%gallery]})
			return err
		}
		_, err := db.Search(ctx, app.ID, tmpls[i%gallery], 1)
		return err
	}
	if !enroll {
		for i := range gallery {
			rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
			if err := dbs[0].CreateConsentRecord(ctx, rec); err != nil {
				b.Fatal(err)
			}
			if _, err := dbs[0].Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: tmpls[i]}); err != nil {
				b.Fatal(err)
			}
		}
		for _, db := range dbs {
			if err := db.PollFeed(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	const workers = 8
	lat := make([][]time.Duration, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		db := dbs[w%len(dbs)]
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := do(db, i); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/el.Seconds(), "ops/s")
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkFeedLag measures how long a face enrolled through one replica
// takes to reach another replica's in-process index (the feed is polled
// every 250 ms). PostgreSQL only.
//
//	go test ./store/sqlite -run '^$' -bench FeedLag -benchtime 20x
func BenchmarkFeedLag(b *testing.B) {
	if !pgtest.Enabled() {
		b.Skip("PostgreSQL only")
	}
	f := &fixture{path: sqlite.TestTarget(b), key: make([]byte, 32), clock: newClock()}
	var dbs [2]*sqlite.DB
	for i := range dbs {
		db, err := sqlite.Open(ctx, f.path, sqlite.Options{MasterKey: f.key})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	app, _, err := dbs[0].CreateApp(ctx, likeness.AppCreate{Name: "Bench", Origins: []string{"https://example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	var lags []time.Duration
	b.ResetTimer()
	for i := range b.N {
		rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
		if err := dbs[0].CreateConsentRecord(ctx, rec); err != nil {
			b.Fatal(err)
		}
		if _, err := dbs[0].Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: randTemplate(r, 512)}); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for dbs[1].Index().Len(app.CollectionID) != i+1 {
			if time.Since(t0) > 5*time.Second {
				b.Fatal("not fed within 5 s")
			}
			time.Sleep(time.Millisecond)
		}
		lags = append(lags, time.Since(t0))
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Milliseconds()), "max-ms")
}

package sqlite_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

// TestMeasureDeleteOrg times deleting an organization of MEASURE_FACES
// faces (512-d, one webhook endpoint) and destroying its keys; skipped
// unless MEASURE_FACES is set:
//
//	MEASURE_FACES=5000 go test ./store/sqlite/ -run TestMeasureDeleteOrg -count=1 -v
func TestMeasureDeleteOrg(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MEASURE_FACES"))
	if n <= 0 {
		t.Skip("set MEASURE_FACES=N to time deleting an organization of N faces")
	}
	f := newFixture(t)
	db := f.open(t)
	app, _, _ := hookApp(t, db, "Big")
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: hookConsent(t, db, app.ID), Template: randTemplate(r, 512)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("enrolled %d in %v", n, time.Since(start))
	start = time.Now()
	d, err := db.DeleteOrg(ctx, app.OrgID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DeleteOrg: %d faces erased in %v (index now %d)", d.FacesErased, time.Since(start), db.Index().Len(app.CollectionID))
	if d.FacesErased != n || db.Index().Len(app.CollectionID) != 0 {
		t.Errorf("erased %d of %d faces", d.FacesErased, n)
	}
	start = time.Now()
	m, err := db.FinishOrgDeletions(ctx, 0)
	if err != nil || m != 1 {
		t.Fatalf("FinishOrgDeletions: %d %v", m, err)
	}
	t.Logf("FinishOrgDeletions (wait 0): keys destroyed in %v", time.Since(start))
}

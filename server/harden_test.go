package server

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/sqlite"
)

// TestFaceIOPINFollowsPolicy: /setfacialidpincode applies the application's
// PIN policy, as the widget's enrollment does.
func TestFaceIOPINFollowsPolicy(t *testing.T) {
	h := newHarness(t, Limits{})
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	fid := h.enroll(h.apiKey, h.app.CollectionID, "", obama)
	other := h.enroll(h.apiKey, h.app.CollectionID, "", photo(t, "verify/face_recognition/fr_biden/biden.jpg"))
	h.setPolicy(map[string]any{"pinMinLength": 8, "rejectWeakPins": true, "uniquePins": true})
	for _, tc := range []struct {
		fid, pin string
		status   int
		want     string
	}{
		{fid, "1234", 400, "8 to 16 digits"},        // under the policy's minimum
		{fid, "48291", 400, "8 to 16 digits"},       // still under it
		{fid, "12345678", 400, "too easy to guess"}, // weak
		{fid, "77777777", 400, "too easy to guess"},
		{fid, "4829173a", 400, "8 to 16 digits"},
		{fid, "48291735", 200, `{"status":200}`},
		{other, "48291735", 409, "choose another"}, // unique PINs
		{other, "59302846", 200, `{"status":200}`},
	} {
		st, body, _ := h.call("POST", "/setfacialidpincode", "", map[string]any{"key": h.apiKey, "fid": tc.fid, "pin": tc.pin})
		if st != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("pin %q: %d %s, want %d %q", tc.pin, st, body, tc.status, tc.want)
		}
		mustNotContain(t, body, "$argon2id", tc.pin)
	}
	if pinOK(t, h, fid, "12345678") || !pinOK(t, h, fid, "48291735") || !pinOK(t, h, other, "59302846") {
		t.Error("a refused PIN was stored, or an accepted one was not")
	}
}

// roleRow is one row of docs/api.md's roles table.
type roleRow struct {
	methods       []string
	path          string // with {params}
	fields        []string
	member, owner bool
}

// docRoles parses the roles table of docs/api.md.
func docRoles(t *testing.T) []roleRow {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\s*\\| ((?:`[A-Z]+`/)?`[A-Z]+ /[^`]*`)(?: with (.*?))? \\| (yes|no) \\| (yes|no) \\|$")
	var rows []roleRow
	for _, line := range strings.Split(string(raw), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ep := strings.ReplaceAll(m[1], "`", "")
		sp := strings.LastIndex(ep, " ")
		r := roleRow{methods: strings.Split(ep[:sp], "/"), path: ep[sp+1:], member: m[3] == "yes", owner: m[4] == "yes"}
		for _, f := range strings.Split(m[2], ",") {
			if f = strings.Trim(strings.TrimSpace(f), "`"); f != "" {
				r.fields = append(r.fields, f)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) < 30 {
		t.Fatalf("found %d rows in the roles table of docs/api.md", len(rows))
	}
	return rows
}

// TestRolesTableMatchesCode sends every route of the API with a member and
// an owner key and checks that the role is refused exactly where
// docs/api.md's roles table says so; every route is in the table and every
// row is a route.
func TestRolesTableMatchesCode(t *testing.T) {
	h := newHarness(t, Limits{APIRate: 1000, APIBurst: 1000})
	st, body, _ := h.call("POST", "/v1/keys", h.apiKey, map[string]any{"role": "member"})
	if st != 201 {
		t.Fatalf("member key: %d %s", st, body)
	}
	var mk struct{ Key string }
	json.Unmarshal(body, &mk)
	keys := map[string]string{"member": mk.Key, "owner": h.apiKey}
	fieldBody := map[string]any{"name": "Shop", "retentionDays": 30, "storeImages": false}
	params := strings.NewReplacer("{cid}", h.app.CollectionID, "{fid}", uuid.NewString(), "{kid}", uuid.NewString(),
		"{wid}", uuid.NewString(), "{eid}", uuid.NewString())

	documented := map[string]bool{}
	for _, r := range docRoles(t) {
		for _, m := range r.methods {
			documented[m+" "+r.path] = true
			bodies := []any{map[string]any{}}
			if len(r.fields) > 0 {
				bodies = nil
				for _, f := range r.fields {
					bodies = append(bodies, map[string]any{f: fieldBody[f]})
				}
			}
			for role, key := range keys {
				allowed := r.member
				if role == "owner" {
					allowed = r.owner
				}
				for _, b := range bodies {
					path := params.Replace(r.path)
					var st int
					var reply []byte
					if strings.HasPrefix(path, "/v1/") {
						st, reply, _ = h.call(m, path, key, b)
					} else { // FACEIO endpoints take the key as a parameter
						st, reply, _ = h.call(m, path+"?key="+key, "", nil)
					}
					forbidden := st == 403 && strings.Contains(string(reply), `"forbidden"`)
					if st == 401 || st == 404 && strings.Contains(string(reply), "Not Found") || forbidden == allowed {
						t.Errorf("%s %s %v as %s: %d %s; the table says allowed=%v", m, r.path, b, role, st, reply, allowed)
					}
				}
			}
		}
	}
	for _, rt := range h.srv.echo.Routes() {
		if rt.Path == "/v1/openapi.json" || !strings.HasPrefix(rt.Path, "/v1/") && !slices.Contains(
			[]string{"/deletefacialid", "/setfacialidpayload", "/setfacialidpincode", "/checkfacialid"}, rt.Path) {
			continue
		}
		p := regexp.MustCompile(`:(\w+)`).ReplaceAllString(rt.Path, "{$1}")
		if !documented[rt.Method+" "+p] {
			t.Errorf("%s %s is not in docs/api.md's roles table", rt.Method, p)
		}
		delete(documented, rt.Method+" "+p)
	}
	for k := range documented {
		t.Errorf("docs/api.md's roles table names %s, which is not a route", k)
	}
}

// TestPINHashingIsBounded: many PIN sets at once run no more argon2id
// hashes than the shared pool's size; those that wait past its deadline get
// 503 with Retry-After, and nothing is lost for the others.
func TestPINHashingIsBounded(t *testing.T) {
	pool := crypt.NewPool(2, 150*time.Millisecond)
	h := newHarnessStore(t, Limits{APIRate: 1000, APIBurst: 1000}, func(o *sqlite.Options) { o.Hashing = pool })
	fid := h.enroll(h.apiKey, h.app.CollectionID, "", photo(t, "verify/face_recognition/fr_obama/obama.jpg"))
	const n = 24
	var wg sync.WaitGroup
	statuses := make([]int, n)
	retry := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body, hdr := h.call("POST", "/setfacialidpincode", "", map[string]any{"key": h.apiKey, "fid": fid, "pin": fmt.Sprintf("5%07d", 1379*i+4821)})
			statuses[i], retry[i] = st, hdr.Get("Retry-After")
			if st != 200 && st != 503 {
				t.Errorf("status %d %s", st, body)
			}
			mustNotContain(t, body)
		}()
	}
	wg.Wait()
	ok, busy := 0, 0
	for i, st := range statuses {
		switch st {
		case 200:
			ok++
		case 503:
			busy++
			if retry[i] == "" {
				t.Error("503 without Retry-After")
			}
		}
	}
	if pool.Peak() > pool.Size() || pool.Peak() == 0 {
		t.Errorf("peak %d hashes at once, pool size %d", pool.Peak(), pool.Size())
	}
	if ok < 2 || busy == 0 {
		t.Errorf("%d set, %d refused as busy: want some of each", ok, busy)
	}
	t.Logf("%d PIN sets: %d done, %d got 503; at most %d hashes at once", n, ok, busy, pool.Peak())
}

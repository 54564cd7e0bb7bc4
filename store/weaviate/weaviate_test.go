package weaviate

import (
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/vecindex/synth"
	"github.com/likeness/likeness/store/vecindex/vectest"
	"github.com/likeness/likeness/store/weaviate/weaviatetest"
)

func open(t *testing.T, s *weaviatetest.Server) *Index {
	t.Helper()
	ix, err := Open(context.Background(), Options{URL: s.URL, APIKey: s.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestContract(t *testing.T) {
	s := weaviatetest.New(t)
	vectest.Run(t, func(t *testing.T) likeness.VectorIndex { return open(t, s) })
}

func TestAuthRequired(t *testing.T) {
	s := weaviatetest.New(t)
	_, err := Open(context.Background(), Options{URL: s.URL, APIKey: "wrong"})
	if err == nil {
		t.Fatal("Open succeeded with a wrong API key")
	}
}

// floatBytes returns v as the little-endian float32s Weaviate stores.
func floatBytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// onDisk returns the files under dir that contain needle.
func onDisk(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestErasureIsPhysical proves that a removed template's bytes leave
// Weaviate's data directory: only the rotated form is ever written; a
// removal alone leaves it in the LSM files (Weaviate deletes logically);
// Compact deletes it; dropping a collection deletes all of it.
func TestErasureIsPhysical(t *testing.T) {
	s := weaviatetest.New(t)
	ctx := context.Background()
	ix := open(t, s)
	defer ix.Close()
	col, secret := vectest.Collection(), vectest.Secret()
	if err := ix.Ensure(ctx, col, secret); err != nil {
		t.Fatal(err)
	}
	const dim = 512
	g := synth.New(77, dim)
	vecs := map[string][]float32{}
	var victim string
	for i := range 60 {
		id := uuid.NewString()
		vecs[id] = g.Identity()
		if err := ix.Add(ctx, col, id, vecs[id]); err != nil {
			t.Fatal(err)
		}
		if i == 17 {
			victim = id
		}
	}
	rot, err := newRotation(secret, 0, dim)
	if err != nil {
		t.Fatal(err)
	}
	// 16 components from the middle: unique to this vector.
	stored := floatBytes(rot.apply(vecs[victim]))[1024 : 1024+64]
	raw := floatBytes(vecs[victim])[1024 : 1024+64]
	if f := onDisk(t, s.DataDir, stored); len(f) == 0 {
		t.Fatal("the stored (rotated) vector is not on disk: the search would prove nothing")
	} else {
		t.Logf("before removal the rotated vector is in %v", rel(s.DataDir, f))
	}
	if f := onDisk(t, s.DataDir, raw); len(f) > 0 {
		t.Fatalf("the unprotected template is on disk in %v", f)
	}

	// An enrolment made long ago sits in a flushed segment, not the WAL.
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("after a restart (memtable flushed) the rotated vector is in %v", rel(s.DataDir, onDisk(t, s.DataDir, stored)))
	if err := ix.Remove(ctx, col, victim); err != nil {
		t.Fatal(err)
	}
	if m, _ := ix.Search(ctx, col, vecs[victim], 1); len(m) > 0 && m[0].FacialID == victim {
		t.Fatal("a removed vector is still found")
	}
	t.Logf("after the removal the bytes are in %v (Weaviate deletes logically)", rel(s.DataDir, onDisk(t, s.DataDir, stored)))
	// A restart flushes the memtable into a segment: still there.
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("after the removal and a restart the bytes are in %v", rel(s.DataDir, onDisk(t, s.DataDir, stored)))
	if err := ix.Compact(ctx, col); err != nil {
		t.Fatal(err)
	}
	if f := onDisk(t, s.DataDir, stored); len(f) > 0 {
		t.Fatalf("after Compact the removed vector is still on disk in %v", rel(s.DataDir, f))
	}
	// The others are still there and found (under the new epoch's rotation).
	delete(vecs, victim)
	if n, err := ix.Len(ctx, col); err != nil || n != len(vecs) {
		t.Fatalf("Len after Compact = %d, %v; want %d", n, err, len(vecs))
	}
	for id, v := range vecs {
		if m, err := ix.Search(ctx, col, v, 1); err != nil || len(m) != 1 || m[0].FacialID != id || m[0].Similarity < 0.999 {
			t.Fatalf("after Compact %s: %v, %v", id, m, err)
		}
	}
	// The bytes of the survivors under the old rotation are gone too: the
	// old epoch's files are deleted as a whole.
	for _, v := range vecs {
		if f := onDisk(t, s.DataDir, floatBytes(rot.apply(v))[1024:1024+64]); len(f) > 0 {
			t.Fatalf("the old tenant's files remain: %v", rel(s.DataDir, f))
		}
		break
	}

	// Dropping the collection deletes every vector's bytes.
	c, _ := ix.get(col)
	objs, err := ix.c.Data().ObjectsGetter().WithClassName(ix.class).WithTenant(c.tenant).WithLimit(1).WithVector().Do(ctx)
	if err != nil || len(objs) != 1 {
		t.Fatalf("read back a kept vector: %v", err)
	}
	kept := floatBytes(objs[0].Vector)[1024 : 1024+64]
	if f := onDisk(t, s.DataDir, kept); len(f) == 0 {
		t.Fatal("a kept vector is not on disk under the new rotation")
	}
	if err := ix.Drop(ctx, col); err != nil {
		t.Fatal(err)
	}
	if f := onDisk(t, s.DataDir, kept); len(f) > 0 {
		t.Fatalf("after Drop a vector is still on disk in %v", rel(s.DataDir, f))
	}
}

func rel(dir string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i], _ = filepath.Rel(dir, p)
	}
	return out
}

// TestUnlinkable: the same face enrolled in two collections is stored as
// unrelated vectors, and neither is the template.
func TestUnlinkable(t *testing.T) {
	g := synth.New(5, 512)
	v := g.Identity()
	a, _ := newRotation(vectest.Secret(), 0, 512)
	b, _ := newRotation(vectest.Secret(), 0, 512)
	va, vb := a.apply(v), b.apply(v)
	cos := func(x, y []float32) float64 {
		var s float64
		for i := range x {
			s += float64(x[i]) * float64(y[i])
		}
		return s
	}
	if c := cos(va, vb); math.Abs(c) > 0.2 {
		t.Fatalf("one face in two collections: stored vectors have cosine %.3f", c)
	}
	if c := cos(va, v); math.Abs(c) > 0.2 {
		t.Fatalf("stored vector has cosine %.3f with the template", c)
	}
	// Rotations keep similarities and invert exactly.
	w := g.Probe(v, 0.6)
	if d := cos(a.apply(w), va) - cos(w, v); math.Abs(d) > 1e-5 {
		t.Fatalf("rotation changed a similarity by %g", d)
	}
	back := a.invert(va)
	for i := range v {
		if math.Abs(float64(back[i]-v[i])) > 1e-5 {
			t.Fatalf("invert(apply(v)) differs at %d: %v vs %v", i, back[i], v[i])
		}
	}
	// The same secret and epoch give the same rotation; another epoch does not.
	sec := vectest.Secret()
	r1, _ := newRotation(sec, 3, 64)
	r2, _ := newRotation(sec, 3, 64)
	r3, _ := newRotation(sec, 4, 64)
	if !bytes.Equal(floatBytes(r1.m), floatBytes(r2.m)) || bytes.Equal(floatBytes(r1.m), floatBytes(r3.m)) {
		t.Fatal("rotations are not derived from secret and epoch")
	}
}

// TestInterruptedCompaction: a compaction cut short (the process dies after
// creating the next tenant and copying part of it) leaves the old tenant
// current; Ensure removes the partial copy, and a later Compact succeeds.
func TestInterruptedCompaction(t *testing.T) {
	s := weaviatetest.New(t)
	ctx := context.Background()
	ix := open(t, s)
	col, secret := vectest.Collection(), vectest.Secret()
	if err := ix.Ensure(ctx, col, secret); err != nil {
		t.Fatal(err)
	}
	g := synth.New(8, 64)
	vecs := map[string][]float32{}
	for range 30 {
		id := uuid.NewString()
		vecs[id] = g.Identity()
		if err := ix.Add(ctx, col, id, vecs[id]); err != nil {
			t.Fatal(err)
		}
	}
	// Simulate the interruption: the next epoch's tenant with a partial copy.
	next := &target{tenant: tenantName(col, 1), epoch: 1}
	next.rot, _ = newRotation(secret, 1, 64)
	if err := ix.c.Schema().TenantsCreator().WithClassName(ix.class).WithTenants(models.Tenant{Name: next.tenant, ActivityStatus: "HOT"}).Do(ctx); err != nil {
		t.Fatal(err)
	}
	for id, v := range vecs {
		if err := ix.put(ctx, []*models.Object{ix.object(next.tenant, id, next.rot.apply(v))}); err != nil {
			t.Fatal(err)
		}
		break
	}
	ix.Close()

	ix = open(t, s)
	defer ix.Close()
	if err := ix.Ensure(ctx, col, secret); err != nil {
		t.Fatal(err)
	}
	if cols, _ := ix.Collections(ctx); len(cols) != 1 {
		t.Fatalf("Collections = %v", cols)
	}
	epochs, _ := ix.epochs(ctx, col)
	if len(epochs) != 1 || epochs[0] != 0 {
		t.Fatalf("epochs after Ensure = %v, want [0]", epochs)
	}
	if n, _ := ix.Len(ctx, col); n != len(vecs) {
		t.Fatalf("Len = %d, want %d", n, len(vecs))
	}
	if err := ix.Compact(ctx, col); err != nil {
		t.Fatal(err)
	}
	for id, v := range vecs {
		if m, err := ix.Search(ctx, col, v, 1); err != nil || len(m) != 1 || m[0].FacialID != id {
			t.Fatalf("after recovery and Compact %s: %v, %v", id, m, err)
		}
	}
}

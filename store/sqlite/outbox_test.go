package sqlite_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

// hookApp creates an application with one webhook endpoint and returns it
// with the endpoint's ID and secret.
func hookApp(t *testing.T, db *sqlite.DB, name string) (*likeness.Application, string, string) {
	t.Helper()
	app, sec, err := db.CreateApp(ctx, likeness.AppCreate{Name: name, Origins: []string{"https://shop.example"},
		WebhookURL: "https://hooks.example/" + strings.ToLower(strings.ReplaceAll(name, " ", "-"))})
	if err != nil {
		t.Fatal(err)
	}
	eps, err := db.WebhookEndpoints(ctx, app.ID)
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints %v, %v", eps, err)
	}
	return app, eps[0].ID, sec.WebhookSecret
}

// claimAll leases every delivery due at now for a minute.
func claimAll(t *testing.T, db *sqlite.DB, now time.Time) []*likeness.WebhookTask {
	t.Helper()
	tasks, err := db.ClaimWebhookTasks(ctx, now, now.Add(time.Minute), 500)
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

func complete(t *testing.T, db *sqlite.DB, rs ...*likeness.WebhookResult) []likeness.WebhookDisabled {
	t.Helper()
	d, err := db.CompleteWebhookTasks(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func types(tasks []*likeness.WebhookTask) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.Event.Type)
	}
	return out
}

func hookConsent(t *testing.T, db *sqlite.DB, appID string) string {
	t.Helper()
	rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: appID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
	if err := db.CreateConsentRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

func hookEnroll(t *testing.T, db *sqlite.DB, appID, externalID string, payload string) *likeness.Face {
	t.Helper()
	in := likeness.Enrollment{AppID: appID, ConsentID: hookConsent(t, db, appID), ExternalID: externalID,
		Template: randTemplate(rand.New(rand.NewPCG(1, uint64(len(externalID)))), 16)}
	if payload != "" {
		in.Payload = json.RawMessage(payload)
	}
	face, err := db.Enroll(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return face
}

// TestOutboxFollowsTheChanges: each change writes its event; a change that
// fails writes none.
func TestOutboxFollowsTheChanges(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, endpointID, _ := hookApp(t, db, "Shop")
	tmpl := randTemplate(rand.New(rand.NewPCG(1, 2)), 16)

	_, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: "no-such-consent", Template: tmpl})
	wantCode(t, err, likeness.ECONSENT)
	wantCode(t, db.TouchAuth(ctx, app.ID, uuid.NewString()), likeness.ENOTFOUND)
	wantCode(t, db.DeleteFace(ctx, app.ID, uuid.NewString(), likeness.ReasonAPI), likeness.ENOTFOUND)
	if got := claimAll(t, db, f.clock.Now()); len(got) != 0 {
		t.Fatalf("failed changes left events %v", types(got))
	}

	consentID := hookConsent(t, db, app.ID)
	face, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: consentID, Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.TouchAuth(ctx, app.ID, face.FacialID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.DeleteFace(ctx, app.ID, face.FacialID, "because"), likeness.EINVALID)
	if _, err := db.Face(ctx, app.ID, face.FacialID); err != nil {
		t.Fatalf("a refused deletion deleted the face: %v", err)
	}
	if err := db.DeleteFace(ctx, app.ID, face.FacialID, likeness.ReasonConsole); err != nil {
		t.Fatal(err)
	}
	tasks := claimAll(t, db, f.clock.Now())
	want := []string{likeness.EventConsentRecorded, likeness.EventEnrolled, likeness.EventAuthenticated, likeness.EventDeleted}
	if strings.Join(types(tasks), " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", types(tasks), want)
	}
	ids := map[string]bool{}
	for _, task := range tasks {
		ev := task.Event
		if !strings.HasPrefix(ev.ID, sqlite.EventIDPrefix) || len(ev.ID) != len(sqlite.EventIDPrefix)+27 || ids[ev.ID] {
			t.Errorf("event ID %q", ev.ID)
		}
		ids[ev.ID] = true
		if ev.AppID != app.ID || ev.PublicID != app.PublicID || task.EndpointID != endpointID || task.Attempt != 1 ||
			len(task.Secrets) != 1 || !strings.HasPrefix(task.Secrets[0], "whsec_") || task.URL != "https://hooks.example/shop" {
			t.Errorf("task %+v", task)
		}
		if ev.OccurredAt.IsZero() || ev.ExternalID != "" || ev.Payload != nil {
			t.Errorf("event %+v", ev)
		}
	}
	if tasks[0].Event.ConsentID != consentID || tasks[1].Event.ConsentID != consentID || tasks[1].Event.FacialID != face.FacialID ||
		tasks[2].Event.FacialID != face.FacialID || tasks[3].Event.Reason != likeness.ReasonConsole {
		t.Errorf("event data %+v %+v %+v %+v", tasks[0].Event, tasks[1].Event, tasks[2].Event, tasks[3].Event)
	}
	ds, err := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{})
	if err != nil || len(ds) != 4 || ds[0].EventType != likeness.EventDeleted || ds[0].Status != likeness.DeliveryPending || ds[0].Attempts != 1 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
}

// TestPayloadOptInAndErasure: external ID and payload only when the
// application opts in; a deletion erases them from earlier events.
func TestPayloadOptInAndErasure(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, _, _ := hookApp(t, db, "Shop")
	const payload = `{"plan":"gold-7731"}`

	hookEnroll(t, db, app.ID, "user-1", payload)
	for _, task := range claimAll(t, db, f.clock.Now()) {
		if task.Event.ExternalID != "" || task.Event.Payload != nil {
			t.Fatalf("%s carries data without opt-in: %+v", task.Event.Type, task.Event)
		}
	}

	if on, err := db.WebhookIncludePayload(ctx, app.ID); err != nil || on {
		t.Fatalf("include payload by default: %v, %v", on, err)
	}
	if err := db.SetWebhookIncludePayload(ctx, app.ID, true); err != nil {
		t.Fatal(err)
	}
	if on, err := db.WebhookIncludePayload(ctx, app.ID); err != nil || !on {
		t.Fatalf("include payload: %v, %v", on, err)
	}
	wantCode(t, db.SetWebhookIncludePayload(ctx, "no-such-app", true), likeness.ENOTFOUND)
	_, err := db.WebhookIncludePayload(ctx, "no-such-app")
	wantCode(t, err, likeness.ENOTFOUND)

	kept := hookEnroll(t, db, app.ID, "user-2", payload)
	if err := db.TouchAuth(ctx, kept.FacialID, kept.FacialID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatal(err)
	}
	if err := db.TouchAuth(ctx, app.ID, kept.FacialID); err != nil {
		t.Fatal(err)
	}
	tasks := claimAll(t, db, f.clock.Now())
	if strings.Join(types(tasks), " ") != "consent.recorded facialid.enrolled facialid.authenticated" {
		t.Fatalf("events %v", types(tasks))
	}
	for _, task := range tasks[1:] {
		if task.Event.ExternalID != "user-2" || string(task.Event.Payload) != payload {
			t.Errorf("%s: %+v", task.Event.Type, task.Event)
		}
	}

	// Erased before delivery: the pending events lose the data too.
	gone := hookEnroll(t, db, app.ID, "user-3", payload)
	if err := db.TouchAuth(ctx, app.ID, gone.FacialID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteFace(ctx, app.ID, gone.FacialID, likeness.ReasonSelfService); err != nil {
		t.Fatal(err)
	}
	tasks = claimAll(t, db, f.clock.Now())
	if strings.Join(types(tasks), " ") != "consent.recorded facialid.enrolled facialid.authenticated facialid.deleted" {
		t.Fatalf("events %v", types(tasks))
	}
	for _, task := range tasks[1:3] {
		if task.Event.ExternalID != "" || task.Event.Payload != nil {
			t.Errorf("%s still carries the erased face's data: %+v", task.Event.Type, task.Event)
		}
	}
	del := tasks[3].Event
	if del.ExternalID != "user-3" || del.Payload != nil || del.Reason != likeness.ReasonSelfService || del.FacialID != gone.FacialID {
		t.Errorf("deleted event %+v", del)
	}
	if strings.Contains(string(f.fileBytes(t)), "gold-7731") {
		t.Error("a payload is in the database file in the clear")
	}
}

// TestLeaseExpiry: a claimed delivery is not claimed again until its lease
// expires; then it is, as a new attempt, and the old lease's result no
// longer changes it.
func TestLeaseExpiry(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, endpointID, _ := hookApp(t, db, "Shop")
	hookConsent(t, db, app.ID)
	now := f.clock.Now()
	first, err := db.ClaimWebhookTasks(ctx, now, now.Add(30*time.Second), 10)
	if err != nil || len(first) != 1 || first[0].Attempt != 1 {
		t.Fatalf("claim %v, %v", first, err)
	}
	if again := claimAll(t, db, now.Add(29*time.Second)); len(again) != 0 {
		t.Fatalf("claimed during the lease: %v", types(again))
	}
	if due, ok, err := db.NextWebhookDue(ctx); err != nil || !ok || !due.Equal(now.Add(30*time.Second)) {
		t.Fatalf("next due %v %v %v", due, ok, err)
	}
	// The worker died: after the lease the delivery is due again.
	second := claimAll(t, db, now.Add(31*time.Second))
	if len(second) != 1 || second[0].Attempt != 2 || second[0].Event.ID != first[0].Event.ID || second[0].Lease == first[0].Lease {
		t.Fatalf("second claim %+v", second)
	}
	// A late result under the expired lease is logged but changes nothing.
	complete(t, db, &likeness.WebhookResult{Task: first[0], StartedAt: now, StatusCode: 200, Succeeded: true})
	ds, _ := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{})
	if len(ds) != 1 || ds[0].Status != likeness.DeliveryPending {
		t.Fatalf("deliveries %+v", ds)
	}
	complete(t, db, &likeness.WebhookResult{Task: second[0], StartedAt: now.Add(31 * time.Second), Latency: 12 * time.Millisecond,
		StatusCode: 204, Succeeded: true, Response: strings.Repeat("x", 1000)})
	ds, _ = db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{})
	if len(ds) != 1 || ds[0].Status != likeness.DeliverySucceeded || ds[0].Attempts != 2 || ds[0].LastStatusCode != 204 ||
		ds[0].NextAttemptAt != nil || ds[0].LastError != "" {
		t.Fatalf("deliveries %+v", ds[0])
	}
	as, err := db.WebhookAttempts(ctx, app.ID, endpointID, likeness.WebhookLogQuery{})
	if err != nil || len(as) != 2 || as[0].Attempt != 2 || as[0].Latency != 12*time.Millisecond || as[0].StatusCode != 204 ||
		len(as[0].Response) != 256 || as[1].Attempt != 1 || as[0].EventID != first[0].Event.ID {
		t.Fatalf("attempts %+v, %v", as, err)
	}
	if _, ok, _ := db.NextWebhookDue(ctx); ok {
		t.Fatal("something is still due")
	}
}

// TestRetryFailAndDisable: retries wait until RetryAt; an endpoint failing
// for the whole period is disabled, its pending deliveries fail, and it gets
// no new deliveries; a success resets the streak; 410 disables at once.
func TestRetryFailAndDisable(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	const days5 = 5 * 24 * time.Hour
	app, endpointID, _ := hookApp(t, db, "Shop")
	fail := func(task *likeness.WebhookTask, retry time.Duration) *likeness.WebhookResult {
		now := f.clock.Now()
		r := &likeness.WebhookResult{Task: task, StartedAt: now, StatusCode: 500, Error: "Unexpected status 500.",
			DisableIfFailingBefore: now.Add(-days5)}
		if retry > 0 {
			r.RetryAt = now.Add(retry)
		}
		return r
	}
	hookConsent(t, db, app.ID)
	tasks := claimAll(t, db, f.clock.Now())
	if d := complete(t, db, fail(tasks[0], time.Hour)); len(d) != 0 {
		t.Fatalf("disabled %v", d)
	}
	if got := claimAll(t, db, f.clock.Now().Add(59*time.Minute)); len(got) != 0 {
		t.Fatal("retried early")
	}
	f.clock.Advance(time.Hour)
	tasks = claimAll(t, db, f.clock.Now())
	if len(tasks) != 1 || tasks[0].Attempt != 2 {
		t.Fatalf("retry %+v", tasks)
	}
	complete(t, db, fail(tasks[0], 0)) // no more retries: failed
	ds, _ := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{})
	if ds[0].Status != likeness.DeliveryFailed || ds[0].LastStatusCode != 500 || ds[0].LastError == "" {
		t.Fatalf("delivery %+v", ds[0])
	}

	// Five days of failures later: disabled.
	f.clock.Advance(days5)
	hookConsent(t, db, app.ID)
	hookConsent(t, db, app.ID)
	tasks = claimAll(t, db, f.clock.Now())
	disabled := complete(t, db, fail(tasks[0], time.Hour))
	if len(disabled) != 1 || disabled[0].EndpointID != endpointID || disabled[0].AppID != app.ID ||
		!strings.Contains(disabled[0].Reason, "failed since") {
		t.Fatalf("disabled %+v", disabled)
	}
	ep, err := db.WebhookEndpoint(ctx, app.ID, endpointID)
	if err != nil || ep.Enabled || ep.DisabledAt == nil || ep.DisabledReason != disabled[0].Reason || ep.Secret != "" {
		t.Fatalf("endpoint %+v, %v", ep, err)
	}
	complete(t, db, fail(tasks[1], time.Hour)) // in flight at the time: changes nothing
	ds, _ = db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{})
	for _, d := range ds {
		if d.Status != likeness.DeliveryFailed {
			t.Errorf("delivery %+v of a disabled endpoint", d)
		}
	}
	hookConsent(t, db, app.ID)
	if got := claimAll(t, db, f.clock.Now().Add(time.Hour)); len(got) != 0 {
		t.Fatalf("a disabled endpoint got %v", types(got))
	}
	if n, _ := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{}); len(n) != len(ds) {
		t.Fatal("a disabled endpoint got a delivery")
	}

	// A success in between resets the streak.
	app2, ep2, _ := hookApp(t, db, "Other")
	hookConsent(t, db, app2.ID)
	complete(t, db, fail(claimAll(t, db, f.clock.Now())[0], time.Hour))
	f.clock.Advance(4 * 24 * time.Hour)
	complete(t, db, &likeness.WebhookResult{Task: claimAll(t, db, f.clock.Now())[0], StartedAt: f.clock.Now(), StatusCode: 200, Succeeded: true})
	f.clock.Advance(2 * 24 * time.Hour)
	hookConsent(t, db, app2.ID)
	if d := complete(t, db, fail(claimAll(t, db, f.clock.Now())[0], time.Hour)); len(d) != 0 {
		t.Fatalf("disabled after a success: %v", d)
	}
	// 410 Gone disables at once.
	f.clock.Advance(2 * time.Hour)
	r := fail(claimAll(t, db, f.clock.Now())[0], 0)
	r.StatusCode, r.Disable = 410, "The endpoint answered 410 Gone."
	if d := complete(t, db, r); len(d) != 1 || d[0].EndpointID != ep2 || d[0].Reason != r.Disable {
		t.Fatalf("disabled %v", d)
	}
	if got := auditActions(t, db, app2); strings.Join(got, ",") != sqlite.AuditWebhookDisabled+" system:webhooks" {
		t.Fatalf("audit %v", got)
	}

	// The owner enables it again: new events are delivered.
	yes := true
	ep, err = db.UpdateWebhookEndpoint(ctx, app2.ID, ep2, likeness.WebhookEndpointUpdate{Enabled: &yes})
	if err != nil || !ep.Enabled || ep.DisabledAt != nil || ep.DisabledReason != "" {
		t.Fatalf("enable: %+v, %v", ep, err)
	}
	hookConsent(t, db, app2.ID)
	if got := claimAll(t, db, f.clock.Now()); len(got) != 1 {
		t.Fatalf("after enabling: %v", types(got))
	}
}

// auditActions returns the audit trail of an application's organization as
// "action actor" lines.
func auditActions(t *testing.T, db *sqlite.DB, app *likeness.Application) []string {
	t.Helper()
	es, err := db.AuditEntries(ctx, app.OrgID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "webhook.") && e.AppID == app.ID {
			out = append(out, e.Action+" "+e.Actor)
		}
	}
	return out
}

// TestSecretRotation: both secrets sign for 24 hours, then only the new one.
func TestSecretRotation(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, endpointID, old := hookApp(t, db, "Shop")
	ep, err := db.RotateWebhookSecret(ctx, app.ID, endpointID)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Secret == old || !strings.HasPrefix(ep.Secret, "whsec_") || ep.PreviousSecretExpiresAt == nil ||
		!ep.PreviousSecretExpiresAt.Equal(f.clock.Now().Add(sqlite.SecretRotationOverlap)) {
		t.Fatalf("rotated %+v", ep)
	}
	hookConsent(t, db, app.ID)
	tasks := claimAll(t, db, f.clock.Now())
	if len(tasks) != 1 || len(tasks[0].Secrets) != 2 || tasks[0].Secrets[0] != ep.Secret || tasks[0].Secrets[1] != old {
		t.Fatalf("secrets during rotation %v", tasks[0].Secrets)
	}
	eps, _ := db.WebhookEndpoints(ctx, app.ID)
	if eps[0].Secret != ep.Secret {
		t.Fatal("WebhookEndpoints does not give the new secret")
	}
	complete(t, db, &likeness.WebhookResult{Task: tasks[0], StartedAt: f.clock.Now(), StatusCode: 200, Succeeded: true})
	f.clock.Advance(sqlite.SecretRotationOverlap + time.Second)
	hookConsent(t, db, app.ID)
	tasks = claimAll(t, db, f.clock.Now())
	if len(tasks) != 1 || len(tasks[0].Secrets) != 1 || tasks[0].Secrets[0] != ep.Secret {
		t.Fatalf("secrets after rotation %v", tasks)
	}
	if got, _ := db.WebhookEndpoint(ctx, app.ID, endpointID); got.PreviousSecretExpiresAt != nil {
		t.Fatal("the previous secret has not expired")
	}
	// Two rotations in a row: the newest two sign.
	ep2, _ := db.RotateWebhookSecret(ctx, app.ID, endpointID)
	ep3, _ := db.RotateWebhookSecret(ctx, app.ID, endpointID)
	hookConsent(t, db, app.ID)
	tasks = claimAll(t, db, f.clock.Now())
	if len(tasks) != 1 || len(tasks[0].Secrets) != 2 || tasks[0].Secrets[0] != ep3.Secret || tasks[0].Secrets[1] != ep2.Secret {
		t.Fatalf("secrets %v", tasks[0].Secrets)
	}
	_, err = db.RotateWebhookSecret(ctx, app.ID, "no-such-endpoint")
	wantCode(t, err, likeness.ENOTFOUND)
	other, _, _ := hookApp(t, db, "Other")
	_, err = db.RotateWebhookSecret(ctx, other.ID, endpointID)
	wantCode(t, err, likeness.ENOTFOUND)
}

// TestWebhookEndpoints: create, read, update, filter and delete, each
// confined to its application.
func TestWebhookEndpoints(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, first, _ := hookApp(t, db, "Shop")
	other, otherEP, _ := hookApp(t, db, "Other")

	for _, in := range []likeness.WebhookEndpointCreate{
		{URL: "ftp://x.example/"}, {URL: "/relative"}, {URL: "https://user:pw@x.example/"},
		{URL: "https://x.example/", Events: []string{"facialid.exploded"}},
		{URL: "https://x.example/", Events: []string{likeness.EventTest}},
	} {
		_, err := db.CreateWebhookEndpoint(ctx, app.ID, in)
		wantCode(t, err, likeness.EINVALID)
	}
	_, err := db.CreateWebhookEndpoint(ctx, "no-such-app", likeness.WebhookEndpointCreate{URL: "https://x.example/"})
	wantCode(t, err, likeness.ENOTFOUND)
	f.clock.Advance(time.Second) // endpoints are listed oldest first

	ep, err := db.CreateWebhookEndpoint(ctx, app.ID, likeness.WebhookEndpointCreate{URL: "https://crm.example/hook",
		Events: []string{likeness.EventDeleted, likeness.EventPurged, likeness.EventDeleted}})
	if err != nil {
		t.Fatal(err)
	}
	if !ep.Enabled || !strings.HasPrefix(ep.Secret, "whsec_") || strings.Join(ep.Events, ",") != "facialid.deleted,facialid.purged" {
		t.Fatalf("created %+v", ep)
	}
	got, err := db.WebhookEndpoint(ctx, app.ID, ep.ID)
	if err != nil || got.Secret != "" || got.URL != ep.URL || strings.Join(got.Events, ",") != "facialid.deleted,facialid.purged" {
		t.Fatalf("read %+v, %v", got, err)
	}
	_, err = db.WebhookEndpoint(ctx, other.ID, ep.ID)
	wantCode(t, err, likeness.ENOTFOUND)
	eps, err := db.WebhookEndpoints(ctx, app.ID)
	if err != nil || len(eps) != 2 || eps[0].ID != first || eps[1].Secret != ep.Secret {
		t.Fatalf("list %+v, %v", eps, err)
	}

	// The filter: consent events go to the first endpoint only.
	hookConsent(t, db, app.ID)
	tasks := claimAll(t, db, f.clock.Now())
	if len(tasks) != 1 || tasks[0].EndpointID != first {
		t.Fatalf("tasks %+v", tasks)
	}

	url, events, no := "https://crm.example/v2", []string{likeness.EventConsentRecorded}, false
	upd, err := db.UpdateWebhookEndpoint(ctx, app.ID, ep.ID, likeness.WebhookEndpointUpdate{URL: &url, Events: &events})
	if err != nil || upd.URL != url || strings.Join(upd.Events, ",") != likeness.EventConsentRecorded || !upd.Enabled {
		t.Fatalf("update %+v, %v", upd, err)
	}
	hookConsent(t, db, app.ID)
	if tasks := claimAll(t, db, f.clock.Now()); len(tasks) != 2 {
		t.Fatalf("after the filter change: %d tasks", len(tasks))
	}
	upd, err = db.UpdateWebhookEndpoint(ctx, app.ID, ep.ID, likeness.WebhookEndpointUpdate{Enabled: &no})
	if err != nil || upd.Enabled || upd.DisabledAt == nil || upd.DisabledReason == "" {
		t.Fatalf("disable %+v, %v", upd, err)
	}
	hookConsent(t, db, app.ID)
	if tasks := claimAll(t, db, f.clock.Now()); len(tasks) != 1 || tasks[0].EndpointID != first {
		t.Fatalf("a disabled endpoint got a task: %+v", tasks)
	}
	bad := "gopher://x"
	_, err = db.UpdateWebhookEndpoint(ctx, app.ID, ep.ID, likeness.WebhookEndpointUpdate{URL: &bad})
	wantCode(t, err, likeness.EINVALID)
	_, err = db.UpdateWebhookEndpoint(ctx, other.ID, ep.ID, likeness.WebhookEndpointUpdate{Enabled: &no})
	wantCode(t, err, likeness.ENOTFOUND)

	wantCode(t, db.DeleteWebhookEndpoint(ctx, other.ID, ep.ID), likeness.ENOTFOUND)
	if err := db.DeleteWebhookEndpoint(ctx, app.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.DeleteWebhookEndpoint(ctx, app.ID, ep.ID), likeness.ENOTFOUND)
	_, err = db.WebhookDeliveries(ctx, app.ID, ep.ID, likeness.WebhookLogQuery{})
	wantCode(t, err, likeness.ENOTFOUND)
	_, err = db.WebhookAttempts(ctx, app.ID, otherEP, likeness.WebhookLogQuery{})
	wantCode(t, err, likeness.ENOTFOUND)

	for i := 1; i < sqlite.MaxWebhookEndpoints; i++ {
		if _, err := db.CreateWebhookEndpoint(ctx, other.ID, likeness.WebhookEndpointCreate{URL: "https://x.example/"}); err != nil {
			t.Fatal(i, err)
		}
	}
	_, err = db.CreateWebhookEndpoint(ctx, other.ID, likeness.WebhookEndpointCreate{URL: "https://x.example/"})
	wantCode(t, err, likeness.ECONFLICT)

	// Every change is in the audit trail, with the actor from the context.
	console := likeness.WithActor(ctx, "console:ada")
	if _, err := db.RotateWebhookSecret(console, app.ID, first); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWebhookIncludePayload(console, app.ID, true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		sqlite.AuditWebhookCreated + " system",
		sqlite.AuditWebhookUpdated + " system", // URL and events
		sqlite.AuditWebhookUpdated + " system", // disabled
		sqlite.AuditWebhookDeleted + " system",
		sqlite.AuditWebhookRotated + " console:ada",
		sqlite.AuditWebhookPayload + " console:ada",
	}
	trail := auditActions(t, db, app)
	if strings.Join(trail, ",") != strings.Join(want, ",") {
		t.Fatalf("audit\n%v\nwant\n%v", trail, want)
	}
}

// TestResendAndTestEvent: a re-sent event keeps its ID and starts over; a
// test event goes to one endpoint.
func TestResendAndTestEvent(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, endpointID, _ := hookApp(t, db, "Shop")
	other, otherEP, _ := hookApp(t, db, "Other")
	hookConsent(t, db, app.ID)
	task := claimAll(t, db, f.clock.Now())[0]
	complete(t, db, &likeness.WebhookResult{Task: task, StartedAt: f.clock.Now(), StatusCode: 200, Succeeded: true})

	if err := db.ResendWebhookEvent(ctx, app.ID, endpointID, task.Event.ID); err != nil {
		t.Fatal(err)
	}
	again := claimAll(t, db, f.clock.Now())
	if len(again) != 1 || again[0].Event.ID != task.Event.ID || again[0].Attempt != 1 || again[0].DeliveryID != task.DeliveryID {
		t.Fatalf("resent %+v", again)
	}
	wantCode(t, db.ResendWebhookEvent(ctx, app.ID, endpointID, "msg_unknown"), likeness.ENOTFOUND)
	wantCode(t, db.ResendWebhookEvent(ctx, other.ID, otherEP, task.Event.ID), likeness.ENOTFOUND)
	wantCode(t, db.ResendWebhookEvent(ctx, other.ID, endpointID, task.Event.ID), likeness.ENOTFOUND)

	id, err := db.SendTestWebhook(ctx, app.ID, endpointID)
	if err != nil || !strings.HasPrefix(id, sqlite.EventIDPrefix) {
		t.Fatal(id, err)
	}
	tests := claimAll(t, db, f.clock.Now())
	if len(tests) != 1 || tests[0].Event.ID != id || tests[0].Event.Type != likeness.EventTest ||
		tests[0].Event.PublicID != app.PublicID || tests[0].EndpointID != endpointID {
		t.Fatalf("test event %+v", tests)
	}
	_, err = db.SendTestWebhook(ctx, other.ID, endpointID)
	wantCode(t, err, likeness.ENOTFOUND)
	no := false
	if _, err := db.UpdateWebhookEndpoint(ctx, app.ID, endpointID, likeness.WebhookEndpointUpdate{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	_, err = db.SendTestWebhook(ctx, app.ID, endpointID)
	wantCode(t, err, likeness.EPRECONDITION)
	wantCode(t, db.ResendWebhookEvent(ctx, app.ID, endpointID, task.Event.ID), likeness.EPRECONDITION)
}

// TestPurgeWebhookLog: the log older than the retention period goes;
// pending deliveries and their events stay.
func TestPurgeWebhookLog(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, endpointID, _ := hookApp(t, db, "Shop")
	hookConsent(t, db, app.ID)
	hookConsent(t, db, app.ID)
	tasks := claimAll(t, db, f.clock.Now())
	now := f.clock.Now()
	complete(t, db,
		&likeness.WebhookResult{Task: tasks[0], StartedAt: now, StatusCode: 200, Succeeded: true},
		&likeness.WebhookResult{Task: tasks[1], StartedAt: now, StatusCode: 503, RetryAt: now.Add(40 * 24 * time.Hour)})
	f.clock.Advance(31 * 24 * time.Hour)
	n, err := db.PurgeWebhookLog(ctx, f.clock.Now().Add(-30*24*time.Hour))
	if err != nil || n != 4 { // two attempts, one delivery, one event
		t.Fatalf("purged %d, %v", n, err)
	}
	ds, _ := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{})
	if len(ds) != 1 || ds[0].EventID != tasks[1].Event.ID || ds[0].Status != likeness.DeliveryPending {
		t.Fatalf("deliveries %+v", ds)
	}
	if as, _ := db.WebhookAttempts(ctx, app.ID, endpointID, likeness.WebhookLogQuery{}); len(as) != 0 {
		t.Fatalf("attempts %+v", as)
	}
	wantCode(t, db.ResendWebhookEvent(ctx, app.ID, endpointID, tasks[0].Event.ID), likeness.ENOTFOUND)
	if err := db.ResendWebhookEvent(ctx, app.ID, endpointID, tasks[1].Event.ID); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookLogPaging: newest first, by ID.
func TestWebhookLogPaging(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, endpointID, _ := hookApp(t, db, "Shop")
	for range 5 {
		hookConsent(t, db, app.ID)
	}
	page1, err := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{Limit: 3})
	if err != nil || len(page1) != 3 || page1[0].ID < page1[2].ID {
		t.Fatalf("page 1 %+v %v", page1, err)
	}
	page2, _ := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{Limit: 3, Before: page1[2].ID})
	if len(page2) != 2 || page2[0].ID >= page1[2].ID {
		t.Fatalf("page 2 %+v", page2)
	}
	one, _ := db.WebhookDeliveries(ctx, app.ID, endpointID, likeness.WebhookLogQuery{EventID: page2[1].EventID})
	if len(one) != 1 || one[0].ID != page2[1].ID {
		t.Fatalf("by event %+v", one)
	}
}

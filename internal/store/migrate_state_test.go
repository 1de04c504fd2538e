package store

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A SQLite state moves into PostgreSQL whole: every table, exactly (times to the nanosecond,
// audit ids, an intent's version), and the moved state goes on working (new audit ids follow
// the old ones, the breaker's window still counts, an intent is cleared by its version).
func TestMoveToPostgres(t *testing.T) {
	ctx := context.Background()
	src, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	for i := int64(1); i <= 300; i++ {
		ext := ""
		if i%2 == 0 {
			ext = "ext-" + itoa(int(i))
		}
		if err := src.PutUserShadow(ctx, Shadow{ID: i, ExternalID: ext, Data: []byte(`{"n":` + itoa(int(i)) + `}`), Updated: at.Add(time.Duration(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.PutGroupShadow(ctx, Shadow{ID: 9, ExternalID: "g-ext", Data: []byte(`{"g":true}`), Updated: at}); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"paused": "2026-01-01T00:00:00Z\tmaintenance", "domo.owner": "77", "empty": ""} {
		if err := src.PutSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte{0, 1, 0xfe, 'x'}, 1<<18)
	if err := src.PutSnapshot(ctx, "index", big); err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		e := AuditEvent{Time: at.Add(time.Duration(i) * time.Second), Token: "okta", RequestID: "r" + itoa(i), Operation: "PATCH /Users/1",
			DomoCall: "PUT /v1/users/1", Resource: "User", ResourceID: "1", Fields: []string{"title", `emails[type eq "work"].value`}, Outcome: "ok"}
		if i == 3 {
			e.Fields = nil
		}
		if err := src.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	intent, err := src.PutIntent(ctx, Intent{Key: "user:5", Kind: "user.update", Data: []byte(`{"step":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, ok, err := src.TakeBreaker(ctx, BreakerTake{At: now, Window: time.Hour, Max: 10, Events: []BreakerEvent{{"deactivate", "User", "1"}, {"delete", "User", "2"}}}); err != nil || !ok {
		t.Fatalf("TakeBreaker: %v %v", ok, err)
	}

	url := pgPostgresURL(t)
	dst, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	got, err := MoveToPostgres(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := Copied{Users: 300, Groups: 1, Settings: 3, Snapshots: 1, Audit: 25, Intents: 1, BreakerEvents: 2}
	if got != want {
		t.Fatalf("copied %v, want %v", got, want)
	}

	same := func(what string, a, b Shadow) {
		if a.ID != b.ID || a.ExternalID != b.ExternalID || string(a.Data) != string(b.Data) || !a.Updated.Equal(b.Updated) {
			t.Errorf("%s: %+v moved as %+v", what, a, b)
		}
	}
	var srcUsers, dstUsers []Shadow
	for sh, err := range src.UserShadows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		srcUsers = append(srcUsers, sh)
	}
	for sh, err := range dst.UserShadows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		dstUsers = append(dstUsers, sh)
	}
	if len(srcUsers) != len(dstUsers) {
		t.Fatalf("%d user shadows moved as %d", len(srcUsers), len(dstUsers))
	}
	for i := range srcUsers {
		same("user", srcUsers[i], dstUsers[i])
	}
	g1, _, _ := src.GroupShadow(ctx, 9)
	g2, ok, err := dst.GroupShadow(ctx, 9)
	if err != nil || !ok {
		t.Fatalf("group 9: %v %v", ok, err)
	}
	same("group", g1, g2)
	for _, k := range []string{"paused", "domo.owner", "empty"} {
		a, _, _ := src.Setting(ctx, k)
		if b, ok, err := dst.Setting(ctx, k); err != nil || !ok || a != b {
			t.Errorf("setting %s: %q moved as %q (%v, %v)", k, a, b, ok, err)
		}
	}
	d1, t1, _, _ := src.Snapshot(ctx, "index")
	d2, t2, ok, err := dst.Snapshot(ctx, "index")
	if err != nil || !ok || !bytes.Equal(d1, d2) || !t1.Equal(t2) {
		t.Errorf("snapshot: %d bytes at %v moved as %d at %v (%v, %v)", len(d1), t1, len(d2), t2, ok, err)
	}
	e1, _ := src.AuditEvents(ctx, AuditFilter{})
	e2, err := dst.AuditEvents(ctx, AuditFilter{})
	if err != nil || len(e1) != len(e2) {
		t.Fatalf("audit: %d events moved as %d (%v)", len(e1), len(e2), err)
	}
	for i := range e1 {
		a, b := e1[i], e2[i]
		if a.ID != b.ID || !a.Time.Equal(b.Time) || a.RequestID != b.RequestID || !slices.Equal(a.Fields, b.Fields) || a.Outcome != b.Outcome || a.DomoCall != b.DomoCall {
			t.Errorf("audit event %+v moved as %+v", a, b)
		}
	}
	if err := dst.Audit(ctx, AuditEvent{Operation: "after the move"}); err != nil {
		t.Fatal(err)
	}
	if es, _ := dst.AuditEvents(ctx, AuditFilter{Limit: 1}); len(es) != 1 || es[0].ID != e1[0].ID+1 {
		t.Errorf("the first event after the move got id %d, want %d", es[0].ID, e1[0].ID+1)
	}
	in, ok, err := dst.Intent(ctx, "user:5")
	if err != nil || !ok || !in.Updated.Equal(intent.Updated) || !in.Created.Equal(intent.Created) || string(in.Data) != `{"step":1}` {
		t.Fatalf("intent moved as %+v (%v, %v)", in, ok, err)
	}
	if err := dst.DeleteIntent(ctx, "user:5", intent.Updated); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := dst.Intent(ctx, "user:5"); ok {
		t.Error("the moved intent is not cleared by its version")
	}
	if n, err := dst.BreakerCount(ctx, now.Add(-time.Minute)); err != nil || n != 2 {
		t.Errorf("breaker window after the move counts %d (%v), want 2", n, err)
	}
	if c, ok, err := dst.TakeBreaker(ctx, BreakerTake{At: now, Window: time.Hour, Max: 3, Events: []BreakerEvent{{"delete", "User", "3"}, {"delete", "User", "4"}}}); err != nil || ok || c != 2 {
		t.Errorf("the moved window does not count toward the budget: %d, %v, %v", c, ok, err)
	}

	// A target that holds state already is refused, and left as it was.
	if _, err := MoveToPostgres(ctx, src, dst); err == nil || !strings.Contains(err.Error(), "already holds state") {
		t.Fatalf("second move: %v", err)
	}
	if es, _ := dst.AuditEvents(ctx, AuditFilter{Limit: 100}); len(es) != 26 {
		t.Errorf("the refused move changed the target: %d audit events", len(es))
	}
}

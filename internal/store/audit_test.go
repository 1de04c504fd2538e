package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditSeed is a fixed log: ten events one minute apart, alternating users and groups.
func auditSeed(t *testing.T, s *SQLite) (base time.Time) {
	t.Helper()
	base = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		res, id := "User", "u"+itoa(i%3)
		if i%2 == 1 {
			res, id = "Group", "g"+itoa(i%3)
		}
		e := AuditEvent{
			Time:       base.Add(time.Duration(i) * time.Minute),
			Token:      "okta",
			RequestID:  "req-" + itoa(i),
			Operation:  "PATCH /" + res + "s/" + id,
			DomoCall:   "PUT /v1/" + strings.ToLower(res) + "s/" + id,
			Resource:   res,
			ResourceID: id,
			Fields:     []string{"name", "title"},
			Outcome:    "ok",
		}
		if err := s.Audit(context.Background(), e); err != nil {
			t.Fatalf("Audit %d: %v", i, err)
		}
	}
	return base
}

func requestIDs(es []AuditEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.RequestID)
	}
	return out
}

func TestAuditRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if es, err := s.AuditEvents(ctx, AuditFilter{}); err != nil || len(es) != 0 {
		t.Fatalf("empty log = %v, %v", es, err)
	}
	in := AuditEvent{
		Time:       time.Date(2025, 1, 2, 3, 4, 5, 987654321, time.FixedZone("X", -7*3600)),
		Token:      "entra-prod",
		RequestID:  "r1",
		Operation:  "PATCH /Users/123",
		DomoCall:   "PUT /v1/users/123",
		Resource:   "User",
		ResourceID: "123",
		Fields:     []string{"name.givenName", "emails[type eq \"work\"].value"},
		Outcome:    "domo: 409 conflict",
	}
	if err := s.Audit(ctx, in); err != nil {
		t.Fatal(err)
	}
	es, err := s.AuditEvents(ctx, AuditFilter{})
	if err != nil || len(es) != 1 {
		t.Fatalf("AuditEvents = %v, %v", es, err)
	}
	got := es[0]
	if got.ID <= 0 {
		t.Errorf("ID = %d, want assigned", got.ID)
	}
	if !got.Time.Equal(in.Time) || got.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", got.Time, in.Time)
	}
	got.ID, got.Time, in.Time = 0, time.Time{}, time.Time{}
	if got.Token != in.Token || got.RequestID != in.RequestID || got.Operation != in.Operation ||
		got.DomoCall != in.DomoCall || got.Resource != in.Resource || got.ResourceID != in.ResourceID ||
		!slices.Equal(got.Fields, in.Fields) || got.Outcome != in.Outcome {
		t.Errorf("event = %+v, want %+v", got, in)
	}
}

func TestAuditDefaults(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	before := time.Now()
	if err := s.Audit(ctx, AuditEvent{Operation: "DELETE /Users/9"}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if err := s.Audit(ctx, AuditEvent{Operation: "second"}); err != nil {
		t.Fatal(err)
	}
	es, err := s.AuditEvents(ctx, AuditFilter{})
	if err != nil || len(es) != 2 {
		t.Fatalf("AuditEvents = %v, %v", es, err)
	}
	first := es[1]
	if first.Time.Before(before) || first.Time.After(after) {
		t.Errorf("zero Time became %v, want between %v and %v", first.Time, before, after)
	}
	if first.Fields != nil {
		t.Errorf("nil Fields came back as %#v", first.Fields)
	}
	if es[0].ID <= first.ID {
		t.Errorf("ids not increasing: %d then %d", first.ID, es[0].ID)
	}
}

func TestAuditEventsFilter(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	base := auditSeed(t, s)
	min := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	tests := []struct {
		name string
		f    AuditFilter
		want []string
	}{
		{"all, newest first", AuditFilter{}, []string{"req-9", "req-8", "req-7", "req-6", "req-5", "req-4", "req-3", "req-2", "req-1", "req-0"}},
		{"limit", AuditFilter{Limit: 3}, []string{"req-9", "req-8", "req-7"}},
		{"since is inclusive", AuditFilter{Since: min(7)}, []string{"req-9", "req-8", "req-7"}},
		{"until is exclusive", AuditFilter{Until: min(2)}, []string{"req-1", "req-0"}},
		{"window", AuditFilter{Since: min(3), Until: min(6)}, []string{"req-5", "req-4", "req-3"}},
		{"window in another zone", AuditFilter{Since: min(3).In(time.FixedZone("Y", 5*3600)), Until: min(4).In(time.FixedZone("Z", -3600))}, []string{"req-3"}},
		{"sub-second bound", AuditFilter{Since: min(8).Add(-time.Nanosecond), Until: min(8).Add(time.Nanosecond)}, []string{"req-8"}},
		{"empty window", AuditFilter{Since: min(6), Until: min(3)}, nil},
		{"resource", AuditFilter{Resource: "Group"}, []string{"req-9", "req-7", "req-5", "req-3", "req-1"}},
		{"resource id", AuditFilter{ResourceID: "u0"}, []string{"req-6", "req-0"}},
		{"resource id of other resource", AuditFilter{Resource: "Group", ResourceID: "u0"}, nil},
		{"everything at once", AuditFilter{Resource: "User", ResourceID: "u1", Since: min(0), Until: min(9), Limit: 1}, []string{"req-4"}},
		{"unknown id", AuditFilter{ResourceID: "nobody"}, nil},
		{"bounds beyond storable years", AuditFilter{Since: time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 2}, []string{"req-9", "req-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := s.AuditEvents(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := requestIDs(es); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAuditEventsDefaultLimit(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range defaultAuditLimit + 5 {
		if err := s.Audit(ctx, AuditEvent{Time: base.Add(time.Duration(i) * time.Millisecond), RequestID: itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.AuditEvents(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != defaultAuditLimit || es[0].RequestID != itoa(defaultAuditLimit+4) {
		t.Errorf("got %d events starting with %q, want %d starting with the newest", len(es), es[0].RequestID, defaultAuditLimit)
	}
	if es, err := s.AuditEvents(ctx, AuditFilter{Limit: defaultAuditLimit + 100}); err != nil || len(es) != defaultAuditLimit+5 {
		t.Errorf("explicit large limit: %d events, %v", len(es), err)
	}
}

// Events with equal times keep a stable newest-first order by insertion.
func TestAuditEventsTiesByID(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []string{"a", "b", "c"} {
		if err := s.Audit(ctx, AuditEvent{Time: at, RequestID: r}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.AuditEvents(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := requestIDs(es); !slices.Equal(got, []string{"c", "b", "a"}) {
		t.Errorf("order %v, want [c b a]", got)
	}
}

func TestAuditErrors(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if _, err := s.AuditEvents(ctx, AuditFilter{Limit: -1}); err == nil || !strings.Contains(err.Error(), "negative limit") {
		t.Errorf("negative limit: %v", err)
	}
	err := s.Audit(ctx, AuditEvent{Time: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), Operation: "PUT /Users/5", Resource: "User", ResourceID: "5"})
	if err == nil || !strings.HasPrefix(err.Error(), "store: audit PUT /Users/5 User 5: time") {
		t.Errorf("out-of-range time: %v", err)
	}
	if _, err := s.PruneAudit(ctx, time.Time{}); err == nil || !strings.Contains(err.Error(), "zero cutoff") {
		t.Errorf("zero prune cutoff: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Audit(cctx, AuditEvent{Operation: "POST /Users", Resource: "User"}); err == nil || !strings.HasPrefix(err.Error(), "store: audit POST /Users User : ") {
		t.Errorf("Audit with cancelled context: %v", err)
	}
	if _, err := s.AuditEvents(cctx, AuditFilter{}); err == nil || !strings.HasPrefix(err.Error(), "store: list audit events: ") {
		t.Errorf("AuditEvents with cancelled context: %v", err)
	}
	if _, err := s.PruneAudit(cctx, time.Now()); err == nil || !strings.HasPrefix(err.Error(), "store: prune audit before ") {
		t.Errorf("PruneAudit with cancelled context: %v", err)
	}
}

func TestPruneAudit(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	base := auditSeed(t, s)

	n, err := s.PruneAudit(ctx, base.Add(-time.Hour))
	if err != nil || n != 0 {
		t.Errorf("prune before everything = %d, %v; want 0", n, err)
	}
	// The cutoff is exclusive: the event at exactly base+4m stays.
	n, err = s.PruneAudit(ctx, base.Add(4*time.Minute))
	if err != nil || n != 4 {
		t.Errorf("prune = %d, %v; want 4", n, err)
	}
	es, err := s.AuditEvents(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := requestIDs(es), []string{"req-9", "req-8", "req-7", "req-6", "req-5", "req-4"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	n, err = s.PruneAudit(ctx, base.Add(4*time.Minute))
	if err != nil || n != 0 {
		t.Errorf("repeat prune = %d, %v; want 0", n, err)
	}
}

// More events than one prune batch: every batch is counted, an exact multiple of the batch
// ends cleanly, and nothing newer is touched.
func TestPruneAuditAcrossBatches(t *testing.T) {
	const batch = 7
	for _, old := range []int{batch - 1, batch, 2 * batch, 2*batch + 3} {
		t.Run(itoa(old), func(t *testing.T) {
			ctx := context.Background()
			s := openTemp(t)
			s.pruneBatch = batch
			base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range old + 3 {
				if err := s.Audit(ctx, AuditEvent{Time: base.Add(time.Duration(i) * time.Second), RequestID: itoa(i)}); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.PruneAudit(ctx, base.Add(time.Duration(old)*time.Second))
			if err != nil || n != int64(old) {
				t.Fatalf("prune = %d, %v; want %d", n, err, old)
			}
			es, err := s.AuditEvents(ctx, AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := requestIDs(es), []string{itoa(old + 2), itoa(old + 1), itoa(old)}; !slices.Equal(got, want) {
				t.Errorf("left %v, want %v", got, want)
			}
		})
	}
}

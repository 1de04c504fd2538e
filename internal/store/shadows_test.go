package store

import (
	"context"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"
)

// shadowAPI is one family of shadow methods, so every test runs for users and groups alike.
type shadowAPI struct {
	noun string
	get  func(*SQLite, context.Context, int64) (Shadow, bool, error)
	put  func(*SQLite, context.Context, Shadow) error
	del  func(*SQLite, context.Context, int64) error
	all  func(*SQLite, context.Context) iter.Seq2[Shadow, error]
}

func shadowAPIs() []shadowAPI {
	return []shadowAPI{
		{"user", (*SQLite).UserShadow, (*SQLite).PutUserShadow, (*SQLite).DeleteUserShadow, (*SQLite).UserShadows},
		{"group", (*SQLite).GroupShadow, (*SQLite).PutGroupShadow, (*SQLite).DeleteGroupShadow, (*SQLite).GroupShadows},
	}
}

func collect(t *testing.T, seq iter.Seq2[Shadow, error]) []Shadow {
	t.Helper()
	var out []Shadow
	for sh, err := range seq {
		if err != nil {
			t.Fatalf("iteration: %v", err)
		}
		out = append(out, sh)
	}
	return out
}

func TestShadowRoundTrip(t *testing.T) {
	ctx := context.Background()
	berlin := time.FixedZone("CET", 3600)
	for _, api := range shadowAPIs() {
		t.Run(api.noun, func(t *testing.T) {
			s := openTemp(t)
			if _, ok, err := api.get(s, ctx, 42); err != nil || ok {
				t.Fatalf("get missing = ok %v, err %v", ok, err)
			}

			in := Shadow{
				ID:         42,
				ExternalID: "00u1abc",
				Data:       []byte(`{"name":{"givenName":"Ünïcode"},"active":false}`),
				Updated:    time.Date(2025, 3, 4, 5, 6, 7, 123456789, berlin),
			}
			if err := api.put(s, ctx, in); err != nil {
				t.Fatalf("put: %v", err)
			}
			got, ok, err := api.get(s, ctx, 42)
			if err != nil || !ok {
				t.Fatalf("get = ok %v, err %v", ok, err)
			}
			if got.ID != 42 || got.ExternalID != in.ExternalID || string(got.Data) != string(in.Data) {
				t.Errorf("get = %+v, want %+v", got, in)
			}
			if !got.Updated.Equal(in.Updated) || got.Updated.Location() != time.UTC {
				t.Errorf("Updated = %v, want %v in UTC with nanoseconds", got.Updated, in.Updated)
			}

			// Upsert replaces every column, including clearing the external id.
			in2 := Shadow{ID: 42, Data: []byte(`{}`), Updated: in.Updated.Add(time.Hour)}
			if err := api.put(s, ctx, in2); err != nil {
				t.Fatalf("second put: %v", err)
			}
			got, _, _ = api.get(s, ctx, 42)
			if got.ExternalID != "" || string(got.Data) != `{}` || !got.Updated.Equal(in2.Updated) {
				t.Errorf("after upsert get = %+v, want %+v", got, in2)
			}

			if err := api.del(s, ctx, 42); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, ok, err := api.get(s, ctx, 42); err != nil || ok {
				t.Errorf("get after delete = ok %v, err %v", ok, err)
			}
			if err := api.del(s, ctx, 42); err != nil {
				t.Errorf("delete of missing shadow: %v", err)
			}
		})
	}
}

func TestShadowZeroUpdatedIsNow(t *testing.T) {
	ctx := context.Background()
	for _, api := range shadowAPIs() {
		t.Run(api.noun, func(t *testing.T) {
			s := openTemp(t)
			before := time.Now()
			if err := api.put(s, ctx, Shadow{ID: 1, Data: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			got, _, err := api.get(s, ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Updated.Before(before) || got.Updated.After(after) {
				t.Errorf("Updated = %v, want between %v and %v", got.Updated, before, after)
			}
		})
	}
}

func TestShadowsIterateInIDOrder(t *testing.T) {
	ctx := context.Background()
	for _, api := range shadowAPIs() {
		t.Run(api.noun, func(t *testing.T) {
			s := openTemp(t)
			if got := collect(t, api.all(s, ctx)); len(got) != 0 {
				t.Fatalf("empty store yielded %d shadows", len(got))
			}
			ids := []int64{900, 3, 1 << 40, 17, 1, 250}
			for _, id := range ids {
				if err := api.put(s, ctx, Shadow{ID: id, ExternalID: "e" + itoa(int(id)), Data: []byte(`{"id":` + itoa(int(id)) + `}`)}); err != nil {
					t.Fatal(err)
				}
			}
			got := collect(t, api.all(s, ctx))
			var gotIDs []int64
			for _, sh := range got {
				gotIDs = append(gotIDs, sh.ID)
				if sh.ExternalID != "e"+itoa(int(sh.ID)) || string(sh.Data) != `{"id":`+itoa(int(sh.ID))+`}` || sh.Updated.IsZero() {
					t.Errorf("shadow %d came back as %+v", sh.ID, sh)
				}
			}
			want := slices.Sorted(slices.Values(ids))
			if !slices.Equal(gotIDs, want) {
				t.Errorf("ids = %v, want %v", gotIDs, want)
			}
		})
	}
}

// Breaking out of the loop must return the read connection; a leak would exhaust the pool
// and the reads after it would block until their deadline.
func TestShadowsEarlyBreakReleasesConnection(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for id := int64(1); id <= 5; id++ {
		if err := s.PutUserShadow(ctx, Shadow{ID: id, Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for i := range 3 * max(minReaders, 64) {
		for sh, err := range s.UserShadows(tctx) {
			if err != nil || sh.ID != 1 {
				t.Fatalf("loop %d: first yield = %+v, %v", i, sh, err)
			}
			break
		}
	}
	if _, ok, err := s.UserShadow(tctx, 3); err != nil || !ok {
		t.Errorf("read after early breaks = ok %v, err %v", ok, err)
	}
}

func TestShadowsYieldErrorOnCancelledContext(t *testing.T) {
	s := openTemp(t)
	if err := s.PutGroupShadow(context.Background(), Shadow{ID: 1, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errs int
	for sh, err := range s.GroupShadows(ctx) {
		if err == nil {
			t.Errorf("yielded %+v from a cancelled context", sh)
			continue
		}
		errs++
		if !strings.HasPrefix(err.Error(), "store: list group shadows") {
			t.Errorf("error %q lacks the operation", err)
		}
	}
	if errs != 1 {
		t.Errorf("got %d errors, want exactly 1", errs)
	}
}

func TestUsersAndGroupsAreSeparate(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if err := s.PutUserShadow(ctx, Shadow{ID: 5, Data: []byte(`"user"`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroupShadow(ctx, Shadow{ID: 5, Data: []byte(`"group"`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUserShadow(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if g, ok, err := s.GroupShadow(ctx, 5); err != nil || !ok || string(g.Data) != `"group"` {
		t.Errorf("group 5 after deleting user 5 = %+v, %v, %v", g, ok, err)
	}
	if n := len(collect(t, s.UserShadows(ctx))); n != 0 {
		t.Errorf("%d user shadows left, want 0", n)
	}
}

func TestPutShadowRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		sh   Shadow
		want string
	}{
		{"zero id", Shadow{ID: 0, Data: []byte(`{}`)}, "shadow 0: id must be positive"},
		{"negative id", Shadow{ID: -3, Data: []byte(`{}`)}, "shadow -3: id must be positive"},
		{"nil data", Shadow{ID: 1}, "shadow 1: data is not valid JSON"},
		{"not JSON", Shadow{ID: 2, Data: []byte(`{"a":`)}, "shadow 2: data is not valid JSON"},
		{"year beyond 9999", Shadow{ID: 3, Data: []byte(`{}`), Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "shadow 3: time"},
	}
	for _, api := range shadowAPIs() {
		s := openTemp(t)
		for _, tt := range tests {
			t.Run(api.noun+"/"+tt.name, func(t *testing.T) {
				err := api.put(s, ctx, tt.sh)
				want := "store: put " + api.noun + " " + tt.want
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("put error = %v, want one containing %q", err, want)
				}
				if _, ok, _ := api.get(s, ctx, tt.sh.ID); ok {
					t.Errorf("rejected shadow %d was stored", tt.sh.ID)
				}
			})
		}
	}
}

func TestShadowErrorsNameOperationAndID(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"get", func() error { _, _, err := s.UserShadow(ctx, 12); return err }, "store: get user shadow 12: "},
		{"put", func() error { return s.PutGroupShadow(ctx, Shadow{ID: 13, Data: []byte(`{}`)}) }, "store: put group shadow 13: "},
		{"delete", func() error { return s.DeleteUserShadow(ctx, 14) }, "store: delete user shadow 14: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

package index

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

func user(id int64, userName string, emails ...string) User {
	u := mapping.User{ID: id, UserName: userName, DisplayName: "User " + userName, Active: true}
	for _, e := range emails {
		u.Emails = append(u.Emails, mapping.Multi{Value: e, Type: "work"})
	}
	return NewUser(u, userName)
}

func withExt(u User, ext string) User {
	m := u.SCIM()
	m.ExternalID = ext
	return NewUser(m, u.DomoEmail)
}

func ids(users []*User) []int64 {
	out := []int64{}
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

// loaded returns an index holding users and groups, as a full load leaves it.
func loaded(t *testing.T, users []User, groups ...Group) *Index {
	t.Helper()
	ix := New()
	l, ok := ix.BeginLoad()
	if !ok {
		t.Fatal("BeginLoad refused on a new index")
	}
	l.Replace(&Snapshot{Users: users, Groups: groups, LoadedAt: time.Now()})
	return ix
}

func TestLookups(t *testing.T) {
	ix := loaded(t, []User{
		withExt(user(30, "Ada@Example.com", "Ada@Example.com", "ada.l@work.example"), "ext-1"),
		withExt(user(10, "ſam@example.com"), "ext-1"), // externalId shared across IdPs
		user(20, "bob"),             // not an address: the Domo login differs
		user(40, "SAM@example.com"), // folds like user 10's userName
	})
	cases := []struct {
		key, value string
		want       []int64
	}{
		{"username", "ada@EXAMPLE.com", []int64{30}},
		{"username", "sam@example.com", []int64{10, 40}},
		{"username", "nobody", []int64{}},
		{"externalid", "ext-1", []int64{10, 30}},
		{"externalid", "EXT-1", []int64{}}, // case-exact
		{"emails.value", "ADA.L@work.example", []int64{30}},
		{"emails.value", "ada@example.com", []int64{30}}, // an address equal to the userName
		{"id", "20", []int64{20}},
		{"id", "21", []int64{}},
		{"id", "x", []int64{}},
		{"title", "x", []int64{}},
	}
	for _, c := range cases {
		if got := ids(ix.LookupUsers(c.key, c.value)); !slices.Equal(got, c.want) {
			t.Errorf("LookupUsers(%s, %q) = %v, want %v", c.key, c.value, got, c.want)
		}
	}
	if u, ok := ix.UserByUserName("SAM@EXAMPLE.COM"); !ok || u.ID != 10 {
		t.Errorf("UserByUserName picks %v, want the lowest id", u)
	}
	if _, ok := ix.UserByUserName("İ"); ok {
		t.Error("UserByUserName matched a string that does not fold alike")
	}
}

func TestDomoEmailLookup(t *testing.T) {
	bob := NewUser(mapping.User{ID: 1, UserName: "bob"}, "Bob@corp.example")
	ann := NewUser(mapping.User{ID: 2, UserName: "ann@corp.example"}, "ann@corp.example")
	ix := loaded(t, []User{bob, ann})
	for _, c := range []struct {
		email string
		want  int64
	}{{"bob@CORP.example", 1}, {"ANN@corp.example", 2}, {"bob", 0}} {
		u, ok := ix.UserByDomoEmail(c.email)
		if got := int64(0); ok {
			got = u.ID
			if got != c.want {
				t.Errorf("UserByDomoEmail(%q) = %d, want %d", c.email, got, c.want)
			}
		} else if c.want != 0 {
			t.Errorf("UserByDomoEmail(%q) found nothing, want %d", c.email, c.want)
		}
	}
}

func TestWritesKeepKeysInStep(t *testing.T) {
	ix := loaded(t, []User{withExt(user(1, "old@example.com", "alt@example.com"), "e1"), user(2, "two@example.com")})
	ix.PutUser(withExt(user(1, "new@example.com", "alt2@example.com"), "e2"))
	for _, c := range []struct{ key, value string }{{"username", "old@example.com"}, {"externalid", "e1"}, {"emails.value", "alt@example.com"}} {
		if got := ix.LookupUsers(c.key, c.value); len(got) != 0 {
			t.Errorf("stale key %s=%q still finds %v", c.key, c.value, ids(got))
		}
	}
	for _, c := range []struct{ key, value string }{{"username", "NEW@example.com"}, {"externalid", "e2"}, {"emails.value", "alt2@example.com"}} {
		if got := ids(ix.LookupUsers(c.key, c.value)); !slices.Equal(got, []int64{1}) {
			t.Errorf("new key %s=%q finds %v", c.key, c.value, got)
		}
	}
	ix.PutUser(user(0, "zero@example.com")) // new ids go in order
	ix.PutUser(user(3, "three@example.com"))
	page, total := ix.UserPage(0, 10)
	if total != 4 || !slices.Equal(ids(page), []int64{0, 1, 2, 3}) {
		t.Fatalf("order after inserts: %v of %d", ids(page), total)
	}
	ix.DeleteUser(2)
	if _, ok := ix.User(2); ok || len(ix.LookupUsers("username", "two@example.com")) != 0 || ix.UserCount() != 3 {
		t.Fatal("deleted user still indexed")
	}
}

func TestPagesAndScans(t *testing.T) {
	var users []User
	for i := range 10 {
		users = append(users, user(int64(100-i), fmt.Sprintf("u%d", i))) // loaded out of order
	}
	ix := loaded(t, users)
	for _, c := range []struct {
		offset, limit int
		want          []int64
	}{
		{0, 3, []int64{91, 92, 93}},
		{8, 5, []int64{99, 100}},
		{10, 5, nil},
		{-3, 1, []int64{91}},
		{0, 0, nil},
	} {
		page, total := ix.UserPage(c.offset, c.limit)
		if total != 10 || !slices.Equal(ids(page), c.want) {
			t.Errorf("UserPage(%d, %d) = %v of %d, want %v", c.offset, c.limit, ids(page), total, c.want)
		}
	}
	var seen []int64
	ix.Users(func(u *User) bool {
		seen = append(seen, u.ID)
		return len(seen) < 4
	})
	if !slices.Equal(seen, []int64{91, 92, 93, 94}) {
		t.Fatalf("scan saw %v", seen)
	}
}

func TestGroups(t *testing.T) {
	g := func(id int64, name string, members ...int64) Group {
		return Group{Group: mapping.Group{ID: id, DisplayName: name}, MemberIDs: members}
	}
	ix := loaded(t, []User{user(1, "a"), user(2, "b"), user(3, "c")},
		g(10, "Σίσυφος", 3, 1, 1), g(11, "Sales", 2), Group{Group: mapping.Group{ID: 12, DisplayName: "Default", Default: true}})
	if gr, ok := ix.GroupByName("ΣΊΣΥΦΟΣ"); !ok || gr.ID != 10 || !slices.Equal(gr.MemberIDs, []int64{1, 3}) {
		t.Fatalf("GroupByName: %+v", gr)
	}
	if got := ix.UserGroups(1); !slices.Equal(got, []int64{10}) {
		t.Fatalf("UserGroups(1) = %v", got)
	}
	ix.SetMembership(11, 1, true)
	ix.SetMembership(10, 3, false)
	if got := ix.UserGroups(1); !slices.Equal(got, []int64{10, 11}) {
		t.Fatalf("UserGroups(1) after join = %v", got)
	}
	if gr, _ := ix.Group(10); !slices.Equal(gr.MemberIDs, []int64{1}) || len(ix.UserGroups(3)) != 0 {
		t.Fatalf("leave not recorded: %v %v", gr.MemberIDs, ix.UserGroups(3))
	}
	ix.DeleteUser(1)
	if gr, _ := ix.Group(11); !slices.Equal(gr.MemberIDs, []int64{2}) {
		t.Fatalf("deleted user still a member: %v", gr.MemberIDs)
	}
	ix.PutGroup(g(11, "Marketing", 3, 2))
	if _, ok := ix.GroupByName("sales"); ok {
		t.Fatal("renamed group still found by its old name")
	}
	if got := ix.LookupGroups("displayname", "MARKETING"); len(got) != 1 || got[0].ID != 11 {
		t.Fatalf("LookupGroups: %v", got)
	}
	ix.DeleteGroup(11)
	if len(ix.UserGroups(2)) != 0 || len(ix.LookupGroups("id", "11")) != 0 {
		t.Fatal("deleted group still indexed")
	}
}

// A full load reads Domo for minutes. What the bridge writes meanwhile must survive it, and
// everything else must come from the load.
func TestReplaceKeepsWritesMadeDuringTheLoad(t *testing.T) {
	ix := loaded(t, []User{user(1, "one"), user(2, "two"), user(3, "three")},
		Group{Group: mapping.Group{ID: 10, DisplayName: "G"}, MemberIDs: []int64{1}})
	ix.PutUser(user(1, "written-before")) // before the load began: the load wins

	l, ok := ix.BeginLoad()
	if !ok {
		t.Fatal("BeginLoad refused")
	}
	if _, again := ix.BeginLoad(); again {
		t.Fatal("a second load began while one runs")
	}
	// Meanwhile: the bridge renames 2, deletes 3, creates 4, and adds 2 to G.
	ix.PutUser(user(2, "renamed"))
	ix.DeleteUser(3)
	ix.PutUser(user(4, "created"))
	ix.SetMembership(10, 2, true)

	// The load read Domo before those writes.
	l.Replace(&Snapshot{
		Users:  []User{user(1, "one-from-domo"), user(2, "two"), user(3, "three"), user(5, "made-in-domo")},
		Groups: []Group{{Group: mapping.Group{ID: 10, DisplayName: "G"}, MemberIDs: []int64{1}}},
	})
	want := map[int64]string{1: "one-from-domo", 2: "renamed", 4: "created", 5: "made-in-domo"}
	page, total := ix.UserPage(0, 10)
	if total != len(want) {
		t.Fatalf("users after the load: %v", ids(page))
	}
	for _, u := range page {
		if want[u.ID] != u.UserName {
			t.Errorf("user %d is %q, want %q", u.ID, u.UserName, want[u.ID])
		}
	}
	if _, ok := ix.UserByUserName("two"); ok {
		t.Error("the load's stale userName of 2 is indexed")
	}
	if g, _ := ix.Group(10); !slices.Equal(g.MemberIDs, []int64{1, 2}) {
		t.Errorf("membership written during the load lost: %v", g.MemberIDs)
	}

	// The next load started after those writes: it wins for them too.
	l, _ = ix.BeginLoad()
	l.Replace(&Snapshot{Users: []User{user(2, "two-again")}})
	if page, _ := ix.UserPage(0, 10); !slices.Equal(ids(page), []int64{2}) || page[0].UserName != "two-again" {
		t.Fatalf("second load: %v", ids(page))
	}
}

func TestFailedLoadKeepsServing(t *testing.T) {
	ix := loaded(t, []User{user(1, "one")})
	l, _ := ix.BeginLoad()
	changed := ix.Changed()
	l.Fail(errors.New("Domo is down"))
	<-changed
	st := ix.Stats()
	if !st.Loaded || st.Users != 1 || st.LastError != "Domo is down" || st.Loading {
		t.Fatalf("stats after a failed load: %+v", st)
	}
	if _, ok := ix.BeginLoad(); !ok {
		t.Fatal("a failed load still holds the index")
	}
}

func TestRestoreNeverOverwritesALoad(t *testing.T) {
	ix := New()
	snap := &Snapshot{Users: []User{user(1, "from-snapshot")}, LoadedAt: time.Unix(1000, 0)}
	if !ix.Restore(snap) {
		t.Fatal("Restore refused on a new index")
	}
	if st := ix.Stats(); !st.Loaded || !st.FromSnapshot || !st.LoadedAt.Equal(time.Unix(1000, 0)) {
		t.Fatalf("stats after restore: %+v", st)
	}
	l, _ := ix.BeginLoad()
	l.Replace(&Snapshot{Users: []User{user(2, "from-domo")}, LoadedAt: time.Unix(2000, 0)})
	if ix.Restore(&Snapshot{Users: []User{user(1, "from-snapshot")}}) {
		t.Fatal("a snapshot replaced a load")
	}
	if st := ix.Stats(); st.FromSnapshot || st.Users != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	full := fullUser(5)
	ix := loaded(t, []User{NewUser(full, "ada@example.com"), user(-1, "neg"), user(1<<40, "big")},
		Group{Group: mapping.Group{ID: 7, DisplayName: "Eng", ExternalID: "g-ext", Default: true,
			Created: time.Unix(100, 5), LastModified: time.Unix(200, 0)}, MemberIDs: []int64{5, 1 << 40, -1}},
		Group{Group: mapping.Group{ID: 8, DisplayName: "Empty"}})
	snap := ix.Export()
	snap.LoadedAt, snap.LoadTook = time.Unix(12345, 678), 3*time.Second
	data, err := snap.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !back.LoadedAt.Equal(snap.LoadedAt) || back.LoadTook != snap.LoadTook || len(back.Users) != 3 || len(back.Groups) != 2 {
		t.Fatalf("snapshot header or sizes: %+v", back)
	}
	for i := range snap.Users {
		if back.Users[i].ID != snap.Users[i].ID || back.Users[i].DomoEmail != snap.Users[i].DomoEmail {
			t.Fatalf("user %d: %+v", i, back.Users[i])
		}
		sameUser(t, back.Users[i].SCIM(), snap.Users[i].SCIM())
	}
	g := back.Groups[0]
	if g.ID != 7 || g.DisplayName != "Eng" || g.ExternalID != "g-ext" || !g.Default || !g.Created.Equal(time.Unix(100, 5)) ||
		!slices.Equal(g.MemberIDs, []int64{-1, 5, 1 << 40}) || len(back.Groups[1].MemberIDs) != 0 {
		t.Fatalf("group: %+v", back.Groups)
	}

	// Damage is an error, never a panic or a half-read snapshot.
	for n := range len(data) {
		var s Snapshot
		if err := s.UnmarshalBinary(data[:n]); !errors.Is(err, ErrSnapshotFormat) {
			t.Fatalf("truncated at %d of %d: %v", n, len(data), err)
		}
	}
	var s Snapshot
	if err := s.UnmarshalBinary(append(data, 0)); !errors.Is(err, ErrSnapshotFormat) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func FuzzSnapshotUnmarshal(f *testing.F) {
	ix := New()
	ix.Restore(&Snapshot{Users: []User{NewUser(fullUser(5), "ada@example.com"), user(6, "x")},
		Groups: []Group{{Group: mapping.Group{ID: 7, DisplayName: "Eng"}, MemberIDs: []int64{5, 6}}}})
	data, _ := ix.Export().MarshalBinary()
	f.Add(data)
	f.Add([]byte(snapshotMagic + "\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Snapshot
		if s.UnmarshalBinary(data) != nil {
			return
		}
		// What decodes must index and expand without a panic.
		ix := New()
		ix.Restore(&s)
		ix.Users(func(u *User) bool {
			_ = u.SCIM()
			return true
		})
	})
}

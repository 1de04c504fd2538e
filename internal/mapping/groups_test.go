package mapping

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
)

func TestGroupFromDomo(t *testing.T) {
	names := map[int64]string{1: "Looked Up One", 2: "Looked Up Two"}
	display := func(id int64) (string, bool) { s, ok := names[id]; return s, ok }
	three := int64(3)
	dg := domo.Group{ID: 2079369920, Name: "Sales", MemberCount: &three}
	sh := &GroupShadow{ExternalID: "8aa1a0c0", Created: t0, LastModified: t1, Name: "Sales",
		MemberDisplay: map[string]string{"2": "test.user@okta.local"}}
	opt := testOpts()

	g := GroupFromDomo(dg, sh, []int64{1, 2, 3}, display, opt)
	wantMembers := []Member{{Value: "1", Display: "Looked Up One"}, {Value: "2", Display: "test.user@okta.local"}, {Value: "3"}}
	if !reflect.DeepEqual(g.Members, wantMembers) || g.ExternalID != "8aa1a0c0" || g.DisplayName != "Sales" ||
		!g.Created.Equal(t0) || !g.LastModified.Equal(t1) || g.ID != 2079369920 {
		t.Errorf("group %+v", g)
	}

	got := jsonString(t, g.Attributes(opt, true))
	want := `{"displayName":"Sales","externalId":"8aa1a0c0","id":"2079369920",` +
		`"members":[{"$ref":"` + base + `/Users/1","display":"Looked Up One","type":"User","value":"1"},` +
		`{"$ref":"` + base + `/Users/2","display":"test.user@okta.local","type":"User","value":"2"},` +
		`{"$ref":"` + base + `/Users/3","type":"User","value":"3"}],` +
		`"meta":{"created":"2024-03-01T09:30:00Z","lastModified":"2024-03-02T10:00:00Z","location":"` + base + `/Groups/2079369920",` +
		`"resourceType":"Group","version":"` + strings.ReplaceAll(g.Version(), `"`, `\"`) + `"},` +
		`"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`
	if got != want {
		t.Errorf("Attributes =\n%s\nwant\n%s", got, want)
	}
	if _, ok := g.Attributes(opt, false)["members"]; ok {
		t.Error("members present when not asked for")
	}

	// Without shadow, members or display lookup.
	bare := GroupFromDomo(domo.Group{ID: 7, Name: "Default", Default: true}, nil, nil, nil, opt)
	if bare.Members != nil || !bare.Default || bare.ExternalID != "" || !bare.Created.IsZero() {
		t.Errorf("bare group %+v", bare)
	}
	if !GroupFromDomo(domo.Group{ID: 7, Name: "Default"}, nil, nil, nil, opt).Default {
		t.Error("the group named Default is Domo's Default group even without the flag (GET by id omits it)")
	}
	if GroupFromDomo(domo.Group{ID: 8, Name: "default"}, nil, nil, nil, opt).Default {
		t.Error("a group named default in another case is an ordinary group")
	}
	attrs := bare.Attributes(opt, true)
	if _, ok := attrs["members"]; ok {
		t.Error("empty members attribute present")
	}
	if meta := attrs["meta"].(map[string]any); meta["created"] != nil || meta["resourceType"] != "Group" {
		t.Errorf("meta %v", meta)
	}
	empty := GroupFromDomo(dg, nil, []int64{}, nil, opt)
	if empty.Members == nil || len(empty.Members) != 0 {
		t.Errorf("members read but empty: %#v, want an empty non-nil list", empty.Members)
	}

	// The version does not depend on whether members were read.
	if noMembers := GroupFromDomo(dg, sh, nil, nil, opt); noMembers.Version() != g.Version() {
		t.Error("version depends on members")
	}
}

func TestGroupFromAttributes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Group
		wantErr string // attribute of the ValueError
	}{
		{name: "okta push", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`,
			want: Group{DisplayName: "Test SCIMv2", Members: []Member{}}},
		{name: "entra create", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
			"externalId":"8aa1a0c0-0000-4000-8000-000000000001","displayName":"Sales","meta":{"resourceType":"Group"}}`,
			want: Group{DisplayName: "Sales", ExternalID: "8aa1a0c0-0000-4000-8000-000000000001"}},
		{name: "members with display, $ref null, duplicates, numbers", body: `{"displayName":"G","id":"99","members":[
			{"value":"871428330","display":"test.user@okta.local"},{"$ref":null,"value":"959463190"},
			{"value":871428330,"display":"again"},{"value":" 42 ","type":"User"}]}`,
			want: Group{DisplayName: "G", Members: []Member{{Value: "871428330", Display: "test.user@okta.local"}, {Value: "959463190"}, {Value: "42"}}}},
		{name: "keys in any case", body: `{"DISPLAYNAME":"G","Members":[{"Value":"1","DISPLAY":"d"}]}`,
			want: Group{DisplayName: "G", Members: []Member{{Value: "1", Display: "d"}}}},
		{name: "no displayName", body: `{"members":[]}`, wantErr: "displayName"},
		{name: "blank displayName", body: `{"displayName":" "}`, wantErr: "displayName"},
		{name: "okta uuid member", body: `{"displayName":"G","members":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173"}]}`, wantErr: "members"},
		{name: "negative id", body: `{"displayName":"G","members":[{"value":"-5"}]}`, wantErr: "members"},
		{name: "no value", body: `{"displayName":"G","members":[{"display":"x"}]}`, wantErr: "members"},
		{name: "nested group", body: `{"displayName":"G","members":[{"value":"5","type":"Group"}]}`, wantErr: "members"},
		{name: "member not an object", body: `{"displayName":"G","members":["5"]}`, wantErr: "members"},
		{name: "members not a list", body: `{"displayName":"G","members":5}`, wantErr: "members"},
		{name: "displayName object", body: `{"displayName":{}}`, wantErr: "displayName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := GroupFromAttributes(decode(t, tt.body))
			if tt.wantErr != "" {
				ve := asValueError(t, err)
				if ve.Attr != tt.wantErr {
					t.Errorf("error attr %q, want %q (%v)", ve.Attr, tt.wantErr, err)
				}
				if tt.wantErr == "members" && strings.Contains(tt.name, "uuid") && ve.Detail != "not a user id" {
					t.Errorf("detail %q", ve.Detail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, tt.want) {
				t.Errorf("group %#v\nwant %#v", g, tt.want)
			}
		})
	}
}

func TestGroupRoundTrip(t *testing.T) {
	opt := testOpts()
	sh := &GroupShadow{ExternalID: "x", Created: t0, LastModified: t1, Name: "Sales", MemberDisplay: map[string]string{"1": "One"}}
	g := GroupFromDomo(domo.Group{ID: 9, Name: "Sales"}, sh, []int64{1, 2}, nil, opt)
	back, err := GroupFromAttributes(viaJSON(t, g.Attributes(opt, true)))
	if err != nil {
		t.Fatal(err)
	}
	if back.DisplayName != g.DisplayName || back.ExternalID != g.ExternalID || !reflect.DeepEqual(back.Members, g.Members) {
		t.Errorf("round trip %+v, want %+v", back, g)
	}
	sh.MemberDigest = memberDigest(g.Members)
	next := GroupShadowFor(back, sh, t1.Add(time.Hour))
	if !next.LastModified.Equal(t1) || !next.Created.Equal(t0) || !maps.Equal(next.MemberDisplay, sh.MemberDisplay) {
		t.Errorf("no-op write moves the shadow: %+v", next)
	}
}

func TestGroupShadowFor(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 7200))
	later := now.Add(time.Minute)
	g := Group{DisplayName: "Sales", ExternalID: "ext", Members: []Member{{Value: "1", Display: "One"}, {Value: "2"}}}

	first := GroupShadowFor(g, nil, now)
	if !first.Created.Equal(now) || !first.LastModified.Equal(now) || first.Created.Location() != time.UTC ||
		first.ExternalID != "ext" || first.Name != "Sales" || !maps.Equal(first.MemberDisplay, map[string]string{"1": "One"}) ||
		first.MemberDigest == "" {
		t.Fatalf("first shadow %+v", first)
	}

	tests := []struct {
		name        string
		edit        func(*Group)
		moved       bool
		wantDisplay map[string]string
	}{
		{"nothing", func(*Group) {}, false, map[string]string{"1": "One"}},
		{"members reordered", func(g *Group) { g.Members = []Member{g.Members[1], g.Members[0]} }, false, map[string]string{"1": "One"}},
		{"members not read", func(g *Group) { g.Members = nil }, false, map[string]string{"1": "One"}},
		{"renamed", func(g *Group) { g.DisplayName = "Sales EMEA" }, true, map[string]string{"1": "One"}},
		{"externalId", func(g *Group) { g.ExternalID = "other" }, true, map[string]string{"1": "One"}},
		{"member added", func(g *Group) { g.Members = append(g.Members, Member{Value: "3", Display: "Three"}) }, true, map[string]string{"1": "One", "3": "Three"}},
		{"member removed", func(g *Group) { g.Members = g.Members[:1] }, true, map[string]string{"1": "One"}},
		{"display changed", func(g *Group) { g.Members = []Member{{Value: "1", Display: "Uno"}, {Value: "2"}} }, true, map[string]string{"1": "Uno"}},
		{"all removed", func(g *Group) { g.Members = []Member{} }, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g2 := g
			g2.Members = append([]Member(nil), g.Members...)
			tt.edit(&g2)
			stored := storeGroupShadow(t, &first)
			sh := GroupShadowFor(g2, stored, later)
			if moved := !sh.LastModified.Equal(now); moved != tt.moved {
				t.Errorf("lastModified %v moved=%v, want %v", sh.LastModified, moved, tt.moved)
			}
			if !sh.Created.Equal(now) {
				t.Errorf("created %v, want kept", sh.Created)
			}
			if !maps.Equal(sh.MemberDisplay, tt.wantDisplay) {
				t.Errorf("member display %v, want %v", sh.MemberDisplay, tt.wantDisplay)
			}
		})
	}

	// A shadow from before timestamps were kept gets them now.
	sh := GroupShadowFor(g, &GroupShadow{ExternalID: "ext", Name: "Sales"}, now)
	if !sh.Created.Equal(now) || !sh.LastModified.Equal(now) {
		t.Errorf("shadow without times %+v", sh)
	}
}

func storeGroupShadow(t *testing.T, sh *GroupShadow) *GroupShadow {
	t.Helper()
	b, err := json.Marshal(sh)
	if err != nil {
		t.Fatal(err)
	}
	var out GroupShadow
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestGroupVersion(t *testing.T) {
	g := Group{ID: 1, DisplayName: "A", ExternalID: "e", LastModified: t1}
	v := g.Version()
	for _, edit := range []func(*Group){
		func(g *Group) { g.DisplayName = "B" },
		func(g *Group) { g.ExternalID = "" },
		func(g *Group) { g.LastModified = t1.Add(time.Second) },
		func(g *Group) { g.ID = 2 },
	} {
		h := g
		edit(&h)
		if h.Version() == v {
			t.Errorf("edit %+v keeps the version", h)
		}
	}
	h := g
	h.Members = []Member{{Value: "1"}}
	h.Created = t0
	if h.Version() != v {
		t.Error("version depends on members or created")
	}
}

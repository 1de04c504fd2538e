package mapping

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// DefaultGroupName is the name of Domo's Default group, the ad hoc group every new user joins.
const DefaultGroupName = "Default"

// GroupShadow is what the bridge keeps about a group beyond what Domo holds (Domo v1 groups
// have no externalId and no timestamps). The bridge stores it as JSON, keyed by the Domo id.
type GroupShadow struct {
	ExternalID   string    `json:"externalId,omitempty"`
	Created      time.Time `json:"created,omitzero"`
	LastModified time.Time `json:"lastModified,omitzero"`
	// MemberDisplay holds the display names the IdP sent for members, by member value.
	MemberDisplay map[string]string `json:"memberDisplay,omitempty"`
	// Name is the basis: the group's name in Domo when the shadow was written.
	Name string `json:"name,omitempty"`
	// MemberDigest fingerprints the member set, so that GroupShadowFor sees a membership
	// change without the shadow holding every member id.
	MemberDigest string `json:"memberDigest,omitempty"`
	// Members are the members the IdP put in the group through the bridge, ascending: members
	// Domo holds beyond these were added outside the IdP (the drift report). Meaningful only
	// with MembersKnown; shadows written before the bridge kept them have neither.
	Members      []int64 `json:"members,omitempty"`
	MembersKnown bool    `json:"membersKnown,omitempty"`
}

// GroupFromDomo is the SCIM view of a Domo group. memberIDs are the group's members (nil when
// the caller did not read them); display names a member the IdP gave no display for, and may
// be nil.
func GroupFromDomo(g domo.Group, sh *GroupShadow, memberIDs []int64, display func(userID int64) (string, bool), opt Options) Group {
	// Domo documents the default flag on list rows only; its Default group's name, which no
	// other group can take, identifies it where the flag is missing.
	out := Group{ID: g.ID, DisplayName: g.Name, Default: g.Default || g.Name == DefaultGroupName}
	if sh != nil {
		out.ExternalID = sh.ExternalID
		out.Created = sh.Created
		out.LastModified = sh.LastModified
	}
	if memberIDs == nil {
		return out
	}
	out.Members = make([]Member, len(memberIDs))
	for i, id := range memberIDs {
		m := Member{Value: strconv.FormatInt(id, 10)}
		if sh != nil {
			m.Display = sh.MemberDisplay[m.Value]
		}
		if m.Display == "" && display != nil {
			m.Display, _ = display(id)
		}
		out.Members[i] = m
	}
	return out
}

// Attributes is the full SCIM resource of g. Members are included only when withMembers is
// set and there are some: Entra asks for groups without them, and a large group's list is
// costly.
func (g *Group) Attributes(opt Options, withMembers bool) map[string]any {
	m := make(map[string]any, 6)
	m["schemas"] = []any{URNGroup}
	id := ""
	if g.ID != 0 {
		id = strconv.FormatInt(g.ID, 10)
		m["id"] = id
	}
	putString(m, "externalId", g.ExternalID)
	putString(m, "displayName", g.DisplayName)
	if withMembers && len(g.Members) > 0 {
		members := make([]any, len(g.Members))
		for i, mb := range g.Members {
			o := map[string]any{"value": mb.Value, "$ref": opt.ref("/Users/", mb.Value), "type": "User"}
			putString(o, "display", mb.Display)
			members[i] = o
		}
		m["members"] = members
	}
	meta := map[string]any{"resourceType": "Group", "version": g.Version()}
	if id != "" {
		meta["location"] = opt.ref("/Groups/", id)
	}
	putTime(meta, "created", g.Created)
	putTime(meta, "lastModified", g.LastModified)
	m["meta"] = meta
	return m
}

// Version is a weak ETag over g's name, externalId and modification time. Members are left
// out, because Entra reads groups without them (excludedAttributes=members) and the version
// must not depend on that; the bridge moves LastModified whenever it changes the members.
func (g *Group) Version() string {
	h := fnv(fnvOffset)
	h.int(g.ID)
	h.strs(g.ExternalID, g.DisplayName)
	h.time(g.LastModified)
	return h.etag()
}

// Values is the Group counterpart of User.Values: keys "id", "externalid", "displayname",
// "members" (subs value, display, type) and "meta".
func (g *Group) Values(key, sub string) []any {
	switch key {
	case "id":
		if sub != "" || g.ID == 0 {
			return nil
		}
		return []any{strconv.FormatInt(g.ID, 10)}
	case "externalid":
		if sub != "" {
			return nil
		}
		return one(g.ExternalID)
	case "displayname":
		if sub != "" {
			return nil
		}
		return one(g.DisplayName)
	case "members":
		return memberValues(g.Members, sub)
	case "meta":
		return metaValues(valsGroupType, g.Created, g.LastModified, g.Version, sub)
	case "schemas":
		if sub != "" {
			return nil
		}
		return valsGroupSchemas
	}
	return nil
}

func memberValues(list []Member, sub string) []any {
	return refValues(list, sub, "User", func(m *Member) (string, string) { return m.Value, m.Display })
}

// GroupFromAttributes reads a SCIM group from its canonical attribute map. displayName is
// required. Members are Domo user ids in decimal (the bridge's SCIM ids), each kept once with
// the display the IdP sent. Members is nil when the map has no members attribute, and empty
// (not nil) when it has an empty one, so that a caller can tell "leave members alone" from
// "no members".
func GroupFromAttributes(attrs map[string]any) (Group, error) {
	var g Group
	var err error
	if g.DisplayName, err = getString(attrs, "displayName", "displayName"); err != nil {
		return Group{}, err
	}
	if strings.TrimSpace(g.DisplayName) == "" {
		return Group{}, valueErr("displayName", "displayName is required")
	}
	if g.ExternalID, err = getString(attrs, "externalId", "externalId"); err != nil {
		return Group{}, err
	}
	if _, present := get(attrs, "members"); !present {
		return g, nil
	}
	list, err := getList(attrs, "members", "members")
	if err != nil {
		return Group{}, err
	}
	g.Members = make([]Member, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		el, ok := e.(map[string]any)
		if !ok {
			if e == nil {
				continue
			}
			return Group{}, valueErr("members", "elements must be objects")
		}
		m, err := memberFromAttributes(el)
		if err != nil {
			return Group{}, err
		}
		if !seen[m.Value] {
			seen[m.Value] = true
			g.Members = append(g.Members, m)
		}
	}
	return g, nil
}

func memberFromAttributes(el map[string]any) (Member, error) {
	raw, err := getString(el, "value", "members")
	if err != nil {
		return Member{}, err
	}
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || id <= 0 {
		return Member{}, valueErr("members", "not a user id")
	}
	typ, err := getString(el, "type", "members")
	if err != nil {
		return Member{}, err
	}
	if strings.EqualFold(typ, "Group") {
		return Member{}, valueErr("members", "nested groups are not supported: Domo groups hold users only")
	}
	m := Member{Value: strconv.FormatInt(id, 10)}
	if m.Display, err = getString(el, "display", "members"); err != nil {
		return Member{}, err
	}
	return m, nil
}

// GroupShadowFor is the shadow to store after writing g to Domo: g's externalId and the
// display names its members carry, Created kept from prev (now for a new shadow), and
// LastModified moved to now when the name, externalId, member set or member displays changed.
// When g.Members is nil (members not read), the member part of prev is kept. Build g from a
// view made with a nil display func, so that names the bridge looked up are not stored as the
// IdP's. The IdP's members it keeps are prev's still in g (all of g's when prev does not know
// them); NoteAdded adds those a write put in.
func GroupShadowFor(g Group, prev *GroupShadow, now time.Time) GroupShadow {
	now = now.Round(0).UTC()
	sh := GroupShadow{ExternalID: g.ExternalID, Name: g.DisplayName, Created: now, LastModified: now}
	if prev != nil {
		if !prev.Created.IsZero() {
			sh.Created = prev.Created
		}
		sh.MemberDisplay = maps.Clone(prev.MemberDisplay)
		sh.MemberDigest = prev.MemberDigest
	}
	if g.Members != nil {
		sh.MemberDigest = memberDigest(g.Members)
		sh.MemberDisplay = nil
		for _, m := range g.Members {
			if m.Display != "" {
				if sh.MemberDisplay == nil {
					sh.MemberDisplay = make(map[string]string)
				}
				sh.MemberDisplay[m.Value] = m.Display
			}
		}
	}
	sh.Members, sh.MembersKnown = idpMembers(g, prev)
	if prev != nil && !prev.LastModified.IsZero() &&
		prev.ExternalID == sh.ExternalID && prev.Name == sh.Name &&
		prev.MemberDigest == sh.MemberDigest && maps.Equal(prev.MemberDisplay, sh.MemberDisplay) {
		sh.LastModified = prev.LastModified
	}
	return sh
}

// memberDigest fingerprints the set of member values, independent of order.
func memberDigest(members []Member) string {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.Value
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	h := fnv(fnvOffset)
	h.int(int64(len(ids)))
	for _, id := range ids {
		h.strs(id)
	}
	e := h.etag()
	return e[3 : len(e)-1]
}

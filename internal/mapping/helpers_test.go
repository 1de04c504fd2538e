package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
)

var (
	t0 = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	t1 = time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)
)

const base = "http://127.0.0.1:8080/scim/v2"

func testOpts() Options {
	return Options{BaseURL: base, Roles: NewRoles([]Role{{ID: 2097317660, Name: "Report Viewer"}})}
}

// tenant applies POST and PUT bodies to Domo records the way the v1 API does (merge mode:
// absent fields unchanged, "" clears), through the real UserUpdate encoding, so that what the
// mapping sends is what these tests check. norm stands for whatever Domo normalises.
type tenant struct {
	nextID int64
	norm   func(*domo.User)
	now    time.Time
}

func newTenant() *tenant { return &tenant{nextID: 871428330, now: t0} }

// write returns the response Domo gives and the record a later GET returns.
func (tn *tenant) write(tb testing.TB, cur domo.User, upd domo.UserUpdate) (resp, stored domo.User) {
	tb.Helper()
	body, err := json.Marshal(upd)
	if err != nil {
		tb.Fatalf("marshal update: %v", err)
	}
	create := cur.ID == 0
	rec := cur
	rec.Groups = nil
	if err := json.Unmarshal(body, &rec); err != nil {
		tb.Fatalf("apply update %s: %v", body, err)
	}
	if rec.RoleID == 0 {
		if r, ok := testOpts().Roles.Lookup(rec.Role); ok {
			rec.RoleID = domo.Int(r.ID)
		}
	}
	if tn.norm != nil {
		tn.norm(&rec)
	}
	tn.now = tn.now.Add(time.Hour)
	rec.UpdatedAt = domo.Time{Time: tn.now}
	if create {
		rec.ID = tn.nextID
		tn.nextID += 7919
		rec.CreatedAt = rec.UpdatedAt
	}
	rec.Image = "https://acmecompany.domo.com/avatar/thumb/domo/1"
	resp = rec
	if create {
		// A create response omits timezone and locale and lists the Default group.
		resp.Timezone, resp.Locale = "", ""
		resp.Groups = []domo.GroupRef{{ID: 1324037627, Name: "Default"}}
	}
	stored = rec
	stored.Groups = cur.Groups
	if create {
		stored.Groups = resp.Groups
	}
	return resp, stored
}

// create runs a SCIM create body through the mapping and the tenant, as the bridge does.
func (tn *tenant) create(tb testing.TB, attrs map[string]any, opt Options) (domo.User, *UserShadow) {
	tb.Helper()
	u, err := UserFromAttributes(attrs)
	if err != nil {
		tb.Fatalf("UserFromAttributes: %v", err)
	}
	upd, sh, err := UserToDomo(u, domo.User{}, nil, opt)
	if err != nil {
		tb.Fatalf("UserToDomo (create): %v", err)
	}
	resp, stored := tn.write(tb, domo.User{}, upd)
	sh.Rebase(resp)
	return stored, &sh
}

// replace runs a desired SCIM user through the mapping and, when anything changed, the tenant.
func (tn *tenant) replace(tb testing.TB, u User, cur domo.User, prev *UserShadow, opt Options) (domo.User, *UserShadow, []string) {
	tb.Helper()
	upd, sh, err := UserToDomo(u, cur, prev, opt)
	if err != nil {
		tb.Fatalf("UserToDomo: %v", err)
	}
	changed := ChangedFields(upd, cur)
	if len(changed) == 0 {
		return cur, &sh, nil
	}
	resp, stored := tn.write(tb, cur, upd)
	sh.Rebase(resp)
	return stored, &sh, changed
}

// viaJSON sends attrs through encoding/json as the SCIM layer does (numbers as json.Number).
func viaJSON(tb testing.TB, attrs map[string]any) map[string]any {
	tb.Helper()
	b, err := json.Marshal(attrs)
	if err != nil {
		tb.Fatalf("marshal attributes: %v", err)
	}
	return decode(tb, string(b))
}

func decode(tb testing.TB, s string) map[string]any {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// read is what a GET returns: UserFromDomo, rendered and re-read like a client would.
func read(tb testing.TB, d domo.User, sh *UserShadow, opt Options) (User, map[string]any) {
	tb.Helper()
	u := UserFromDomo(d, sh, opt)
	attrs := viaJSON(tb, u.Attributes(opt))
	back, err := UserFromAttributes(attrs)
	if err != nil {
		tb.Fatalf("UserFromAttributes of a read: %v", err)
	}
	return back, attrs
}

// storeShadow sends a shadow through JSON as the store does.
func storeShadow(tb testing.TB, sh *UserShadow) *UserShadow {
	tb.Helper()
	b, err := json.Marshal(sh)
	if err != nil {
		tb.Fatalf("marshal shadow: %v", err)
	}
	var out UserShadow
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatalf("unmarshal shadow: %v", err)
	}
	return &out
}

func jsonString(tb testing.TB, v any) string {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return strings.TrimSpace(buf.String())
}

func asValueError(tb testing.TB, err error) *ValueError {
	tb.Helper()
	var ve *ValueError
	if !errors.As(err, &ve) {
		tb.Fatalf("error = %v (%T), want *ValueError", err, err)
	}
	return ve
}

// Request bodies as the IdPs send them (docs/idp-clients.md).
const (
	oktaCreate = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
 "name":{"givenName":"Test","familyName":"User"},
 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
 "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
 "groups":[],"password":"1mz050nq","active":true}`
	entraCreate = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
 "externalId":"0a21f0f2-8d2a-4bb6-9d7e-4f2c1e0b5a11","userName":"alice@contoso.com","active":true,
 "emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],
 "meta":{"resourceType":"User"},"name":{"formatted":"Alice Smith","familyName":"Smith","givenName":"Alice"},"roles":[],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"Eqpj","department":"Finance"}}`
	// Microsoft's conformance collection: userNames that are not addresses, a work email
	// shared by several users, and an "email" that is not an address.
	msUserName123 = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"UserName123","active":true,
 "displayName":"BobIsAmazing","externalId":"5d6c7a90-3a1b-4f0e-9c2d-000000000123",
 "name":{"formatted":"Ryan Leenay","familyName":"Leenay","givenName":"Ryan"},
 "emails":[{"primary":true,"type":"work","value":"Test@testdomain.com"},{"type":"home","value":"emailName357"}]}`
	msOMalley = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"OMalley","active":true,
 "emails":[{"primary":true,"type":"work","value":"Test@testdomain.com"}],
 "name":{"familyName":"O'Malley","givenName":"Sean"}}`
	msEmp3 = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"emp3","active":true,
 "emails":[{"primary":true,"type":"work","value":"emailName357"}]}`
)

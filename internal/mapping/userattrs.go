package mapping

import (
	"strconv"
	"strings"
	"time"
)

// Schema URNs of the resources this package builds. They repeat the scim package's constants
// because mapping must not import scim.
const (
	URNUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// Attributes is the full SCIM resource of u: schemas, id, meta and every attribute that has a
// value. Empty attributes are left out, never sent as null. Timestamps are RFC 3339 strings.
func (u *User) Attributes(opt Options) map[string]any {
	m := make(map[string]any, 24)
	if ent := u.enterpriseAttr(opt); ent != nil {
		m[URNEnterprise] = ent
	}
	if d := u.domoAttr(); d != nil {
		m[URNDomoUser] = d
	}
	if c := u.customAttr(); c != nil {
		m[URNCustomUser] = c
	}
	m["schemas"] = u.schemaURNs()
	id := ""
	if u.ID != 0 {
		id = strconv.FormatInt(u.ID, 10)
		m["id"] = id
	}
	putString(m, "externalId", u.ExternalID)
	putString(m, "userName", u.UserName)
	if name := nameAttr(u.Name); len(name) > 0 {
		m["name"] = name
	}
	putString(m, "displayName", u.DisplayName)
	putString(m, "nickName", u.NickName)
	putString(m, "profileUrl", u.ProfileURL)
	putString(m, "title", u.Title)
	putString(m, "userType", u.UserType)
	putString(m, "preferredLanguage", u.PreferredLanguage)
	putString(m, "locale", u.Locale)
	putString(m, "timezone", u.Timezone)
	m["active"] = u.Active
	for _, a := range []struct {
		key  string
		list []Multi
	}{
		{"emails", u.Emails}, {"phoneNumbers", u.PhoneNumbers}, {"ims", u.IMs}, {"photos", u.Photos},
		{"entitlements", u.Entitlements}, {"roles", u.Roles}, {"x509Certificates", u.X509Certificates},
	} {
		if len(a.list) > 0 {
			m[a.key] = multisAttr(a.list)
		}
	}
	if len(u.Addresses) > 0 {
		m["addresses"] = addressesAttr(u.Addresses)
	}
	if len(u.Groups) > 0 {
		groups := make([]any, len(u.Groups))
		for i, g := range u.Groups {
			o := map[string]any{"value": g.Value, "$ref": opt.ref("/Groups/", g.Value), "type": "direct"}
			putString(o, "display", g.Display)
			groups[i] = o
		}
		m["groups"] = groups
	}
	meta := map[string]any{"resourceType": "User", "version": u.Version()}
	if id != "" {
		meta["location"] = opt.ref("/Users/", id)
	}
	putTime(meta, "created", u.Created)
	putTime(meta, "lastModified", u.LastModified)
	m["meta"] = meta
	return m
}

func putTime(m map[string]any, key string, t time.Time) {
	if !t.IsZero() {
		m[key] = t.UTC().Format(time.RFC3339Nano)
	}
}

func nameAttr(n Name) map[string]any {
	m := make(map[string]any, 6)
	putString(m, "formatted", n.Formatted)
	putString(m, "familyName", n.FamilyName)
	putString(m, "givenName", n.GivenName)
	putString(m, "middleName", n.MiddleName)
	putString(m, "honorificPrefix", n.HonorificPrefix)
	putString(m, "honorificSuffix", n.HonorificSuffix)
	return m
}

func (u *User) enterpriseAttr(opt Options) map[string]any {
	e := &u.Enterprise
	if *e == (Enterprise{}) {
		return nil
	}
	m := make(map[string]any, 6)
	putString(m, "employeeNumber", e.EmployeeNumber)
	putString(m, "costCenter", e.CostCenter)
	putString(m, "organization", e.Organization)
	putString(m, "division", e.Division)
	putString(m, "department", e.Department)
	if e.Manager != (Manager{}) {
		mgr := make(map[string]any, 3)
		putString(mgr, "value", e.Manager.Value)
		putString(mgr, "displayName", e.Manager.DisplayName)
		if e.Manager.Value != "" {
			mgr["$ref"] = opt.ref("/Users/", e.Manager.Value)
		}
		m["manager"] = mgr
	}
	return m
}

// UserFromAttributes reads a SCIM user from its canonical attribute map. It ignores the
// read-only and write-only attributes (id, meta, schemas, groups, password). userName is
// required; active defaults to true.
func UserFromAttributes(attrs map[string]any) (User, error) {
	u := User{Active: true}
	var err error
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"userName", &u.UserName}, {"externalId", &u.ExternalID}, {"displayName", &u.DisplayName},
		{"nickName", &u.NickName}, {"profileUrl", &u.ProfileURL}, {"title", &u.Title},
		{"userType", &u.UserType}, {"preferredLanguage", &u.PreferredLanguage},
		{"locale", &u.Locale}, {"timezone", &u.Timezone},
	} {
		if *f.dst, err = getString(attrs, f.key, f.key); err != nil {
			return User{}, err
		}
	}
	if strings.TrimSpace(u.UserName) == "" {
		return User{}, valueErr("userName", "userName is required")
	}
	if u.Active, err = getBool(attrs, "active", "active", true); err != nil {
		return User{}, err
	}
	name, err := getObject(attrs, "name", "name")
	if err != nil {
		return User{}, err
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"formatted", &u.Name.Formatted}, {"familyName", &u.Name.FamilyName}, {"givenName", &u.Name.GivenName},
		{"middleName", &u.Name.MiddleName}, {"honorificPrefix", &u.Name.HonorificPrefix},
		{"honorificSuffix", &u.Name.HonorificSuffix},
	} {
		if *f.dst, err = getString(name, f.key, "name."+f.key); err != nil {
			return User{}, err
		}
	}
	for _, f := range []struct {
		key string
		dst *[]Multi
	}{
		{"emails", &u.Emails}, {"phoneNumbers", &u.PhoneNumbers}, {"ims", &u.IMs}, {"photos", &u.Photos},
		{"entitlements", &u.Entitlements}, {"roles", &u.Roles}, {"x509Certificates", &u.X509Certificates},
	} {
		if *f.dst, err = getMultis(attrs, f.key, f.key); err != nil {
			return User{}, err
		}
	}
	if u.Addresses, err = getAddresses(attrs); err != nil {
		return User{}, err
	}
	if u.Enterprise, err = enterpriseFromAttributes(attrs); err != nil {
		return User{}, err
	}
	if u.Domo, err = domoFromAttributes(attrs); err != nil {
		return User{}, err
	}
	if u.CustomAttributes, err = customFromAttributes(attrs); err != nil {
		return User{}, err
	}
	return u, nil
}

func enterpriseFromAttributes(attrs map[string]any) (Enterprise, error) {
	var e Enterprise
	// URN-qualified keys at the top level ("urn:…:User:employeeNumber"), the form Entra's
	// path-less PATCH values use, count too, in case they reach this far.
	ext, err := extensionObject(attrs, URNEnterprise)
	if err != nil {
		return e, err
	}
	if ext == nil {
		return e, nil
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"employeeNumber", &e.EmployeeNumber}, {"costCenter", &e.CostCenter}, {"organization", &e.Organization},
		{"division", &e.Division}, {"department", &e.Department},
	} {
		if *f.dst, err = getString(ext, f.key, f.key); err != nil {
			return e, err
		}
	}
	mgr, ok := get(ext, "manager")
	if !ok {
		return e, nil
	}
	switch x := mgr.(type) {
	case map[string]any:
		if e.Manager.Value, err = getString(x, "value", "manager"); err != nil {
			return e, err
		}
		if e.Manager.DisplayName, err = getString(x, "displayName", "manager"); err != nil {
			return e, err
		}
	default:
		// Entra sends the manager as a bare id string where the RFC has {value: id}.
		if e.Manager.Value, err = toString(x, "manager"); err != nil {
			return e, err
		}
	}
	return e, nil
}

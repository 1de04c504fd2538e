package domosim

import (
	"net/http"
	"slices"
	"strings"
)

// The instance APIs live on the tenant's own host ({instance}.domo.com/api/...) and take an
// access token an admin made in Domo (X-DOMO-Developer-Token). They are a second face of the
// same tenant: a user or membership written through one face is what the other reads.
//
// Routes (facts file §9):
//
//	GET    /api/identity/v1/users                 {"users":[…]}
//	POST   /api/identity/v1/users                 {displayName, emailAddress, roleId} → user
//	GET    /api/identity/v1/users/{id}            {"users":[user]}
//	PATCH  /api/identity/v1/users/{id}            {displayName?, emailAddress?, roleId?, attributes?} → user
//	DELETE /api/identity/v1/users/{id}            1
//	GET    /api/user/v1/properties/meta/keys      the attribute catalogue
//	GET    /api/authorization/v1/roles            the roles
//	GET    /api/content/v2/groups/{id}            the group with every userId
//	PUT    /api/content/v2/groups/{id}/user       [{id, type:"USER"}…] → true
//	PUT    /api/content/v2/groups/{id}/user/{uid} → true
//	DELETE /api/content/v2/groups/{id}/removeuser/{uid} → true
//	PUT    /api/content/v2/groups/access          [{groupId, addMembers?, removeMembers?}…] → true

func isInstancePath(p string) bool { return strings.HasPrefix(p, "/api/") }

// instanceRoute maps an /api/... request to its template and handler, or reports none.
func (s *Sim) instanceRoute(r *http.Request, seg []string) (string, handler, bool) {
	pick := func(family, tmpl string, alts ...alt) (string, handler, bool) {
		for i := range alts {
			alts[i].h = s.instanceAuthed(family, alts[i].h)
		}
		t, h := pickRoute(r, tmpl, alts...)
		return t, s.instanceExists(family, h), true
	}
	n := len(seg)
	switch {
	case n == 4 && seg[1] == "identity" && seg[2] == "v1" && seg[3] == "users":
		return pick("identity", "/api/identity/v1/users", alt{"GET", s.identityList}, alt{"POST", s.identityCreate})
	case n == 5 && seg[1] == "identity" && seg[2] == "v1" && seg[3] == "users":
		return pick("identity", "/api/identity/v1/users/{id}", alt{"GET", s.identityGet}, alt{"PATCH", s.identityPatch}, alt{"DELETE", s.identityDelete})
	case n == 6 && seg[1] == "user" && seg[2] == "v1" && seg[3] == "properties" && seg[4] == "meta" && seg[5] == "keys":
		return pick("identity", "/api/user/v1/properties/meta/keys", alt{"GET", s.attributeKeys})
	case n == 4 && seg[1] == "authorization" && seg[2] == "v1" && seg[3] == "roles":
		return pick("roles", "/api/authorization/v1/roles", alt{"GET", s.listRoles})
	case n == 5 && seg[1] == "content" && seg[2] == "v2" && seg[3] == "groups" && seg[4] == "access":
		return pick("content", "/api/content/v2/groups/access", alt{"PUT", s.contentAccess})
	case n == 5 && seg[1] == "content" && seg[2] == "v2" && seg[3] == "groups":
		return pick("content", "/api/content/v2/groups/{id}", alt{"GET", s.contentGroup})
	case n == 6 && seg[1] == "content" && seg[2] == "v2" && seg[3] == "groups" && seg[5] == "user":
		return pick("content", "/api/content/v2/groups/{id}/user", alt{"PUT", s.contentAddMany})
	case n == 7 && seg[1] == "content" && seg[2] == "v2" && seg[3] == "groups" && seg[5] == "user":
		return pick("content", "/api/content/v2/groups/{id}/user/{userId}", alt{"PUT", s.contentAddOne})
	case n == 7 && seg[1] == "content" && seg[2] == "v2" && seg[3] == "groups" && seg[5] == "removeuser":
		return pick("content", "/api/content/v2/groups/{id}/removeuser/{userId}", alt{"DELETE", s.contentRemoveOne})
	}
	return "", nil, false
}

// familyOn reports whether list (nil: all families) holds family.
func familyOn(list []string, family string) bool {
	return list == nil || slices.ContainsFunc(list, func(f string) bool { return strings.EqualFold(strings.TrimSpace(f), family) })
}

// instanceExists answers 404 for a family the instance does not have, before anything else,
// as a tenant without the endpoint would.
func (s *Sim) instanceExists(family string, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, opts Options) {
		if !familyOn(opts.InstanceEndpoints, family) {
			writeError(w, r, opts, http.StatusNotFound, "No handler found for "+r.Method+" "+r.URL.Path)
			return
		}
		h(w, r, opts)
	}
}

// instanceAuthed checks the access token: missing, wrong or revoked is 401; a token without
// the family's grant is 403.
func (s *Sim) instanceAuthed(family string, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, opts Options) {
		tok := strings.TrimSpace(r.Header.Get("X-DOMO-Developer-Token"))
		if tok == "" {
			writeError(w, r, opts, http.StatusUnauthorized, "Full authentication is required to access this resource")
			return
		}
		if opts.AccessTokenRevoked || !credsMatch(tok, opts.AccessToken) {
			writeError(w, r, opts, http.StatusUnauthorized, "Invalid or expired access token")
			return
		}
		if !familyOn(opts.InstanceGrants, family) {
			writeError(w, r, opts, http.StatusForbidden, "Forbidden: the access token's owner lacks the grants for this API")
			return
		}
		if !contentTypeOK(r, opts) {
			writeError(w, r, opts, http.StatusUnsupportedMediaType, "Content-Type '"+r.Header.Get("Content-Type")+"' is not supported: application/json is")
			return
		}
		h(w, r, opts)
	}
}

// RevokeAccessToken makes the access token answer 401 from now on, as an admin revoking it in
// Domo would; RestoreAccessToken undoes it.
func (s *Sim) RevokeAccessToken() { s.SetOptions(func(o *Options) { o.AccessTokenRevoked = true }) }

// RestoreAccessToken accepts the access token again.
func (s *Sim) RestoreAccessToken() { s.SetOptions(func(o *Options) { o.AccessTokenRevoked = false }) }

package mapping

import "strings"

// Options are the deployment settings the mapping depends on. The zero value works: system
// roles only, new users become Participants, no login domain, relative URLs.
type Options struct {
	BaseURL          string // absolute SCIM base, e.g. "http://127.0.0.1:8080/scim/v2"; meta.location = BaseURL+"/Users/"+id, $ref likewise
	Roles            *Roles // role catalogue; nil means the system roles only
	DefaultRole      string // Domo role name given to a user created without roles (default "Participant")
	LoginDomain      string // domain that turns a userName which is not an email address into a Domo login
	HideDefaultGroup bool   // leave Domo's Default group out of users' groups
	// NumericEmployeeNumber also writes an all-digit enterprise employeeNumber to Domo's
	// integer employeeNumber field (it always goes to employeeId).
	NumericEmployeeNumber bool
}

// DefaultRoleName is the role of a user created without roles when Options.DefaultRole is
// empty: the least privileged role that can still view content.
const DefaultRoleName = "Participant"

func (o Options) roles() *Roles {
	if o.Roles == nil {
		return defaultRoles
	}
	return o.Roles
}

func (o Options) defaultRole() string {
	if o.DefaultRole == "" {
		return DefaultRoleName
	}
	return o.DefaultRole
}

func (o Options) ref(endpoint, id string) string {
	return strings.TrimRight(o.BaseURL, "/") + endpoint + id
}

package mapping

import "time"

// User is the SCIM view of one Domo user: the core User attributes and the enterprise
// extension the bridge serves. It is what the index keeps per user and what filters read
// (through Values), so it holds no maps and no pointers it does not need.
type User struct {
	ID                int64
	ExternalID        string
	UserName          string
	Name              Name
	DisplayName       string
	NickName          string
	ProfileURL        string
	Title             string
	UserType          string
	PreferredLanguage string
	Locale            string
	Timezone          string
	Active            bool
	Emails            []Multi
	PhoneNumbers      []Multi
	IMs               []Multi
	Photos            []Multi
	Entitlements      []Multi
	Roles             []Multi
	X509Certificates  []Multi
	Addresses         []Address
	Groups            []GroupRef // read-only: Domo's memberships
	Enterprise        Enterprise
	Domo              DomoExt           // Domo's own SCIM extension (hireDate, employeeLocation)
	CustomAttributes  []CustomAttribute // Domo's custom extension: attributes by their Domo key
	Created           time.Time
	LastModified      time.Time
}

// Name is the SCIM name complex attribute.
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// Multi is an element of a multi-valued attribute with the standard sub-attributes (emails,
// phoneNumbers, ims, photos, entitlements, roles, x509Certificates).
type Multi struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Address is an element of addresses.
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	Primary       bool   `json:"primary,omitempty"`
}

// GroupRef is an element of a user's read-only groups attribute.
type GroupRef struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
}

// Enterprise is the enterprise User extension.
type Enterprise struct {
	EmployeeNumber string  `json:"employeeNumber,omitempty"`
	CostCenter     string  `json:"costCenter,omitempty"`
	Organization   string  `json:"organization,omitempty"`
	Division       string  `json:"division,omitempty"`
	Department     string  `json:"department,omitempty"`
	Manager        Manager `json:"manager,omitzero"`
}

// Manager is the enterprise manager reference.
type Manager struct {
	Value       string `json:"value,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// DomoExt is the extension Domo's own SCIM defines for users
// (urn:ietf:params:scim:schemas:extension:domo:2.0:User).
type DomoExt struct {
	HireDate         string `json:"hireDate,omitempty"`
	EmployeeLocation string `json:"employeeLocation,omitempty"`
}

// CustomAttribute is one element of customAttributes in Domo's custom extension
// (urn:ietf:params:scim:schemas:extension:custom:2.0:User): a Domo user attribute by its key
// (case-sensitive, as Domo has it) and its values.
type CustomAttribute struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
	// Flat marks an attribute the IdP wrote as its own key under the extension
	// ("urn:…:custom:2.0:User": {"costCenter": "CC-7"}), which reads back so, with its one
	// value, rather than as an element of customAttributes.
	Flat bool `json:"flat,omitempty"`
}

// Group is the SCIM view of one Domo group.
type Group struct {
	ID           int64
	ExternalID   string
	DisplayName  string
	Members      []Member
	Default      bool // Domo's Default group: never renamed or deleted
	Created      time.Time
	LastModified time.Time
}

// Member is an element of a group's members attribute. Value is the user's SCIM id.
type Member struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
}

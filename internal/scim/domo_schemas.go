package scim

import (
	"strings"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schema URNs of Domo's own SCIM user extensions (Domo KB 000005241), served so that a tenant
// moves between Domo's SCIM and the bridge without changing its IdP's mappings.
const (
	URNDomoUser   = "urn:ietf:params:scim:schemas:extension:domo:2.0:User"
	URNCustomUser = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
)

// DomoUserExtension is Domo's extension: hireDate and employeeLocation. Domo calls hireDate a
// date and documents no format, so it is a string here (an IdP's "2021-04-01" is not an
// xsd:dateTime).
func DomoUserExtension() schema.Schema {
	return schema.Schema{
		ID:          URNDomoUser,
		Name:        optional.NewString("DomoUser"),
		Description: optional.NewString("Domo's user extension"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name:        "hireDate",
				Description: optional.NewString("The day the user was hired: Domo's Hire Date attribute."),
			})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name:        "employeeLocation",
				Description: optional.NewString("Where the user works: Domo's Location."),
			})),
		},
	}
}

// CustomUserExtension is Domo's custom attribute extension: customAttributes, each a Domo user
// attribute by its key (case-sensitive, as created in Domo) with its values. Any other name
// under the extension is taken as a key with one value (flatCustomAttribute).
func CustomUserExtension() schema.Schema {
	return schema.Schema{
		ID:          URNCustomUser,
		Name:        optional.NewString("CustomUser"),
		Description: optional.NewString("Domo's custom user attributes"),
		Attributes: []schema.CoreAttribute{
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "customAttributes",
				MultiValued: true,
				Description: optional.NewString("Domo user attributes, which drive dynamic groups and PDP. The key must exist in Domo (Admin > Governance > User attributes)."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{
						Name:        "key",
						Required:    true,
						CaseExact:   true,
						Description: optional.NewString("The attribute's key in Domo, case-sensitive."),
					}),
					schema.SimpleStringParams(schema.StringParams{
						Name:        "values",
						MultiValued: true,
						CaseExact:   true,
						Description: optional.NewString("The attribute's values."),
					}),
				},
			}),
		},
	}
}

// flatCustomAttribute is a Domo attribute key written directly under the custom extension,
// as Okta (an app attribute with that external namespace and the key as external name) and
// Entra (a target attribute "urn:ietf:params:scim:schemas:extension:custom:2.0:User:<key>")
// send it: a single string, the key exactly as written.
func flatCustomAttribute(name string) (schema.CoreAttribute, bool) {
	if name == "" || len(name) > 128 || strings.ContainsAny(name, ".[]:\"\\ \t\r\n") {
		return schema.CoreAttribute{}, false
	}
	return schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
		Name:        name,
		CaseExact:   true,
		Description: optional.NewString("A Domo user attribute, by its key."),
	})), true
}

package scim

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// The schemas the bridge serves are RFC 7643's, as the elimity schema package builds them,
// corrected where the bridge behaves otherwise: discovery must describe what a request really
// does, because clients such as Entra's gallery validator derive their requests from it.
//
//   - Group displayName is unique (409 uniqueness), as Domo requires.
//   - Group members are Users only: Domo v1 has no nested groups, so members.type can only be
//     "User" and members.$ref only references Users. members.display is what the client wrote
//     for the member (or the user's displayName), and may be rewritten.
//   - The enterprise manager.$ref is derived from manager.value by the bridge: readOnly.
//   - A user's groups.$ref references Groups, not Users.
//   - Attributes the bridge fills in when the client removes them say so in their description
//     ("If removed, ..."); a test derives requests from these descriptions.
//
// roles[].value lists the tenant's Domo roles as canonicalValues; they are only known at run
// time, so discovery adds them (Config.RoleNames) when it renders the schema.

func userSchema() schema.Schema {
	s := schema.CoreUserSchema()
	s.Attributes = replaceAttrs(s.Attributes,
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			Description: optional.NewString("The name of the User, suitable for display to end-users: Domo's name for the user. " +
				"If removed (or never sent), it reads back as the name the bridge gives Domo, derived from name.formatted, else from " +
				"givenName and familyName, else Domo's own."),
			Name: "displayName",
		})),
		schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{
			Description: optional.NewString("A Boolean value indicating the User's administrative status; false deprovisions the " +
				"Domo user by the bridge's policy. If removed (or never sent), it reads back as true."),
			Name: "active",
		})),
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			Description: optional.NewString("Accepted and never stored, sent to Domo or returned: Domo users sign in through single " +
				"sign-on or Domo's invitation (changePassword is not supported)."),
			Mutability: schema.AttributeMutabilityWriteOnly(),
			Name:       "password",
			Returned:   schema.AttributeReturnedNever(),
		})),
		schema.ComplexCoreAttribute(schema.ComplexParams{
			Description: optional.NewString("A list of groups to which the user belongs, from Domo's group memberships (direct only: " +
				"Domo has no nested groups). Change them through the Groups endpoint."),
			MultiValued: true,
			Mutability:  schema.AttributeMutabilityReadOnly(),
			Name:        "groups",
			SubAttributes: []schema.SimpleParams{
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("The identifier of the User's group."),
					Mutability:  schema.AttributeMutabilityReadOnly(),
					Name:        "value",
				}),
				schema.SimpleReferenceParams(schema.ReferenceParams{
					Description:    optional.NewString("The URI of the corresponding 'Group' resource to which the user belongs."),
					Mutability:     schema.AttributeMutabilityReadOnly(),
					Name:           "$ref",
					ReferenceTypes: []schema.AttributeReferenceType{"Group"},
				}),
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("A human-readable name, primarily used for display purposes. READ-ONLY."),
					Mutability:  schema.AttributeMutabilityReadOnly(),
					Name:        "display",
				}),
				schema.SimpleStringParams(schema.StringParams{
					CanonicalValues: []string{"direct"},
					Description:     optional.NewString("A label indicating the membership's function: always 'direct'."),
					Mutability:      schema.AttributeMutabilityReadOnly(),
					Name:            "type",
				}),
			},
		}),
		schema.ComplexCoreAttribute(schema.ComplexParams{
			Description: optional.NewString("The User's Domo role: value names a Domo role, case-insensitively, or its id, and the " +
				"primary role (else the first) is the one Domo holds. A Domo user always has one role: a User created without roles " +
				"gets the bridge's default role in Domo, and removing roles leaves the Domo role unchanged; either way roles reads " +
				"back as the client left it until the role is changed in Domo."),
			MultiValued: true,
			Name:        "roles",
			SubAttributes: []schema.SimpleParams{
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("The name (or id) of a Domo role."),
					Name:        "value",
				}),
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("A human-readable name, primarily used for display purposes."),
					Name:        "display",
				}),
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("A label indicating the attribute's function."),
					Name:        "type",
				}),
				schema.SimpleBooleanParams(schema.BooleanParams{
					Description: optional.NewString("A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once."),
					Name:        "primary",
				}),
			},
		}),
	)
	return s
}

func enterpriseSchema() schema.Schema {
	s := schema.ExtensionEnterpriseUser()
	s.Attributes = replaceAttrs(s.Attributes,
		schema.ComplexCoreAttribute(schema.ComplexParams{
			Description: optional.NewString("The User's manager. A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User."),
			Name:        "manager",
			SubAttributes: []schema.SimpleParams{
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("The id of the SCIM resource representing the User's manager."),
					Name:        "value",
				}),
				schema.SimpleReferenceParams(schema.ReferenceParams{
					Description:    optional.NewString("The URI of the SCIM resource representing the User's manager, derived from value. READ-ONLY."),
					Mutability:     schema.AttributeMutabilityReadOnly(),
					Name:           "$ref",
					ReferenceTypes: []schema.AttributeReferenceType{"User"},
				}),
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("The displayName of the User's manager. OPTIONAL and READ-ONLY."),
					Mutability:  schema.AttributeMutabilityReadOnly(),
					Name:        "displayName",
				}),
			},
		}),
	)
	return s
}

func groupSchema() schema.Schema {
	s := schema.CoreGroupSchema()
	s.Attributes = replaceAttrs(s.Attributes,
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			Description: optional.NewString("A human-readable name for the Group, Domo's group name: unique, compared case-insensitively. REQUIRED."),
			Name:        "displayName",
			Required:    true,
			Uniqueness:  schema.AttributeUniquenessServer(),
		})),
		schema.ComplexCoreAttribute(schema.ComplexParams{
			Description: optional.NewString("A list of members of the Group: Users only (Domo has no nested groups)."),
			MultiValued: true,
			Name:        "members",
			SubAttributes: []schema.SimpleParams{
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("The id of the User who is a member of this Group."),
					Mutability:  schema.AttributeMutabilityImmutable(),
					Name:        "value",
				}),
				schema.SimpleReferenceParams(schema.ReferenceParams{
					Description:    optional.NewString("The URI of the User who is a member of this Group, derived from value."),
					Mutability:     schema.AttributeMutabilityImmutable(),
					Name:           "$ref",
					ReferenceTypes: []schema.AttributeReferenceType{"User"},
				}),
				schema.SimpleStringParams(schema.StringParams{
					CanonicalValues: []string{"User"},
					Description:     optional.NewString("The type of the member: always 'User'; any other value is refused."),
					Mutability:      schema.AttributeMutabilityImmutable(),
					Name:            "type",
				}),
				schema.SimpleStringParams(schema.StringParams{
					Description: optional.NewString("A human-readable name for the member, as the client wrote it, else the User's displayName."),
					Name:        "display",
				}),
			},
		}),
	)
	return s
}

// replaceAttrs returns attrs with each attribute of repl in place of the one of the same name.
func replaceAttrs(attrs schema.Attributes, repl ...schema.CoreAttribute) schema.Attributes {
	out := append(schema.Attributes(nil), attrs...)
	for _, r := range repl {
		found := false
		for i, a := range out {
			if strings.EqualFold(a.Name(), r.Name()) {
				out[i], found = r, true
			}
		}
		if !found {
			panic(fmt.Sprintf("scim: schema has no attribute %q to replace", r.Name()))
		}
	}
	return out
}

// closedValues are the sub-attributes whose canonicalValues are the only values accepted,
// keyed by "attribute.sub" (lower case); elsewhere canonical values are suggestions (RFC 7643
// §7), as for emails[].type.
var closedValues = map[string]bool{"members.type": true}

// idpSchemaURNs are schema URNs identity providers put in a resource's schemas list that
// name no attributes the bridge serves; they are accepted and ignored. Microsoft's
// provisioning (and its Postman collection) sends the first with every group.
var idpSchemaURNs = map[string]*ResourceType{
	"http://schemas.microsoft.com/2006/11/resourcemanagement/adscim/2.0/group": GroupType,
	"http://schemas.microsoft.com/2006/11/resourcemanagement/adscim/2.0/user":  UserType,
}

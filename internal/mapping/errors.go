package mapping

// ValueError reports a SCIM value the bridge cannot accept (the bridge answers 400 invalidValue).
// Detail is written for the client: it names the problem, never a secret, and quotes a value
// only where the value is a name the client chose (a role).
type ValueError struct {
	Attr   string // SCIM attribute name, as in RFC 7643 ("userName", "roles", "members")
	Detail string
}

func (e *ValueError) Error() string {
	return "invalid value for " + e.Attr + ": " + e.Detail
}

func valueErr(attr, detail string) *ValueError { return &ValueError{Attr: attr, Detail: detail} }

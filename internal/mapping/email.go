package mapping

import "strings"

// wellFormedEmail reports whether s looks like an address Domo accepts as a login: one "@",
// a local part without spaces or the characters RFC 5322 reserves, and a dotted domain of
// letters, digits and hyphens. It is deliberately stricter than net/mail, which also takes
// display names and comments ("Bob <bob@x>"), and looser than a full RFC grammar.
func wellFormedEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at > 64 || at != strings.LastIndexByte(s, '@') || len(s) > 254 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),:;<>[\]`, c) >= 0 {
			return false
		}
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// loginLocalPart turns a userName that is not an address into the local part of a Domo login:
// ASCII letters (lower-cased), digits and . _ - + survive, every other rune becomes '-' (an
// accented letter too: Domo's address check is not known to accept non-ASCII logins), dots are
// kept off the ends and out of runs, and the result is cut to the 64 bytes a local part may
// have, so that the address stays well formed.
func loginLocalPart(userName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(userName)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '+':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), ".")
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], ".")
	}
	if strings.Trim(s, "-") == "" {
		return "" // nothing of the userName survived
	}
	return s
}

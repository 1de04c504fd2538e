package index

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldKey maps s to a key that two strings share exactly when strings.EqualFold holds for
// them, which is how filters compare userName, emails and group names. Lower-casing is not
// that: "ſ" (long s) and "s", or "ς" and "σ", fold together yet lower-case apart, and "İ"
// lower-cases to "i" without folding to it. Each rune becomes one member of its
// simple-folding orbit: the lower-case letter for orbits with an ASCII letter, else the
// smallest member. Invalid UTF-8 bytes become U+FFFD, as EqualFold reads them. A string that
// is already ASCII without upper case is its own key, so the common key shares the indexed
// string's bytes.
func foldKey(s string) string {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			break
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	low := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		low = min(low, f)
	}
	if low < utf8.RuneSelf {
		return foldRune(low) // K, k and the Kelvin sign all become k
	}
	// Not unicode.ToLower(low): that can leave the orbit (İ lower-cases to i, yet
	// strings.EqualFold("İ", "i") is false).
	return low
}

package store

import (
	"fmt"
	"time"
)

// timeLayout is fixed-width with nanoseconds and always UTC ("Z"), so stored times compare
// correctly as text (the audit indexes rely on that), keep sub-second precision, and stay
// readable to the sqlite3 shell and its date functions.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime renders t for storage. Years outside 0000-9999 would break the fixed width
// and with it the ordering, so they are refused.
func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %s is outside years 0000-9999", t.Format(time.RFC3339))
	}
	return t.Format(timeLayout), nil
}

// boundTime renders a filter bound, clamping it into the storable range rather than failing.
func boundTime(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Year() < 0:
		return time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Format(timeLayout)
	case t.Year() > 9999:
		return time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC).Format(timeLayout)
	}
	return t.Format(timeLayout)
}

// parseTime reads a stored time.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// now is the store's clock, in UTC.
func now() time.Time { return time.Now().UTC() }

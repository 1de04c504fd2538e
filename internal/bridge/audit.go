package bridge

import (
	"context"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/store"
)

// AuditReader reads the audit log; *store.Store is one.
type AuditReader interface {
	AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error)
}

// AuditQuery selects audit events for `scimbridge audit` and the status page. Zero fields do
// not filter. User matches the user's own events and the membership changes that name it.
type AuditQuery struct {
	Since, Until time.Time
	User, Group  string // SCIM ids
	Token        string // token name
	Limit        int    // at most this many, the newest; 0 means 100
	Page         int    // events per store query while scanning; 0 means 1000
}

// SearchAudit returns the newest q.Limit matching events, newest first. A user's membership
// changes are recorded against the group (the Domo call names the user), and the store
// filters by resource only, so a user or token filter scans the time range page by page.
func SearchAudit(ctx context.Context, st AuditReader, q AuditQuery) ([]store.AuditEvent, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	f := store.AuditFilter{Since: q.Since, Until: q.Until, Limit: q.Limit}
	if q.Group != "" {
		f.Resource, f.ResourceID = kindGroup, q.Group
	}
	match := func(e store.AuditEvent) bool {
		if q.Token != "" && e.Token != q.Token {
			return false
		}
		if q.User != "" && !(e.Resource == kindUser && e.ResourceID == q.User) && !strings.HasSuffix(e.DomoCall, "/users/"+q.User) {
			return false
		}
		return true
	}
	if q.User == "" && q.Token == "" {
		return st.AuditEvents(ctx, f)
	}
	var out []store.AuditEvent
	seen := map[int64]bool{}
	page := q.Page
	if page <= 0 {
		page = 1000
	}
	f.Limit = page
	for {
		events, err := st.AuditEvents(ctx, f)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, e := range events {
			if seen[e.ID] {
				continue
			}
			seen[e.ID], fresh = true, fresh+1
			if match(e) {
				out = append(out, e)
				if len(out) == q.Limit {
					return out, nil
				}
			}
		}
		if len(events) < page {
			return out, nil
		}
		// The next page ends at the oldest time seen, inclusive, so events that share that
		// instant are not skipped. A page with nothing new is one instant holding more events
		// than a page: read it again with a larger page.
		if fresh == 0 {
			page *= 2
			f.Limit = page
			continue
		}
		f.Until = events[len(events)-1].Time.Add(time.Nanosecond)
	}
}

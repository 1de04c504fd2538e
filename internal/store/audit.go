package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

const (
	// defaultAuditLimit is how many events AuditEvents returns when the filter sets no limit.
	defaultAuditLimit = 1000

	// defaultPruneBatch bounds one prune statement, so a large prune holds the single write
	// connection for short turns and other writes interleave.
	defaultPruneBatch = 5000
)

// AuditEvent is one Domo write the bridge made, or one thing it did or refused without a Domo
// call (an operator's switch, a deactivation under the mark policy, a deprovision the breaker
// refused), which has an empty DomoCall. It names things, never secrets or values.
type AuditEvent struct {
	ID         int64     // assigned by the store
	Time       time.Time // set by the store if zero
	Token      string    // the NAME of the bearer token used (never the token)
	RequestID  string
	Operation  string // SCIM operation, e.g. "PATCH /Users/123"
	DomoCall   string // e.g. "PUT /v1/users/123"; "" for an event without a Domo call
	Resource   string // "User" | "Group" | "Bridge" (the operator's switches)
	ResourceID string
	Fields     []string // which fields changed (names only, never values)
	Outcome    string   // "ok" or an error summary without secrets
}

// AuditFilter selects audit events. Zero fields do not filter; Since is inclusive and Until
// exclusive; Resource and ResourceID match exactly.
type AuditFilter struct {
	Since, Until time.Time
	ResourceID   string
	Resource     string
	Limit        int // 0 means 1000
}

// Audit appends e to the audit log. Every event is kept as given: the log accepts events
// with empty fields rather than lose a record of a write that happened.
func (s *SQLite) Audit(ctx context.Context, e AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = now()
	}
	t, err := formatTime(e.Time)
	if err != nil {
		return fmt.Errorf("store: audit %s %s %s: %w", e.Operation, e.Resource, e.ResourceID, err)
	}
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	fj, err := json.Marshal(fields)
	if err != nil { // cannot happen for []string; kept so a future type change cannot drop events silently
		return fmt.Errorf("store: audit %s %s %s: encode fields: %w", e.Operation, e.Resource, e.ResourceID, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO audit
(time, token, request_id, operation, domo_call, resource, resource_id, fields, outcome)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t, e.Token, e.RequestID, e.Operation, e.DomoCall, e.Resource, e.ResourceID, string(fj), e.Outcome)
	if err != nil {
		return fmt.Errorf("store: audit %s %s %s: %w", e.Operation, e.Resource, e.ResourceID, err)
	}
	return nil
}

// AuditEvents returns the events matching f, newest first.
func (s *SQLite) AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: list audit events: negative limit %d", f.Limit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, boundTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, boundTime(f.Until))
	}
	if f.Resource != "" {
		where = append(where, "resource = ?")
		args = append(args, f.Resource)
	}
	if f.ResourceID != "" {
		where = append(where, "resource_id = ?")
		args = append(args, f.ResourceID)
	}
	q := `SELECT id, time, token, request_id, operation, domo_call, resource, resource_id, fields, outcome FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC, id DESC LIMIT ?"
	args = append(args, limit)

	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var t, fj string
		if err := rows.Scan(&e.ID, &t, &e.Token, &e.RequestID, &e.Operation, &e.DomoCall,
			&e.Resource, &e.ResourceID, &fj, &e.Outcome); err != nil {
			return nil, fmt.Errorf("store: list audit events: %w", err)
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("store: list audit events: event %d: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(fj), &e.Fields); err != nil {
			return nil, fmt.Errorf("store: list audit events: event %d: fields: %w", e.ID, err)
		}
		if len(e.Fields) == 0 {
			e.Fields = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list audit events: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the events older than before and returns how many it deleted. It works
// in batches so a large prune does not hold up the bridge's other writes.
func (s *SQLite) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, errors.New("store: prune audit: zero cutoff time")
	}
	cutoff := boundTime(before)
	var total int64
	for {
		res, err := s.w.ExecContext(ctx, `DELETE FROM audit WHERE id IN
(SELECT id FROM audit WHERE time < ? ORDER BY time LIMIT ?)`, cutoff, s.pruneBatch)
		if err != nil {
			return total, fmt.Errorf("store: prune audit before %s after %d deleted: %w", cutoff, total, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: prune audit before %s after %d deleted: %w", cutoff, total, err)
		}
		total += n
		if n < int64(s.pruneBatch) {
			return total, nil
		}
	}
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"
)

// Shadow is what the bridge keeps about one Domo user or group that Domo cannot hold. Data is
// JSON the store does not interpret.
type Shadow struct {
	ID         int64 // the Domo id
	ExternalID string
	Data       []byte
	Updated    time.Time
}

// shadowTable holds the SQL for one shadow table. Users and groups share every rule and
// differ only in the table, so one implementation serves both.
type shadowTable struct {
	noun                string // "user" or "group", for error messages
	get, put, del, list string
}

// newShadowTable builds the statements for table, which is always one of this package's
// constants, never input.
func newShadowTable(noun, table string) shadowTable {
	return shadowTable{
		noun: noun,
		get:  fmt.Sprintf(`SELECT coalesce(external_id, ''), data, updated FROM %q WHERE id = ?`, table),
		put: fmt.Sprintf(`INSERT INTO %q (id, external_id, data, updated) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET external_id = excluded.external_id, data = excluded.data, updated = excluded.updated`, table),
		del:  fmt.Sprintf(`DELETE FROM %q WHERE id = ?`, table),
		list: fmt.Sprintf(`SELECT id, coalesce(external_id, ''), data, updated FROM %q ORDER BY id`, table),
	}
}

// UserShadow returns the shadow of Domo user id; ok is false when there is none.
func (s *SQLite) UserShadow(ctx context.Context, id int64) (Shadow, bool, error) {
	return s.shadow(ctx, s.users, id)
}

// PutUserShadow creates or replaces the shadow of user sh.ID. A zero Updated is set to now.
func (s *SQLite) PutUserShadow(ctx context.Context, sh Shadow) error {
	return s.putShadow(ctx, s.users, sh)
}

// DeleteUserShadow removes the shadow of user id; a missing shadow is not an error.
func (s *SQLite) DeleteUserShadow(ctx context.Context, id int64) error {
	return s.deleteShadow(ctx, s.users, id)
}

// UserShadows yields every user shadow in id order, as of one consistent snapshot taken when
// the loop starts. It streams, holding one read connection until the loop ends; a failure is
// yielded once as the error and ends the sequence.
func (s *SQLite) UserShadows(ctx context.Context) iter.Seq2[Shadow, error] {
	return s.shadows(ctx, s.users)
}

// GroupShadow returns the shadow of Domo group id; ok is false when there is none.
func (s *SQLite) GroupShadow(ctx context.Context, id int64) (Shadow, bool, error) {
	return s.shadow(ctx, s.groups, id)
}

// PutGroupShadow creates or replaces the shadow of group sh.ID. A zero Updated is set to now.
func (s *SQLite) PutGroupShadow(ctx context.Context, sh Shadow) error {
	return s.putShadow(ctx, s.groups, sh)
}

// DeleteGroupShadow removes the shadow of group id; a missing shadow is not an error.
func (s *SQLite) DeleteGroupShadow(ctx context.Context, id int64) error {
	return s.deleteShadow(ctx, s.groups, id)
}

// GroupShadows yields every group shadow in id order, streaming like UserShadows.
func (s *SQLite) GroupShadows(ctx context.Context) iter.Seq2[Shadow, error] {
	return s.shadows(ctx, s.groups)
}

func (s *SQLite) shadow(ctx context.Context, t shadowTable, id int64) (Shadow, bool, error) {
	sh := Shadow{ID: id}
	var updated string
	err := s.r.QueryRowContext(ctx, t.get, id).Scan(&sh.ExternalID, &sh.Data, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Shadow{}, false, nil
	}
	if err == nil {
		sh.Updated, err = parseTime(updated)
	}
	if err != nil {
		return Shadow{}, false, fmt.Errorf("store: get %s shadow %d: %w", t.noun, id, err)
	}
	return sh, true, nil
}

func (s *SQLite) putShadow(ctx context.Context, t shadowTable, sh Shadow) error {
	if err := s.writeShadow(ctx, t, sh); err != nil {
		return fmt.Errorf("store: put %s shadow %d: %w", t.noun, sh.ID, err)
	}
	return nil
}

func (s *SQLite) writeShadow(ctx context.Context, t shadowTable, sh Shadow) error {
	// Domo ids are positive; anything else is a caller bug that would otherwise sit in the
	// table unnoticed.
	if sh.ID <= 0 {
		return errors.New("id must be positive")
	}
	// Opaque to the store, but a shadow that is not JSON would only fail later, on read, far
	// from the write that caused it.
	if !json.Valid(sh.Data) {
		return errors.New("data is not valid JSON")
	}
	if sh.Updated.IsZero() {
		sh.Updated = now()
	}
	updated, err := formatTime(sh.Updated)
	if err != nil {
		return err
	}
	var ext any // empty means none: NULL keeps the external_id index to real values
	if sh.ExternalID != "" {
		ext = sh.ExternalID
	}
	_, err = s.w.ExecContext(ctx, t.put, sh.ID, ext, sh.Data, updated)
	return err
}

func (s *SQLite) deleteShadow(ctx context.Context, t shadowTable, id int64) error {
	if _, err := s.w.ExecContext(ctx, t.del, id); err != nil {
		return fmt.Errorf("store: delete %s shadow %d: %w", t.noun, id, err)
	}
	return nil
}

func (s *SQLite) shadows(ctx context.Context, t shadowTable) iter.Seq2[Shadow, error] {
	return func(yield func(Shadow, error) bool) {
		rows, err := s.r.QueryContext(ctx, t.list)
		if err != nil {
			yield(Shadow{}, fmt.Errorf("store: list %s shadows: %w", t.noun, err))
			return
		}
		defer rows.Close()
		var last int64 // names where a failure struck, without exposing data
		for rows.Next() {
			var sh Shadow
			var updated string
			if err := rows.Scan(&sh.ID, &sh.ExternalID, &sh.Data, &updated); err != nil {
				yield(Shadow{}, fmt.Errorf("store: list %s shadows after id %d: %w", t.noun, last, err))
				return
			}
			if sh.Updated, err = parseTime(updated); err != nil {
				yield(Shadow{}, fmt.Errorf("store: list %s shadows: %s shadow %d: %w", t.noun, t.noun, sh.ID, err))
				return
			}
			last = sh.ID
			if !yield(sh, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Shadow{}, fmt.Errorf("store: list %s shadows after id %d: %w", t.noun, last, err))
		}
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
)

// newPGShadowTable builds the PostgreSQL statements for table, which is always one of this
// package's constants, never input.
func newPGShadowTable(noun, table string) shadowTable {
	return shadowTable{
		noun: noun,
		get:  fmt.Sprintf(`SELECT coalesce(external_id, ''), data, updated FROM %q WHERE id = $1`, table),
		put: fmt.Sprintf(`INSERT INTO %q (id, external_id, data, updated) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET external_id = excluded.external_id, data = excluded.data, updated = excluded.updated`, table),
		del:  fmt.Sprintf(`DELETE FROM %q WHERE id = $1`, table),
		list: fmt.Sprintf(`SELECT id, coalesce(external_id, ''), data, updated FROM %q ORDER BY id`, table),
	}
}

// UserShadow returns the shadow of Domo user id; ok is false when there is none.
func (s *Postgres) UserShadow(ctx context.Context, id int64) (Shadow, bool, error) {
	return s.shadow(ctx, s.users, id)
}

// PutUserShadow creates or replaces the shadow of user sh.ID. A zero Updated is set to now.
func (s *Postgres) PutUserShadow(ctx context.Context, sh Shadow) error {
	return s.putShadow(ctx, s.users, sh)
}

// DeleteUserShadow removes the shadow of user id; a missing shadow is not an error.
func (s *Postgres) DeleteUserShadow(ctx context.Context, id int64) error {
	return s.deleteShadow(ctx, s.users, id)
}

// UserShadows yields every user shadow in id order, from one statement (one consistent view
// of the table). It streams, holding one connection until the loop ends.
func (s *Postgres) UserShadows(ctx context.Context) iter.Seq2[Shadow, error] {
	return s.shadows(ctx, s.users)
}

// GroupShadow returns the shadow of Domo group id; ok is false when there is none.
func (s *Postgres) GroupShadow(ctx context.Context, id int64) (Shadow, bool, error) {
	return s.shadow(ctx, s.groups, id)
}

// PutGroupShadow creates or replaces the shadow of group sh.ID. A zero Updated is set to now.
func (s *Postgres) PutGroupShadow(ctx context.Context, sh Shadow) error {
	return s.putShadow(ctx, s.groups, sh)
}

// DeleteGroupShadow removes the shadow of group id; a missing shadow is not an error.
func (s *Postgres) DeleteGroupShadow(ctx context.Context, id int64) error {
	return s.deleteShadow(ctx, s.groups, id)
}

// GroupShadows yields every group shadow in id order, streaming like UserShadows.
func (s *Postgres) GroupShadows(ctx context.Context) iter.Seq2[Shadow, error] {
	return s.shadows(ctx, s.groups)
}

func (s *Postgres) shadow(ctx context.Context, t shadowTable, id int64) (Shadow, bool, error) {
	sh := Shadow{ID: id}
	var updated string
	err := s.pool.QueryRow(ctx, t.get, id).Scan(&sh.ExternalID, &sh.Data, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return Shadow{}, false, nil
	}
	if err == nil {
		sh.Updated, err = parseTime(updated)
	}
	if err != nil {
		return Shadow{}, false, fmt.Errorf("store: get %s shadow %d: %w", t.noun, id, pgFail(err))
	}
	return sh, true, nil
}

func (s *Postgres) putShadow(ctx context.Context, t shadowTable, sh Shadow) error {
	ext, updated, err := shadowColumns(sh)
	if err == nil {
		_, err = s.pool.Exec(ctx, t.put, sh.ID, ext, sh.Data, updated)
	}
	if err != nil {
		return fmt.Errorf("store: put %s shadow %d: %w", t.noun, sh.ID, pgFail(err))
	}
	return nil
}

func (s *Postgres) deleteShadow(ctx context.Context, t shadowTable, id int64) error {
	if _, err := s.pool.Exec(ctx, t.del, id); err != nil {
		return fmt.Errorf("store: delete %s shadow %d: %w", t.noun, id, pgFail(err))
	}
	return nil
}

func (s *Postgres) shadows(ctx context.Context, t shadowTable) iter.Seq2[Shadow, error] {
	return func(yield func(Shadow, error) bool) {
		rows, err := s.pool.Query(ctx, t.list)
		if err != nil {
			yield(Shadow{}, fmt.Errorf("store: list %s shadows: %w", t.noun, pgFail(err)))
			return
		}
		defer rows.Close()
		var last int64 // names where a failure struck, without exposing data
		for rows.Next() {
			var sh Shadow
			var updated string
			if err := rows.Scan(&sh.ID, &sh.ExternalID, &sh.Data, &updated); err != nil {
				yield(Shadow{}, fmt.Errorf("store: list %s shadows after id %d: %w", t.noun, last, pgFail(err)))
				return
			}
			if sh.Updated, err = parseTime(updated); err != nil {
				yield(Shadow{}, fmt.Errorf("store: list %s shadows: %s shadow %d: %w", t.noun, t.noun, sh.ID, pgFail(err)))
				return
			}
			last = sh.ID
			if !yield(sh, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Shadow{}, fmt.Errorf("store: list %s shadows after id %d: %w", t.noun, last, pgFail(err)))
		}
	}
}

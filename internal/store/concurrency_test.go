package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// write is what writer g put in its i-th shadow; readers check every shadow they see is one
// of these and belongs to the id it came back under.
type write struct{ G, I int }

// sharedID spreads writers over overlapping ids, so goroutines upsert the same rows.
func sharedID(g, i, perWriter, ids int) int64 { return int64(1 + (g*perWriter+i)%ids) }

func checkShadow(sh Shadow, perWriter, ids int) error {
	var w write
	if err := json.Unmarshal(sh.Data, &w); err != nil {
		return fmt.Errorf("shadow %d: %v", sh.ID, err)
	}
	if sharedID(w.G, w.I, perWriter, ids) != sh.ID || sh.ExternalID != fmt.Sprintf("g%d-i%d", w.G, w.I) {
		return fmt.Errorf("shadow %d holds %+v / %q, written for another id", sh.ID, w, sh.ExternalID)
	}
	return nil
}

// hammer runs writers goroutines of perWriter shadow upserts plus audit appends, and readers
// goroutines of perWriter reads each, all at once against stores (round-robin). It reports
// every error; with WAL, a single write connection and busy_timeout there must be none,
// SQLITE_BUSY included. Readers do a fixed amount of work rather than spin until the
// writers finish, which on a small machine under -race would starve the writers.
func hammer(t *testing.T, stores []*SQLite, writers, perWriter, readers, ids int) {
	t.Helper()
	ctx := context.Background()
	errs := make(chan error, writers*perWriter*2+readers*4)
	var wg sync.WaitGroup

	for g := range writers {
		s := stores[g%len(stores)]
		wg.Go(func() {
			for i := range perWriter {
				data, _ := json.Marshal(write{g, i})
				id := sharedID(g, i, perWriter, ids)
				if err := s.PutUserShadow(ctx, Shadow{ID: id, ExternalID: fmt.Sprintf("g%d-i%d", g, i), Data: data}); err != nil {
					errs <- err
					return
				}
				err := s.Audit(ctx, AuditEvent{Token: "t", RequestID: fmt.Sprintf("%d-%d", g, i),
					Operation: "PUT /Users", Resource: "User", ResourceID: fmt.Sprint(id), Fields: []string{"name"}, Outcome: "ok"})
				if err != nil {
					errs <- err
					return
				}
				if i%50 == 0 {
					if err := s.PutSetting(ctx, "last", fmt.Sprint(g)); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	for r := range readers {
		s := stores[r%len(stores)]
		wg.Go(func() {
			for n := range perWriter {
				id := int64(1 + (r*7919+n)%ids)
				if sh, ok, err := s.UserShadow(ctx, id); err != nil {
					errs <- err
					return
				} else if ok {
					if err := checkShadow(sh, perWriter, ids); err != nil {
						errs <- err
						return
					}
				}
				if _, err := s.AuditEvents(ctx, AuditFilter{ResourceID: fmt.Sprint(id), Limit: 10}); err != nil {
					errs <- err
					return
				}
				if n%50 == 0 {
					prev := int64(0)
					for sh, err := range s.UserShadows(ctx) {
						if err == nil && sh.ID <= prev {
							err = fmt.Errorf("iteration out of order: %d after %d", sh.ID, prev)
						}
						if err == nil {
							err = checkShadow(sh, perWriter, ids)
						}
						if err != nil {
							errs <- err
							return
						}
						prev = sh.ID
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	const writers, perWriter, readers, ids = 20, 200, 4, 1000
	s := openTemp(t)
	hammer(t, []*SQLite{s}, writers, perWriter, readers, ids)

	ctx := context.Background()
	var n int
	for sh, err := range s.UserShadows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if err := checkShadow(sh, perWriter, ids); err != nil {
			t.Error(err)
		}
		n++
	}
	if n != ids {
		t.Errorf("%d shadows, want %d", n, ids)
	}
	es, err := s.AuditEvents(ctx, AuditFilter{Limit: writers*perWriter + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != writers*perWriter {
		t.Errorf("%d audit events, want %d", len(es), writers*perWriter)
	}
	seen := make(map[string]bool, len(es))
	for _, e := range es {
		if seen[e.RequestID] {
			t.Errorf("audit event %q recorded twice", e.RequestID)
		}
		seen[e.RequestID] = true
	}
}

// Two Stores on one file stand in for two processes (say, a rolling restart): each has its
// own write connection, so they contend for SQLite's lock and rely on busy_timeout.
func TestTwoStoresShareOneFile(t *testing.T) {
	const writers, perWriter, readers, ids = 8, 50, 4, 100
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	var stores []*SQLite
	for range 2 {
		s, err := OpenSQLite(ctx, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	hammer(t, stores, writers, perWriter, readers, ids)

	for i, s := range stores {
		es, err := s.AuditEvents(ctx, AuditFilter{Limit: writers*perWriter + 1})
		if err != nil || len(es) != writers*perWriter {
			t.Errorf("store %d sees %d audit events (%v), want %d", i, len(es), err, writers*perWriter)
		}
	}
}

// Opening the same new file from many goroutines at once must migrate it exactly once:
// the IMMEDIATE migration transaction serialises them.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			s, err := OpenSQLite(ctx, path)
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := pragmaInt(t, rawDB(t, path), "user_version"); got != len(migrations()) {
		t.Errorf("user_version = %d, want %d", got, len(migrations()))
	}
}

// TestOpenWaitsOutABusyFile: a file another process holds locked makes Open wait (not fail)
// until the lock is released, and isBusy recognises SQLite's busy answer.
func TestOpenWaitsOutABusyFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	holder := rawDB(t, path)
	holder.SetMaxOpenConns(1)
	if _, err := holder.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	other := rawDB(t, path) // no busy timeout: answers BUSY at once
	_, busyErr := other.ExecContext(ctx, "BEGIN IMMEDIATE")
	if !isBusy(busyErr) || isBusy(errors.New("database is locked")) {
		t.Fatalf("isBusy(%v) = %v", busyErr, isBusy(busyErr))
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(300 * time.Millisecond) // the lock is held this long: what Open must outwait
		_, _ = holder.ExecContext(ctx, "COMMIT")
	}()
	s2, err := OpenSQLite(ctx, path)
	<-released
	if err != nil {
		t.Fatalf("Open while the file was locked: %v", err)
	}
	s2.Close()
}

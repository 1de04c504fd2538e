package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

const (
	snapshotName = "index"
	// settingOwner remembers which Domo user owns the API client, so that a restart serving
	// from the snapshot protects it before its first token.
	settingOwner = "domo.owner"
)

// userRecord is what the store keeps per user: the mapping's shadow plus the bridge's own
// deprovisioning state.
type userRecord struct {
	Shadow mapping.UserShadow `json:"shadow"`
	Saved  *savedAccess       `json:"saved,omitempty"` // role and groups before a demote
	Hidden bool               `json:"hidden,omitempty"`
	// Deleted marks a tombstone: the bridge deleted the user, or Domo said it is gone. It
	// stays until a snapshot taken after it is stored, so that a restart serving an older
	// snapshot never lists the user (restoreSnapshot).
	Deleted bool `json:"deleted,omitempty"`
}

// tombstone is the whole stored record of a deleted user.
var tombstone = []byte(`{"deleted":true}`)

func isTombstone(data []byte) bool { return bytes.Equal(data, tombstone) }

// savedAccess is what PolicyDemote took away and reactivation gives back.
type savedAccess struct {
	Role   string  `json:"role"`
	RoleID int64   `json:"roleId,omitempty"`
	Groups []int64 `json:"groups,omitempty"`
}

func decodeUserRecord(data []byte) (*userRecord, error) {
	rec := &userRecord{}
	if len(data) == 0 {
		return rec, nil
	}
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// loadUserRecord reads a user's stored state; a user without one, or with a tombstone (Domo
// holding the user after all has the last word), gets an empty record.
func (b *Bridge) loadUserRecord(ctx context.Context, id int64) (*userRecord, bool, error) {
	sh, ok, err := b.store.UserShadow(ctx, id)
	if err != nil || !ok || isTombstone(sh.Data) {
		return &userRecord{}, false, err
	}
	rec, err := decodeUserRecord(sh.Data)
	if err != nil {
		// A record the bridge cannot read must not block the user: Domo's values serve.
		b.log.Error().Err(err).Int64("user", id).Msg("unreadable user shadow ignored")
		return &userRecord{}, false, nil
	}
	return rec, true, nil
}

func (b *Bridge) saveUserRecord(ctx context.Context, id int64, rec *userRecord, externalID string) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode user %d shadow: %w", id, err)
	}
	// Stamped by the bridge's clock, the one a snapshot's LoadedAt is read from: a restore
	// replays the records written after it.
	return b.store.PutUserShadow(context.WithoutCancel(ctx), store.Shadow{ID: id, ExternalID: externalID, Data: data, Updated: b.now().UTC()})
}

// forgetUser records that a user is gone: out of the index, and a tombstone in place of its
// stored state, so that a restart serving an older snapshot never lists it.
func (b *Bridge) forgetUser(ctx context.Context, id int64) error {
	b.index.DeleteUser(id)
	return b.store.PutUserShadow(context.WithoutCancel(ctx), store.Shadow{ID: id, Data: tombstone, Updated: b.now().UTC()})
}

// Start gets ready to serve. With a stored snapshot of the index it serves that at once and
// loads from Domo behind it; without one it loads before returning. Either way it first learns
// which Domo user owns the API client, and protects it: from the state store when serving a
// snapshot (that user is not in the snapshot, but a GET by id would reach Domo), else from a
// token.
//
// Changes an earlier process left unfinished (its intents) are finished once the index is
// loaded from Domo, in the background.
func (b *Bridge) Start(ctx context.Context) error {
	if b.store.Shared() {
		// Run follows the other replicas' changes from here on: whatever happened before is
		// in Domo, which the load below reads.
		after, err := b.store.LastChange(ctx)
		if err != nil {
			return fmt.Errorf("read the change feed: %w", err)
		}
		b.followed.Store(after)
	}
	b.probeInstance(ctx)
	if b.startFromLeader(ctx) {
		b.bg.Go(func() { b.finishLeftovers(ctx) })
		return nil
	}
	if b.restoreSnapshot(ctx) {
		l, _ := b.index.BeginLoad() // nothing else loads yet; begun here so readiness shows it
		b.bg.Go(func() {
			if b.loadBehind(ctx, l) {
				b.finishLeftovers(ctx)
			}
		})
		return nil
	}
	if err := b.load(ctx, true); err != nil {
		return err
	}
	b.bg.Go(func() { b.finishLeftovers(ctx) })
	return nil
}

// finishLeftovers finishes what an earlier process left unfinished, right after a start.
func (b *Bridge) finishLeftovers(ctx context.Context) {
	done, left, err := b.FinishIntents(ctx, 0)
	switch {
	case err != nil:
		b.log.Warn().Err(err).Msg("unfinished changes not read; the background pass retries")
	case done+left > 0:
		b.log.Info().Int("finished", done).Int("left", left).Msg("changes interrupted by the last stop finished")
	}
}

// restoreSnapshot installs the stored snapshot, if there is a readable one.
func (b *Bridge) restoreSnapshot(ctx context.Context) bool {
	b.protectStoredOwner(ctx)
	data, _, ok, err := b.store.Snapshot(ctx, snapshotName)
	if err != nil || !ok {
		if err != nil {
			b.log.Warn().Err(err).Msg("index snapshot not readable; loading from Domo")
		}
		return false
	}
	var s index.Snapshot
	if err := s.UnmarshalBinary(data); err != nil {
		b.log.Warn().Err(err).Msg("index snapshot not readable; loading from Domo")
		return false
	}
	// Protection may have been configured since the snapshot was taken.
	s.Users = slices.DeleteFunc(s.Users, func(u index.User) bool { return b.isProtected(u.ID, u.DomoEmail) })
	replayed, err := b.replayRecords(ctx, &s)
	if err == nil {
		var n int
		n, err = b.replayGroupRecords(ctx, &s)
		replayed += n
	}
	if err != nil {
		// Without the records, the snapshot could show a user the bridge has deactivated or
		// deleted since: load from Domo instead.
		b.log.Warn().Err(err).Msg("stored records not readable; loading from Domo instead of serving the snapshot")
		return false
	}
	users, groups, taken := len(s.Users), len(s.Groups), s.LoadedAt
	if !b.index.Restore(&s) {
		return false
	}
	ev := b.log.Info()
	if age := b.now().Sub(taken); !b.snapshotServes(taken) {
		ev = b.log.Warn().Dur("age", age).Dur("max_age", b.cfg.SnapshotMaxAge)
	}
	ev.Int("users", users).Int("groups", groups).Int("records_replayed", replayed).Time("loaded_at", taken).
		Bool("serves_reads", b.snapshotServes(taken)).Msg("index snapshot restored while loading from Domo")
	return true
}

// protectStoredOwner protects the Domo user that owned the API client when the state last
// learnt it: a snapshot lacks that user, but a GET by id would reach Domo before the first
// token tells.
func (b *Bridge) protectStoredOwner(ctx context.Context) {
	if v, ok, err := b.store.Setting(ctx, settingOwner); err == nil && ok {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			b.mu.Lock()
			b.protected[id] = true
			b.mu.Unlock()
		}
	}
}

// replayRecords brings a snapshot up to date with the bridge's own writes since the load it
// holds began (its LoadedAt): every user record stored after that is the truth for what the
// bridge did. A tombstone or a hidden user leaves the snapshot, with its memberships; any
// other record replaces the user's entry, built from the Domo values the write left (the
// record's basis) and the record itself, so that active:false, a new userName or externalId
// show, and a user created since is listed. A demoted user leaves the groups it was taken
// out of. What changed in Domo itself since the snapshot only a load can show; the staleness
// bound (SnapshotMaxAge) covers that. It returns how many records it applied.
func (b *Bridge) replayRecords(ctx context.Context, s *index.Snapshot) (int, error) {
	pos := make(map[int64]int, len(s.Users))
	for i := range s.Users {
		pos[s.Users[i].ID] = i
	}
	gone := map[int64]bool{}
	left := map[int64][]int64{} // user -> the groups a demotion took it out of
	opt := b.cfg.Mapping
	n := 0
	for sh, err := range b.store.UserShadows(ctx) {
		if err != nil {
			return 0, err
		}
		if !sh.Updated.After(s.LoadedAt) {
			continue
		}
		rec, err := decodeUserRecord(sh.Data)
		if err != nil {
			b.log.Error().Err(err).Int64("user", sh.ID).Msg("unreadable user record ignored")
			continue
		}
		n++
		if rec.Deleted || rec.Hidden || b.isProtected(sh.ID, rec.Shadow.Basis.Email) {
			gone[sh.ID] = true
			continue
		}
		var prev *index.User
		if i, ok := pos[sh.ID]; ok {
			prev = &s.Users[i]
		}
		var e index.User
		if rec.Shadow.Basis.Email != "" {
			e = b.entry(userFromBasis(sh.ID, &rec.Shadow.Basis, prev, sh.Updated), rec, opt)
		} else if prev != nil {
			// A record without the Domo values it was written against: keep the snapshot's
			// entry, with the bridge's own state applied.
			mu := prev.SCIM()
			mu.Active = !rec.Shadow.Inactive
			e = index.NewUser(mu, prev.DomoEmail)
		} else {
			continue
		}
		if i, ok := pos[sh.ID]; ok {
			s.Users[i] = e
		} else {
			pos[sh.ID] = len(s.Users)
			s.Users = append(s.Users, e)
		}
		if rec.Saved != nil && rec.Shadow.Inactive && len(rec.Saved.Groups) > 0 {
			left[sh.ID] = rec.Saved.Groups
		}
	}
	if len(gone) > 0 {
		s.Users = slices.DeleteFunc(s.Users, func(u index.User) bool { return gone[u.ID] })
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		g.MemberIDs = slices.DeleteFunc(slices.Clone(g.MemberIDs), func(uid int64) bool {
			return gone[uid] || slices.Contains(left[uid], g.ID)
		})
	}
	return n, nil
}

// replayGroupRecords brings a snapshot's groups up to date with the bridge's own group writes
// since its load: a tombstone takes the group out; the record of a group the snapshot lacks
// (created since) adds it, with the members the IdP put in it; the record of a group it has
// gives its name and externalId. Which members such a group gained or lost is not in its
// record (the IdP's members are, not Domo's whole list): the users' replay has already taken
// out users deleted, hidden or demoted since, and the staleness bound covers the rest. It
// returns how many records it applied.
func (b *Bridge) replayGroupRecords(ctx context.Context, s *index.Snapshot) (int, error) {
	pos := make(map[int64]int, len(s.Groups))
	for i := range s.Groups {
		pos[s.Groups[i].ID] = i
	}
	gone := map[int64]bool{}
	n := 0
	for sh, err := range b.store.GroupShadows(ctx) {
		if err != nil {
			return 0, err
		}
		if !sh.Updated.After(s.LoadedAt) {
			continue
		}
		n++
		if isTombstone(sh.Data) {
			gone[sh.ID] = true
			continue
		}
		var gs mapping.GroupShadow
		if err := json.Unmarshal(sh.Data, &gs); err != nil || gs.Name == "" {
			continue
		}
		g := domo.Group{ID: sh.ID, Name: gs.Name}
		if i, ok := pos[sh.ID]; ok {
			prev := s.Groups[i]
			g.Default = prev.Default
			s.Groups[i] = b.groupEntry(g, &gs, prev.MemberIDs, b.cfg.Mapping)
			continue
		}
		var members []int64
		if gs.MembersKnown {
			members = slices.Clone(gs.Members)
		}
		pos[sh.ID] = len(s.Groups)
		s.Groups = append(s.Groups, b.groupEntry(g, &gs, members, b.cfg.Mapping))
	}
	if len(gone) > 0 {
		s.Groups = slices.DeleteFunc(s.Groups, func(g index.Group) bool { return gone[g.ID] })
	}
	return n, nil
}

// userFromBasis is the Domo record a user record was written against: its basis, with the
// timestamps of the snapshot's entry (or the write's time for a user created since).
func userFromBasis(id int64, bs *mapping.UserBasis, prev *index.User, written time.Time) domo.User {
	d := domo.User{
		ID: id, Email: bs.Email, AlternateEmail: bs.AlternateEmail, Name: bs.Name, Role: bs.Role,
		RoleID: domo.Int(bs.RoleID), Title: bs.Title, Phone: bs.Phone, Location: bs.Location,
		Timezone: bs.Timezone, Locale: bs.Locale, EmployeeID: bs.EmployeeID, Department: bs.Department,
	}
	d.CreatedAt.Time, d.UpdatedAt.Time = written, written
	if prev != nil {
		mu := prev.SCIM()
		d.CreatedAt.Time, d.UpdatedAt.Time = mu.Created, mu.LastModified
		if n, err := strconv.ParseInt(mu.Enterprise.EmployeeNumber, 10, 64); err == nil {
			d.EmployeeNumber = domo.Int(n)
		}
	}
	return d
}

// snapshotServes reports whether a snapshot whose data was read from Domo at loadedAt may
// still answer reads: while its age is within SnapshotMaxAge. A running bridge serves data
// as old as its refresh interval anyway, hence the default; 0 never serves a snapshot.
func (b *Bridge) snapshotServes(loadedAt time.Time) bool {
	max := b.cfg.SnapshotMaxAge
	return max > 0 && !loadedAt.IsZero() && b.now().Sub(loadedAt) <= max
}

// fresh refuses a read the index would answer from a snapshot older than SnapshotMaxAge,
// until the first load from Domo since the start succeeds: 503 with Retry-After rather than
// users deleted since, deactivated ones shown active, new ones missing.
func (b *Bridge) fresh() error {
	st := b.index.Stats()
	if !st.FromSnapshot || b.snapshotServes(st.LoadedAt) {
		return nil
	}
	return scim.Unavailable(unavailableRetry, "the bridge has not loaded Domo's users and groups since it started, and its stored snapshot is older than SCIMBRIDGE_SNAPSHOT_MAX_AGE allows; retry later", nil)
}

// loadBehind runs the load l began after a snapshot restore, and retries it until one succeeds
// or ctx ends: without that, a bridge without a refresh interval would serve the snapshot for
// ever. It reports whether a load succeeded.
func (b *Bridge) loadBehind(ctx context.Context, l *index.Load) bool {
	for attempt := 1; ; attempt++ {
		var err error
		if l != nil {
			err = b.run(ctx, l, true)
		} else {
			err = b.load(ctx, true)
		}
		l = nil
		if err == nil || ctx.Err() != nil || errors.Is(err, errLoadRunning) {
			return err == nil
		}
		wait := min(time.Duration(attempt)*5*time.Second, time.Minute)
		b.log.Error().Err(err).Dur("retry_in", wait).Msg("index load failed; serving the snapshot")
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// learnOwner asks Domo (with a token request) which user owns the API client, protects it,
// and remembers it for the next start.
func (b *Bridge) learnOwner(ctx context.Context) error {
	tok, err := b.domo.Token(ctx)
	if err != nil {
		return fmt.Errorf("obtain a Domo token: %w", err)
	}
	if tok.UserID == 0 {
		return nil
	}
	b.mu.Lock()
	b.protected[tok.UserID] = true
	b.mu.Unlock()
	b.index.DeleteUser(tok.UserID) // a snapshot from before it owned the client may show it
	id := strconv.FormatInt(tok.UserID, 10)
	if v, ok, err := b.store.Setting(ctx, settingOwner); err != nil || !ok || v != id {
		if err := b.store.PutSetting(ctx, settingOwner, id); err != nil {
			b.log.Warn().Err(err).Msg("owner of the Domo client not remembered")
		}
	}
	return nil
}

// errLoadRunning is Load's answer while another load runs.
var errLoadRunning = errors.New("an index load is already running")

// Load reads every user, group and membership from Domo, merges the stored shadows, installs
// the result in the index and stores it as the snapshot. Users and groups the bridge writes
// meanwhile keep their written state. Only one load runs at a time; another caller gets an
// error at once.
func (b *Bridge) Load(ctx context.Context) error { return b.load(ctx, false) }

// load is Load, first learning the owner of the API client when learn is set: a start does,
// within the load, so that readiness shows it loading while Domo is slow to answer.
func (b *Bridge) load(ctx context.Context, learn bool) error {
	if b.store.Shared() {
		// Every change the other replicas published so far goes in first: the load reads
		// Domo after them, so none of them may be applied over it later.
		if err := b.readFeed(ctx); err != nil {
			return fmt.Errorf("read the change feed: %w", err)
		}
	}
	l, ok := b.index.BeginLoad()
	if !ok {
		return errLoadRunning
	}
	return b.run(ctx, l, learn)
}

// run carries out the load l, which it ends.
func (b *Bridge) run(ctx context.Context, l *index.Load, learn bool) error {
	started := b.now()
	var s *index.Snapshot
	var drift *DriftReport
	var err error
	if learn {
		err = b.learnOwner(ctx)
	}
	var tombs, groupTombs map[int64]time.Time
	if err == nil {
		s, tombs, groupTombs, drift, err = b.readAll(ctx)
	}
	if err != nil {
		l.Fail(err)
		return err
	}
	s.LoadedAt, s.LoadTook = started, b.now().Sub(started)
	users, groups, took := len(s.Users), len(s.Groups), s.LoadTook
	l.Replace(s)
	b.log.Info().Int("users", users).Int("groups", groups).Dur("took", took).Msg("index loaded")
	if b.saveSnapshot(ctx) {
		b.dropTombstones(ctx, tombs, started, b.store.DeleteUserShadow)
		b.dropTombstones(ctx, groupTombs, started, b.store.DeleteGroupShadow)
	}
	b.publishDrift(ctx, drift, started)
	return nil
}

// saveSnapshot stores the index, so that a restart can serve at once. A failure costs only
// that, so it is logged; it reports whether the snapshot was stored.
//
// The other replicas are told, so that they install it (with the changes published since
// replayed onto it) instead of loading from Domo themselves.
func (b *Bridge) saveSnapshot(ctx context.Context) bool {
	seq := b.followed.Load() // every change up to seq is in the index exported next
	snap := b.index.Export()
	data, err := snap.MarshalBinary()
	if err == nil {
		err = b.store.PutSnapshot(context.WithoutCancel(ctx), snapshotName, data)
	}
	if err != nil {
		b.log.Warn().Err(err).Msg("index snapshot not saved")
		return false
	}
	b.announceLoad(snap.LoadedAt, seq)
	return true
}

// dropTombstones deletes, with del, the tombstones written before the load that began at
// started: the snapshot just stored is newer than they are and lacks their users or groups,
// so a restart no longer needs them.
func (b *Bridge) dropTombstones(ctx context.Context, tombs map[int64]time.Time, started time.Time, del func(context.Context, int64) error) {
	for id, at := range tombs {
		if !at.Before(started) {
			continue
		}
		if err := del(context.WithoutCancel(ctx), id); err != nil {
			b.log.Warn().Err(err).Int64("id", id).Msg("tombstone not dropped; the next load tries again")
		}
	}
}

// readAll reads what a load installs. Its three sources are read at once, because each waits
// on something different: the stored shadows (the state database, and JSON decoding), the
// user listing (Domo, 200 pages of 500 at 100,000 users) and the groups with their members
// (Domo, one call per 500 members of each non-empty group). The index entries are then built
// on every CPU.
func (b *Bridge) readAll(ctx context.Context) (*index.Snapshot, map[int64]time.Time, map[int64]time.Time, *DriftReport, error) {
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil) // the first failure stops the other sources, and is the one reported
	var (
		wg      sync.WaitGroup
		records map[int64]*userRecord
		tombs   map[int64]time.Time
		gr      *groupReads
	)
	prog := &loadProgress{}
	ctx = context.WithValue(ctx, loadProgressKey{}, prog)
	stopProgress := b.logProgress(ctx, prog)
	defer stopProgress()
	wg.Go(func() {
		var err error
		if records, tombs, err = b.readUserRecords(ctx); err != nil {
			fail(err)
		}
	})
	wg.Go(func() {
		var err error
		if gr, err = b.readGroups(ctx); err != nil {
			fail(err)
		}
	})
	var rows []domo.User
	for d, err := range b.domo.Users(ctx) {
		if err != nil {
			fail(fmt.Errorf("list Domo users: %w", err))
			break
		}
		prog.users.Add(1)
		if !b.isProtected(d.ID, d.Email) {
			rows = append(rows, d)
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, nil, nil, nil, err
	}
	// The drift report comes from these same reads: it costs Domo nothing more than the load.
	drift := b.computeDrift(rows, records, gr)
	hidden := map[string]int64{}
	for _, d := range rows {
		if rec := records[d.ID]; rec != nil && rec.Hidden {
			hidden[strings.ToLower(d.Email)] = d.ID
		}
	}
	b.mu.Lock()
	b.hiddenEmail = hidden
	b.mu.Unlock()
	return &index.Snapshot{Users: b.entries(rows, records), Groups: gr.entries(b)}, tombs, gr.tombs, drift, nil
}

// readUserRecords reads and decodes every stored user record; decoding, the bulk of the work,
// runs on every CPU. Tombstones are not records: they come back apart, with when they were
// written.
func (b *Bridge) readUserRecords(ctx context.Context) (map[int64]*userRecord, map[int64]time.Time, error) {
	type item struct {
		id  int64
		rec *userRecord
	}
	raw := make(chan store.Shadow, 256)
	decoded := make(chan item, 256)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for sh := range raw {
				if rec, err := decodeUserRecord(sh.Data); err == nil {
					decoded <- item{sh.ID, rec}
				} else {
					b.log.Error().Err(err).Int64("user", sh.ID).Msg("unreadable user shadow ignored")
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(decoded)
	}()
	var readErr error
	tombs := map[int64]time.Time{}
	go func() {
		defer close(raw)
		for sh, err := range b.store.UserShadows(ctx) {
			if err != nil {
				readErr = fmt.Errorf("read user shadows: %w", err)
				return
			}
			if isTombstone(sh.Data) {
				tombs[sh.ID] = sh.Updated
				continue
			}
			raw <- sh
		}
	}()
	records := map[int64]*userRecord{}
	for it := range decoded {
		records[it.id] = it.rec
	}
	return records, tombs, readErr // decoded is closed only after raw, so readErr and tombs are set by now
}

// entries builds the index entries of rows on every CPU, leaving out users the bridge hid. The
// fields the listing does not carry are taken, for users the bridge wrote, as Domo held them at
// that write (mapping.ListedFields).
func (b *Bridge) entries(rows []domo.User, records map[int64]*userRecord) []index.User {
	out := make([]index.User, len(rows))
	keep := make([]bool, len(rows))
	opt := b.cfg.Mapping
	listed := mapping.ListedFieldsOf(rows)
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(rows) + workers - 1) / max(workers, 1)
	var wg sync.WaitGroup
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				rec := records[rows[i].ID]
				if rec != nil && rec.Hidden {
					continue
				}
				if rec != nil {
					listed.Complete(&rows[i], &rec.Shadow)
				}
				out[i], keep[i] = b.entry(rows[i], rec, opt), true
			}
		})
	}
	wg.Wait()
	n := 0
	for i := range out {
		if keep[i] {
			out[n] = out[i]
			n++
		}
	}
	return out[:n]
}

// groupReads is what a load reads about groups: Domo's groups, the stored shadows and the
// members of each group (nil for the hidden Default group), in the order of groups.
type groupReads struct {
	groups  []domo.Group
	shadows map[int64]*mapping.GroupShadow
	members [][]int64
	tombs   map[int64]time.Time // group tombstones, with when they were written
}

// entries builds the index entries of the groups read.
func (gr *groupReads) entries(b *Bridge) []index.Group {
	out := make([]index.Group, len(gr.groups))
	for i, g := range gr.groups {
		out[i] = b.groupEntry(g, gr.shadows[g.ID], gr.members[i], b.cfg.Mapping)
	}
	return out
}

// readGroups reads every group, its stored shadow and its members.
func (b *Bridge) readGroups(ctx context.Context) (*groupReads, error) {
	shadows := map[int64]*mapping.GroupShadow{}
	tombs := map[int64]time.Time{}
	for sh, err := range b.store.GroupShadows(ctx) {
		if err != nil {
			return nil, fmt.Errorf("read group shadows: %w", err)
		}
		if isTombstone(sh.Data) {
			tombs[sh.ID] = sh.Updated
			continue
		}
		var gs mapping.GroupShadow
		if json.Unmarshal(sh.Data, &gs) == nil {
			shadows[sh.ID] = &gs
		}
	}
	var groups []domo.Group
	for g, err := range b.domo.Groups(ctx) {
		if err != nil {
			return nil, fmt.Errorf("list Domo groups: %w", err)
		}
		groups = append(groups, g)
		progressOf(ctx).groups.Add(1)
	}
	b.noteDefaultGroup(ctx, groups)
	members, err := b.readMembers(ctx, groups)
	if err != nil {
		return nil, err
	}
	return &groupReads{groups: groups, shadows: shadows, members: members, tombs: tombs}, nil
}

// readMembers reads the member lists of groups, MemberWorkers at a time: one call per 500
// members of each non-empty group (domo.Client.MembersOf) is most of a load's calls in a tenant with many groups. The Default
// group, which every user belongs to, is skipped while it is hidden: its list (one call per
// 500 users) would serve nothing.
func (b *Bridge) readMembers(ctx context.Context, groups []domo.Group) ([][]int64, error) {
	out := make([][]int64, len(groups))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(b.cfg.MemberWorkers, len(groups)) {
		wg.Go(func() {
			for i := range work {
				ids, err := b.membersOf(ctx, groups[i])
				if err != nil {
					cancel(fmt.Errorf("list members of Domo group %d: %w", groups[i].ID, err))
					continue
				}
				out[i] = ids
				progressOf(ctx).memberLists.Add(1)
			}
		})
	}
	progressOf(ctx).groupsListed.Store(true)
feed:
	for i, g := range groups {
		if b.hiddenGroup(g) {
			continue
		}
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// entry builds the index entry of a Domo user.
func (b *Bridge) entry(d domo.User, rec *userRecord, opt mapping.Options) index.User {
	if r := b.roleCatalogue(); r != nil {
		opt.Roles = r
	}
	var sh *mapping.UserShadow
	if rec != nil {
		sh = &rec.Shadow
	}
	return index.NewUser(mapping.UserFromDomo(d, sh, opt), d.Email)
}

// groupEntry builds the index entry of a Domo group. Members are kept as ids only.
func (b *Bridge) groupEntry(g domo.Group, sh *mapping.GroupShadow, members []int64, opt mapping.Options) index.Group {
	mg := mapping.GroupFromDomo(g, sh, nil, nil, opt)
	return index.Group{Group: mg, MemberIDs: members}
}

// intentPass is how often the background pass looks for unfinished changes, and intentAge how
// old one must be before the pass takes it: younger ones belong to requests still running
// (their own retry, or the request's lock, finishes them).
const (
	intentPass = time.Minute
	intentAge  = 2 * time.Minute
)

// Run refreshes the index every RefreshInterval until ctx ends, so changes made in Domo's UI
// show up without a restart, and finishes changes left unfinished (by a request whose IdP
// never retried, or by another replica) every minute. A refresh due while a load still runs
// is skipped. Among replicas sharing the state only the leader does both (the others install
// its refreshed index from the snapshot); a replica that dies passes the lead on at once. On a
// shared state Run also applies the other replicas' changes to the index as they come.
func (b *Bridge) Run(ctx context.Context) {
	if b.store.Shared() {
		var follower sync.WaitGroup
		follower.Go(func() { b.follow(ctx) })
		defer follower.Wait()
	}
	pass := time.NewTicker(intentPass)
	defer pass.Stop()
	var refresh <-chan time.Time
	if b.cfg.RefreshInterval > 0 {
		t := time.NewTicker(b.cfg.RefreshInterval)
		defer t.Stop()
		refresh = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-pass.C:
			if !b.leads(ctx) {
				continue
			}
			b.pruneChanges(ctx)
			if _, left, err := b.FinishIntents(ctx, intentAge); err != nil && ctx.Err() == nil {
				b.log.Warn().Err(err).Msg("unfinished changes not read")
			} else if left > 0 {
				b.log.Info().Int("left", left).Msg("changes still unfinished")
			}
		case <-refresh:
			if !b.leads(ctx) {
				continue
			}
			err := b.Load(ctx)
			switch {
			case errors.Is(err, errLoadRunning):
				b.log.Debug().Msg("index refresh skipped: a load is running")
			case err != nil && ctx.Err() == nil:
				b.log.Error().Err(err).Msg("index refresh failed; serving the previous index")
			}
		}
	}
}

// Ready reports readiness for /readyz: the index holds a load, or a snapshot young enough to
// serve (SnapshotMaxAge). The details are sizes, ages and durations only: "source" says
// whether the index holds a load from Domo or the snapshot a restart holds until its first
// load finishes, "ageSeconds" how long ago its data was read from Domo, "snapshotMaxAgeSeconds"
// and "servesReads" whether lists and filters answer from that snapshot or get 503 until the
// load, and "lastRefreshFailed" that the latest load failed, the index serving older data
// meanwhile.
func (b *Bridge) Ready(ctx context.Context) (bool, map[string]any) {
	st := b.index.Stats()
	ready := st.Loaded
	idx := map[string]any{
		"loaded":          st.Loaded,
		"loading":         st.Loading,
		"users":           st.Users,
		"groups":          st.Groups,
		"refreshInterval": b.cfg.RefreshInterval.String(),
	}
	if st.Loaded {
		source := "domo"
		if st.FromSnapshot {
			source = "snapshot"
		}
		idx["source"] = source
		idx["loadedAt"] = st.LoadedAt.UTC().Format(time.RFC3339)
		idx["ageSeconds"] = max(int64(b.now().Sub(st.LoadedAt).Seconds()), 0)
		idx["loadSeconds"] = st.LoadTook.Seconds()
		if st.FromSnapshot {
			serves := b.snapshotServes(st.LoadedAt)
			idx["snapshotMaxAgeSeconds"] = int64(b.cfg.SnapshotMaxAge.Seconds())
			idx["servesReads"] = serves
			ready = serves
		}
	}
	if st.LastError != "" {
		idx["lastRefreshFailed"] = true
	}
	details := map[string]any{"index": idx}
	if b.cfg.Instance != nil {
		details["domoInstance"] = b.instanceReady()
	}
	return ready, details
}

// Wait blocks until the background work Start began (the load behind a snapshot) has ended.
// Callers cancel Start's context first; the store must stay open until Wait returns.
func (b *Bridge) Wait() { b.bg.Wait() }

// loadProgress counts what a load has read so far, for its progress lines.
type loadProgress struct {
	users, groups, memberLists atomic.Int64
	groupsListed               atomic.Bool
}

type loadProgressKey struct{}

// progressOf returns the progress counters of the load ctx belongs to; outside one, counters
// nobody reads.
func progressOf(ctx context.Context) *loadProgress {
	if p, ok := ctx.Value(loadProgressKey{}).(*loadProgress); ok {
		return p
	}
	return &loadProgress{}
}

// defaultProgressEvery is how often a running load logs how far it has got: a first load of
// 100,000 users takes half a minute at Domo's default budget, and an operator watching the log
// should not wonder whether it hangs.
const defaultProgressEvery = 5 * time.Second

// logProgress logs the load's start, then its progress every b.progressEvery until the
// returned function is called.
func (b *Bridge) logProgress(ctx context.Context, p *loadProgress) (stop func()) {
	started := time.Now()
	b.log.Info().Msg("index load started: listing Domo users, groups and members")
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(b.progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ev := b.log.Info().Int64("users_listed", p.users.Load()).Int64("groups_listed", p.groups.Load()).
					Int64("member_lists_read", p.memberLists.Load()).Str("elapsed", time.Since(started).Round(time.Second).String())
				if p.groupsListed.Load() {
					ev = ev.Int64("groups_total", p.groups.Load())
				}
				ev.Msg("index load in progress")
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

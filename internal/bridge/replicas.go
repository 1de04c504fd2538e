package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Several replicas of the bridge can share one state (PostgreSQL). Each keeps its own index,
// and they stay in step through the store's change feed: every write a replica makes to its
// index is published as a change, and every replica applies the others' changes as they come
// (follow), so a user created through one replica is found by a filter on another within
// milliseconds. The periodic refresh from Domo, and the pass that finishes interrupted changes,
// run on one replica at a time, the leader (store.Lead); the others install the refreshed
// index from the stored snapshot when the leader announces it. On a SQLite state there is one
// replica: nothing is published and it always leads.

// Kinds of change on the feed.
const (
	changeUserPut     = "user.put"
	changeUserDelete  = "user.delete"
	changeGroupPut    = "group.put"
	changeGroupDelete = "group.delete"
	changeMember      = "member"      // key "group:user", data "1" (joined) or "0" (left)
	changeHidden      = "user.hidden" // key the user id, data {"email":...,"hidden":...}
	changeSwitches    = "switches"
	changeIndexLoaded = "index.loaded"
)

const (
	// leadIndex names the leader's tasks: the index refresh, finishing intents, pruning.
	leadIndex = "index"
	// followPoll is how often a replica reads the feed when no wake-up came: a lost wake-up
	// delays a change by at most this much.
	followPoll = time.Second
	// publishTimeout bounds one publication: the index was written already, so a state
	// database that does not answer delays the request only this much.
	publishTimeout = 5 * time.Second
	// changesKept is how long changes stay on the feed: long enough for a replica that lost
	// its connection to catch up, and for a follower to replay the changes made after a
	// snapshot was taken.
	changesKept = time.Hour
)

// newReplicaID names this replica on the feed and in heartbeats: the host name (the pod's, on
// Kubernetes) and a random suffix, unique across restarts.
func newReplicaID() string {
	host, _ := os.Hostname()
	buf := make([]byte, 4)
	_, _ = rand.Read(buf)
	return strings.Trim(host+"-"+hex.EncodeToString(buf), "-")
}

// ReplicaID names this replica among those sharing the state.
func (b *Bridge) ReplicaID() string { return b.cfg.ReplicaID }

// sharedIndex is the bridge's index, written through to the other replicas: its write
// methods publish what they wrote. Reads and loads are the index's own.
type sharedIndex struct {
	*index.Index
	b *Bridge
}

// PutUser indexes u and publishes it, unless the index held it so already (a PATCH that
// changed nothing, which IdPs send often).
func (x sharedIndex) PutUser(u index.User) {
	var before []byte
	if x.b.store.Shared() {
		if old, ok := x.Index.User(u.ID); ok {
			before, _ = (&index.Snapshot{Users: []index.User{*old}}).MarshalBinary()
		}
	}
	x.Index.PutUser(u)
	x.b.publish(changeUserPut, strconv.FormatInt(u.ID, 10), func() ([]byte, error) {
		data, err := (&index.Snapshot{Users: []index.User{u}}).MarshalBinary()
		if err == nil && bytes.Equal(data, before) {
			return nil, errUnchanged
		}
		return data, err
	})
}

// errUnchanged tells publish that there is nothing to publish.
var errUnchanged = errors.New("unchanged")

// DeleteUser removes user id and publishes it.
func (x sharedIndex) DeleteUser(id int64) {
	x.Index.DeleteUser(id)
	x.b.publish(changeUserDelete, strconv.FormatInt(id, 10), nil)
}

// PutGroup indexes g and publishes it.
func (x sharedIndex) PutGroup(g index.Group) {
	x.Index.PutGroup(g)
	x.b.publish(changeGroupPut, strconv.FormatInt(g.ID, 10), func() ([]byte, error) {
		return (&index.Snapshot{Groups: []index.Group{g}}).MarshalBinary()
	})
}

// DeleteGroup removes group id and publishes it.
func (x sharedIndex) DeleteGroup(id int64) {
	x.Index.DeleteGroup(id)
	x.b.publish(changeGroupDelete, strconv.FormatInt(id, 10), nil)
}

// SetMembership records a membership change and publishes it.
func (x sharedIndex) SetMembership(groupID, userID int64, in bool) {
	x.Index.SetMembership(groupID, userID, in)
	flag := "0"
	if in {
		flag = "1"
	}
	x.b.publish(changeMember, strconv.FormatInt(groupID, 10)+":"+strconv.FormatInt(userID, 10), func() ([]byte, error) {
		return []byte(flag), nil
	})
}

// publish puts a change on the feed for the other replicas. It runs in the request, after the
// index write and before the answer, so that the IdP's next request finds the change on any
// replica. A failure is logged: this replica's index and the state are right, and the other
// replicas catch up at the leader's next refresh.
func (b *Bridge) publish(kind, key string, data func() ([]byte, error)) {
	if !b.store.Shared() {
		return
	}
	c := store.Change{Origin: b.cfg.ReplicaID, Kind: kind, Key: key}
	if data != nil {
		var err error
		if c.Data, err = data(); err != nil {
			if !errors.Is(err, errUnchanged) {
				b.log.Error().Err(err).Str("change", kind).Str("key", key).Msg("change not published: not encodable")
			}
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if _, err := b.store.Publish(ctx, c); err != nil {
		b.log.Warn().Err(err).Str("change", kind).Str("key", key).Msg("change not published to the other replicas; they see it at the next refresh")
	}
}

// follow applies the changes the other replicas publish, until ctx ends.
func (b *Bridge) follow(ctx context.Context) {
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		if err := b.readFeed(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn().Err(err).Msg("change feed not readable; retrying")
		}
		select {
		case <-ctx.Done():
			return
		case <-b.store.Changed():
		case <-tick.C:
		}
	}
}

// readFeed applies the other replicas' changes published since the last one read. One reader
// at a time, so that changes apply in their order.
func (b *Bridge) readFeed(ctx context.Context) error {
	b.feed.Lock()
	defer b.feed.Unlock()
	after := b.followed.Load()
	for {
		cs, err := b.store.Changes(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Origin != b.cfg.ReplicaID {
				b.apply(ctx, b.index.Index, c)
			}
			after = c.Seq
		}
		b.followed.Store(after)
		if len(cs) < 500 {
			return nil
		}
	}
}

// apply makes one change from the feed in ix, without publishing it again.
func (b *Bridge) apply(ctx context.Context, ix *index.Index, c store.Change) {
	id, _ := strconv.ParseInt(c.Key, 10, 64)
	switch c.Kind {
	case changeUserPut, changeGroupPut:
		var s index.Snapshot
		if err := s.UnmarshalBinary(c.Data); err != nil {
			b.log.Error().Err(err).Str("change", c.Kind).Str("key", c.Key).Msg("change from the feed not readable; skipped")
			return
		}
		for _, u := range s.Users {
			if !b.isProtected(u.ID, u.DomoEmail) {
				ix.PutUser(u)
			}
		}
		for _, g := range s.Groups {
			ix.PutGroup(g)
		}
	case changeUserDelete:
		ix.DeleteUser(id)
	case changeGroupDelete:
		ix.DeleteGroup(id)
	case changeMember:
		gs, us, _ := strings.Cut(c.Key, ":")
		gid, _ := strconv.ParseInt(gs, 10, 64)
		uid, _ := strconv.ParseInt(us, 10, 64)
		ix.SetMembership(gid, uid, string(c.Data) == "1")
	case changeHidden:
		if ix == b.index.Index {
			var h hiddenNote
			if err := json.Unmarshal(c.Data, &h); err == nil {
				b.setHidden(h.Email, id, h.Hidden)
			}
		}
	case changeSwitches:
		if ix == b.index.Index {
			if err := b.refreshSwitches(ctx); err != nil {
				b.log.Warn().Err(err).Msg("switches not re-read after another replica changed them")
			}
		}
	case changeIndexLoaded:
		if ix == b.index.Index {
			b.installLeaders(ctx, c)
		}
	default:
		b.log.Warn().Str("change", c.Kind).Msg("change of an unknown kind on the feed (a newer replica?); skipped")
	}
}

// hiddenNote tells the other replicas that a DELETE hid a user (or that it is back), so that
// the IdP creating it again through any replica revives it.
type hiddenNote struct {
	Email  string `json:"email"`
	Hidden bool   `json:"hidden"`
}

func (b *Bridge) publishHidden(email string, id int64, hidden bool) {
	b.publish(changeHidden, strconv.FormatInt(id, 10), func() ([]byte, error) {
		return json.Marshal(hiddenNote{Email: email, Hidden: hidden})
	})
}

// loadedNote is what the leader announces after a refresh: the snapshot it stored (told by
// its load time) holds every change on the feed up to Seq.
type loadedNote struct {
	Seq      int64     `json:"seq"`
	LoadedAt time.Time `json:"loadedAt"`
}

// settingIndexLoaded remembers the last load announcement, for replicas that start later.
const settingIndexLoaded = "index.loaded"

// announceLoad tells the other replicas that the stored snapshot holds a fresh load, and
// remembers it for the replicas that start later (startFromLeader).
func (b *Bridge) announceLoad(loadedAt time.Time, seq int64) {
	if !b.store.Shared() {
		return
	}
	note, err := json.Marshal(loadedNote{Seq: seq, LoadedAt: loadedAt})
	if err != nil {
		return
	}
	b.publish(changeIndexLoaded, "", func() ([]byte, error) { return note, nil })
	if err := b.store.PutSetting(context.Background(), settingIndexLoaded, string(note)); err != nil {
		b.log.Warn().Err(err).Msg("load announcement not remembered; replicas that start load from Domo")
	}
}

// startFromLeader installs, on a shared state, the index the leader loaded last, with the
// changes published since replayed onto it, when that load is younger than the refresh
// interval (and its changes are still on the feed): a replica that starts (a rolling update,
// a replica added) is then as fresh as the others at once and costs Domo nothing; the
// leader's next refresh reaches it as it reaches them. It reports whether it did.
func (b *Bridge) startFromLeader(ctx context.Context) bool {
	if !b.store.Shared() || b.cfg.RefreshInterval <= 0 {
		return false
	}
	v, ok, err := b.store.Setting(ctx, settingIndexLoaded)
	if err != nil || !ok {
		return false
	}
	var note loadedNote
	if json.Unmarshal([]byte(v), &note) != nil || note.LoadedAt.IsZero() {
		return false
	}
	if age := b.now().Sub(note.LoadedAt); age < 0 || age > min(b.cfg.RefreshInterval, changesKept/2) {
		return false
	}
	b.protectStoredOwner(ctx)
	l, ok := b.index.BeginLoad()
	if !ok {
		return false
	}
	installed, err := b.replaySnapshot(ctx, l, note)
	if err != nil || !installed {
		if err != nil {
			b.log.Warn().Err(err).Msg("the leader's index not installed at start; loading from Domo")
		}
		l.Fail(nil)
		return false
	}
	b.learnHidden(ctx)
	return true
}

// learnHidden finds, in the stored records, the users a DELETE hid (a load learns them from
// its own reads), so that the IdP creating one again through this replica revives it at once.
// They are a hint: without it the create meets Domo's "email taken" and revives the user all
// the same.
func (b *Bridge) learnHidden(ctx context.Context) {
	for sh, err := range b.store.UserShadows(ctx) {
		if err != nil {
			b.log.Warn().Err(err).Msg("hidden users not read from the state")
			return
		}
		if isTombstone(sh.Data) {
			continue
		}
		rec, err := decodeUserRecord(sh.Data)
		if err == nil && rec.Hidden && rec.Shadow.Basis.Email != "" {
			b.setHidden(rec.Shadow.Basis.Email, sh.ID, true)
		}
	}
}

// installLeaders installs the leader's refreshed index: the stored snapshot, with the changes
// published since it was taken replayed onto it, in place of this replica's index. Writes this
// replica makes meanwhile are kept (index.Load), and the changes published after the replay
// reach the index through follow as usual.
func (b *Bridge) installLeaders(ctx context.Context, c store.Change) {
	var note loadedNote
	if err := json.Unmarshal(c.Data, &note); err != nil {
		b.log.Warn().Err(err).Msg("leader's load announcement not readable; skipped")
		return
	}
	l, ok := b.index.BeginLoad()
	if !ok {
		return // this replica is loading itself
	}
	installed, err := b.replaySnapshot(ctx, l, note)
	if err != nil {
		b.log.Warn().Err(err).Msg("leader's refreshed index not installed")
	}
	if !installed {
		l.Fail(nil) // keep serving what the index holds; the next announcement tries again
	}
}

func (b *Bridge) replaySnapshot(ctx context.Context, l *index.Load, note loadedNote) (bool, error) {
	data, _, ok, err := b.store.Snapshot(ctx, snapshotName)
	if err != nil || !ok {
		return false, fmt.Errorf("read snapshot: %w (found %v)", err, ok)
	}
	var s index.Snapshot
	if err := s.UnmarshalBinary(data); err != nil {
		return false, fmt.Errorf("read snapshot: %w", err)
	}
	if !s.LoadedAt.Equal(note.LoadedAt) {
		return false, nil // replaced by a newer one already, whose announcement follows
	}
	s.Users = slices.DeleteFunc(s.Users, func(u index.User) bool { return b.isProtected(u.ID, u.DomoEmail) })
	tmp := index.New()
	tmp.Restore(&s)
	for after := note.Seq; ; {
		cs, err := b.store.Changes(ctx, after, 500)
		if err != nil {
			return false, err
		}
		for _, c := range cs {
			if c.Kind != changeSwitches && c.Kind != changeIndexLoaded {
				b.apply(ctx, tmp, c)
			}
			after = c.Seq
		}
		if len(cs) < 500 {
			break
		}
	}
	out := tmp.Export()
	out.LoadedAt, out.LoadTook = s.LoadedAt, s.LoadTook
	l.Replace(out)
	b.log.Info().Int("users", len(out.Users)).Int("groups", len(out.Groups)).Time("loaded_at", s.LoadedAt).Msg("index refreshed from the leader's load")
	return true, nil
}

// refreshSwitches re-reads the pause switch and the breaker's flag from the store, where
// another replica changed them.
func (b *Bridge) refreshSwitches(ctx context.Context) error {
	reason, paused, err := b.store.Setting(ctx, settingPaused)
	if err != nil {
		return err
	}
	since, open, err := b.store.Setting(ctx, settingBreaker)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !paused:
		b.paused = nil
	case b.paused == nil || b.paused.encode() != reason:
		b.paused = decodePause(reason, b.now())
	}
	b.breaker = breakerState{}
	if open {
		t, _ := time.Parse(time.RFC3339, since)
		b.breaker = breakerState{open: true, since: t}
	}
	return nil
}

// switched tells the other replicas that a switch changed.
func (b *Bridge) switched() { b.publish(changeSwitches, "", nil) }

// leads reports whether this replica runs the leader's tasks now; a state database that does
// not answer means no.
func (b *Bridge) leads(ctx context.Context) bool {
	ok, err := b.store.Lead(ctx, leadIndex)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn().Err(err).Msg("leadership not confirmed; skipping the leader's tasks this turn")
		}
		ok = false
	}
	if was := b.leading.Swap(ok); was != ok && b.store.Shared() {
		b.log.Info().Bool("leader", ok).Msg("this replica's lead of the refresh changed")
	}
	return ok
}

// Leading reports whether this replica ran the leader's tasks (refresh, finishing intents) at
// its last turn.
func (b *Bridge) Leading() bool { return b.leading.Load() }

// pruneChanges drops changes older than changesKept from the feed (the leader's task).
func (b *Bridge) pruneChanges(ctx context.Context) {
	if !b.store.Shared() {
		return
	}
	if _, err := b.store.PruneChanges(ctx, b.now().Add(-changesKept)); err != nil && ctx.Err() == nil {
		b.log.Warn().Err(err).Msg("old changes not pruned from the feed")
	}
}

package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/store"
)

const snapshotName = "index"

// userRecord is what the store keeps per user: the mapping's shadow plus the bridge's own
// deprovisioning state.
type userRecord struct {
	Shadow mapping.UserShadow `json:"shadow"`
	Saved  *savedAccess       `json:"saved,omitempty"` // role and groups before a demote
	Hidden bool               `json:"hidden,omitempty"`
}

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

// loadUserRecord reads a user's stored state; a user without one gets an empty record.
func (b *Bridge) loadUserRecord(ctx context.Context, id int64) (*userRecord, bool, error) {
	sh, ok, err := b.store.UserShadow(ctx, id)
	if err != nil || !ok {
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
	return b.store.PutUserShadow(context.WithoutCancel(ctx), store.Shadow{ID: id, ExternalID: externalID, Data: data})
}

// Start gets ready to serve: it learns which Domo user owns the API client (and protects it),
// serves from the stored snapshot if there is one, then loads the index from Domo. With a
// snapshot, the full load runs in the background and Start returns at once.
func (b *Bridge) Start(ctx context.Context) error {
	tok, err := b.domo.Token(ctx)
	if err != nil {
		return fmt.Errorf("obtain a Domo token: %w", err)
	}
	if tok.UserID != 0 {
		b.mu.Lock()
		b.protected[tok.UserID] = true
		b.mu.Unlock()
	}
	if data, taken, ok, err := b.store.Snapshot(ctx, snapshotName); err == nil && ok {
		var s index.Snapshot
		if err := json.Unmarshal(data, &s); err == nil {
			b.index.Replace(s, taken, 0)
			b.log.Info().Int("users", len(s.Users)).Int("groups", len(s.Groups)).Time("taken", taken).Msg("serving from index snapshot while loading")
			go func() {
				if err := b.Load(context.WithoutCancel(ctx)); err != nil {
					b.log.Error().Err(err).Msg("index load failed")
				}
			}()
			return nil
		}
	}
	return b.Load(ctx)
}

// Load reads every user, group and membership from Domo, merges the stored shadows, and
// installs the result in the index. Users and groups the bridge writes meanwhile keep their
// written state.
func (b *Bridge) Load(ctx context.Context) error {
	started := b.now()
	s, err := b.readAll(ctx)
	if err != nil {
		b.index.SetError(err)
		return err
	}
	took := b.now().Sub(started)
	b.index.Replace(s, started, took)
	b.log.Info().Int("users", len(s.Users)).Int("groups", len(s.Groups)).Dur("took", took).Msg("index loaded")
	if data, err := json.Marshal(b.index.Export()); err == nil {
		if err := b.store.PutSnapshot(ctx, snapshotName, data); err != nil {
			b.log.Warn().Err(err).Msg("index snapshot not saved")
		}
	}
	return nil
}

func (b *Bridge) readAll(ctx context.Context) (index.Snapshot, error) {
	records := map[int64]*userRecord{}
	for sh, err := range b.store.UserShadows(ctx) {
		if err != nil {
			return index.Snapshot{}, fmt.Errorf("read user shadows: %w", err)
		}
		if rec, err := decodeUserRecord(sh.Data); err == nil {
			records[sh.ID] = rec
		}
	}
	opt := b.cfg.Mapping
	var s index.Snapshot
	for d, err := range b.domo.Users(ctx) {
		if err != nil {
			return index.Snapshot{}, fmt.Errorf("list Domo users: %w", err)
		}
		if b.isProtected(d.ID, d.Email) {
			continue
		}
		rec := records[d.ID]
		if rec != nil && rec.Hidden {
			continue
		}
		s.Users = append(s.Users, b.entry(d, rec, opt))
	}
	groupShadows := map[int64]*mapping.GroupShadow{}
	for sh, err := range b.store.GroupShadows(ctx) {
		if err != nil {
			return index.Snapshot{}, fmt.Errorf("read group shadows: %w", err)
		}
		var gs mapping.GroupShadow
		if json.Unmarshal(sh.Data, &gs) == nil {
			groupShadows[sh.ID] = &gs
		}
	}
	for g, err := range b.domo.Groups(ctx) {
		if err != nil {
			return index.Snapshot{}, fmt.Errorf("list Domo groups: %w", err)
		}
		members, err := b.domo.GroupMembers(ctx, g.ID)
		if err != nil {
			return index.Snapshot{}, fmt.Errorf("list members of Domo group %d: %w", g.ID, err)
		}
		s.Groups = append(s.Groups, b.groupEntry(g, groupShadows[g.ID], members, opt))
	}
	return s, nil
}

// entry builds the index entry of a Domo user.
func (b *Bridge) entry(d domo.User, rec *userRecord, opt mapping.Options) index.User {
	var sh *mapping.UserShadow
	if rec != nil {
		sh = &rec.Shadow
	}
	u := mapping.UserFromDomo(d, sh, opt)
	u.Groups = nil // memberships come from the group index, which list rows lack
	return index.User{User: u, DomoEmail: d.Email}
}

// groupEntry builds the index entry of a Domo group. Members are kept as ids only.
func (b *Bridge) groupEntry(g domo.Group, sh *mapping.GroupShadow, members []int64, opt mapping.Options) index.Group {
	mg := mapping.GroupFromDomo(g, sh, nil, nil, opt)
	return index.Group{Group: mg, MemberIDs: members}
}

// Run refreshes the index every RefreshInterval until ctx ends, so changes made in Domo's UI
// show up without a restart.
func (b *Bridge) Run(ctx context.Context) {
	if b.cfg.RefreshInterval <= 0 {
		return
	}
	t := time.NewTicker(b.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.Load(ctx); err != nil && ctx.Err() == nil {
				b.log.Error().Err(err).Msg("index refresh failed; serving the previous index")
			}
		}
	}
}

// Ready reports readiness for /readyz: the index is loaded. The details are sizes and ages
// only.
func (b *Bridge) Ready(ctx context.Context) (bool, map[string]any) {
	st := b.index.Stats()
	d := map[string]any{
		"index": map[string]any{
			"loaded":          st.Loaded,
			"users":           st.Users,
			"groups":          st.Groups,
			"refreshInterval": b.cfg.RefreshInterval.String(),
		},
	}
	idx := d["index"].(map[string]any)
	if st.Loaded {
		idx["loadedAt"] = st.LoadedAt.UTC().Format(time.RFC3339)
		idx["ageSeconds"] = int64(b.now().Sub(st.LoadedAt).Seconds())
		idx["loadSeconds"] = st.LoadTook.Seconds()
	}
	if st.LastError != "" {
		idx["lastRefreshFailed"] = true
	}
	return st.Loaded, d
}

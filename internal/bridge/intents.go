package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Every change that makes more than one write (Domo writes, or a Domo write and the store write
// that must agree with it) records its intent in the store before its first Domo write and
// clears it after its last. The intent holds the whole plan, the "before" state included (the
// role and groups a demotion takes away), so whoever finds it finishes the change the same way:
// the IdP's retry (every write path first finishes an intent on its resource), a restart (Start
// finishes what the last process left), or the background pass (another replica's leftovers).
// Finishing re-reads Domo and sends only what is still missing, so it can run any number of
// times. Plans only ever go forward: a change is finished, never rolled back.

// The kinds of intent, one per multi-step operation. IntentKinds lists them; the crash-point
// test runs a scenario for each and fails on a kind it does not know.
const (
	intentUserCreate  = "user.create"  // email:<email>: POST, a PUT when Domo ignored the role, the record
	intentUserUpdate  = "user.update"  // user:<id>: a PUT and/or membership moves (demote, restore), the record
	intentUserDelete  = "user.delete"  // user:<id>: DELETE, then the record is forgotten
	intentGroupCreate = "group.create" // groupname:<name>: POST, the initial members, the record
	intentGroupUpdate = "group.update" // group:<id>: a rename, member adds and removes, the record
	intentGroupDelete = "group.delete" // group:<id>: DELETE (emptying the group first if Domo insists)
)

// IntentKinds lists every kind of intent the bridge writes, the attribute deliveries of the
// instance APIs (intentUserAttributes, instance_users.go) included.
func IntentKinds() []string {
	return []string{intentUserCreate, intentUserUpdate, intentUserDelete, intentGroupCreate, intentGroupUpdate, intentGroupDelete, intentUserAttributes}
}

func userKey(id int64) string         { return "user:" + strconv.FormatInt(id, 10) }
func emailKey(email string) string    { return "email:" + strings.ToLower(email) }
func groupKey(id int64) string        { return "group:" + strconv.FormatInt(id, 10) }
func groupNameKey(name string) string { return "groupname:" + strings.ToLower(name) }

// intentRetry is what a client is told when the bridge cannot record or read an intent: the
// state database is unreachable, so nothing was sent to Domo.
const intentRetry = 10 * time.Second

// pendingSet remembers which resources may have an unfinished intent, so that reads (which
// must not pay a store round trip each) know when to finish one first. Write paths always ask
// the store itself: another process may have left an intent this one never saw.
type pendingSet struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (p *pendingSet) add(key string) {
	p.mu.Lock()
	if p.keys == nil {
		p.keys = map[string]bool{}
	}
	p.keys[key] = true
	p.mu.Unlock()
}

func (p *pendingSet) remove(key string) {
	p.mu.Lock()
	delete(p.keys, key)
	p.mu.Unlock()
}

func (p *pendingSet) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[key]
}

// record writes an intent before the first Domo write of a change. A failure means nothing has
// been sent yet, so the IdP is told to retry.
func (b *Bridge) record(ctx context.Context, key, kind string, plan any) (store.Intent, error) {
	data, err := json.Marshal(plan)
	if err != nil {
		return store.Intent{}, fmt.Errorf("encode %s intent: %w", kind, err)
	}
	in, err := b.store.PutIntent(context.WithoutCancel(ctx), store.Intent{Key: key, Kind: kind, Data: data})
	if err != nil {
		return store.Intent{}, scim.Unavailable(intentRetry, "the bridge's state database is unavailable; nothing was changed; retry later", err)
	}
	b.pending.add(key)
	return in, nil
}

// update replaces an intent's plan as a change progresses (a create learns its Domo id).
func (b *Bridge) update(ctx context.Context, in *store.Intent, plan any) error {
	data, err := json.Marshal(plan)
	if err != nil {
		return fmt.Errorf("encode %s intent: %w", in.Kind, err)
	}
	next, err := b.store.PutIntent(context.WithoutCancel(ctx), store.Intent{Key: in.Key, Kind: in.Kind, Data: data})
	if err != nil {
		return scim.Unavailable(intentRetry, "the bridge's state database is unavailable; retry later to finish the change", err)
	}
	*in = next
	return nil
}

// done clears an intent after its last write. A failure leaves it for the next finisher,
// which will find nothing left to send.
func (b *Bridge) done(ctx context.Context, in store.Intent) {
	if err := b.store.DeleteIntent(context.WithoutCancel(ctx), in.Key, in.Updated); err != nil {
		b.log.Warn().Err(err).Str("intent", in.Key).Msg("finished intent not cleared; the next pass clears it")
		return
	}
	b.pending.remove(in.Key)
}

// pendingIntent reads the intent under key. Write paths call it with the resource's lock held.
func (b *Bridge) pendingIntent(ctx context.Context, key string) (store.Intent, bool, error) {
	in, ok, err := b.store.Intent(ctx, key)
	if err != nil {
		return store.Intent{}, false, scim.Unavailable(intentRetry, "the bridge's state database is unavailable; retry later", err)
	}
	if !ok {
		b.pending.remove(key)
	}
	return in, ok, nil
}

// finishPending finishes the intent under key, if any; the caller holds the resource's lock.
func (b *Bridge) finishPending(ctx context.Context, key string) error {
	in, ok, err := b.pendingIntent(ctx, key)
	if err != nil || !ok {
		return err
	}
	return b.finish(ctx, in)
}

// finish carries an intent found in the store to its end.
func (b *Bridge) finish(ctx context.Context, in store.Intent) error {
	b.log.Info().Str("intent", in.Key).Str("kind", in.Kind).Time("since", in.Created).Msg("finishing an interrupted change")
	switch in.Kind {
	case intentUserCreate, intentUserUpdate, intentUserDelete:
		var p userPlan
		if err := json.Unmarshal(in.Data, &p); err != nil {
			return b.dropUnreadable(ctx, in, err)
		}
		switch in.Kind {
		case intentUserCreate:
			_, err := b.runUserCreate(ctx, in, &p, true)
			if undone := (*errCreateUndone)(nil); errors.As(err, &undone) {
				return nil // refused as a whole, and undone: nothing left to finish
			}
			return err
		case intentUserUpdate:
			return b.finishUserUpdate(ctx, in, &p)
		default:
			if err := b.runUserDelete(ctx, in, p.ID); scimStatusOf(err) != http.StatusNotFound {
				return err
			}
			return nil // deleted already
		}
	case intentGroupCreate, intentGroupUpdate, intentGroupDelete:
		var p groupPlan
		if err := json.Unmarshal(in.Data, &p); err != nil {
			return b.dropUnreadable(ctx, in, err)
		}
		return b.finishGroup(ctx, in, &p)
	}
	// A newer build's intent: leave it for that build rather than guess.
	return scim.Unavailable(intentRetry, "an unfinished change of a kind this build does not know is pending; retry later",
		fmt.Errorf("intent %q of unknown kind %q", in.Key, in.Kind))
}

// dropUnreadable clears an intent whose plan cannot be read: it cannot be finished, and keeping
// it would block its resource for ever.
func (b *Bridge) dropUnreadable(ctx context.Context, in store.Intent, err error) error {
	b.log.Error().Err(err).Str("intent", in.Key).Msg("unreadable intent dropped")
	b.done(ctx, in)
	return nil
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// attributesPending reports whether an attribute delivery is still recorded under key.
func (b *Bridge) attributesPending(ctx context.Context, key string) bool {
	_, ok, err := b.store.Intent(ctx, key)
	return ok || err != nil
}

// lockFor takes the lock that guards the resource an intent key names.
func (b *Bridge) lockFor(ctx context.Context, key string) (unlock func(), err error) {
	kind, rest, _ := strings.Cut(key, ":")
	switch kind {
	case "user":
		return b.userLocks.lock(ctx, rest)
	case "email":
		return b.userLocks.lock(ctx, "email:"+rest)
	case "group":
		return b.groupLocks.lock(ctx, rest)
	default: // groupname
		return b.groupLocks.lock(ctx, "name:"+rest)
	}
}

// FinishIntents finishes every intent older than minAge: what an earlier process or a dead
// replica left behind. Each is finished under its resource's lock and re-read first, so one
// that its own request finished meanwhile is skipped. It returns how many it finished and how
// many are left (Domo failing again, say); those stay for the next pass or the IdP's retry.
func (b *Bridge) FinishIntents(ctx context.Context, minAge time.Duration) (finished, left int, err error) {
	list, err := b.store.Intents(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("list intents: %w", err)
	}
	ctx = scim.WithInfo(ctx, &scim.Info{ID: "finish-intents", Token: "scimbridge", Operation: "finish interrupted changes", BaseURL: b.cfg.Mapping.BaseURL})
	// Attribute deliveries last: what they deliver is read from the user's record, which an
	// unfinished update of the same user is still to write.
	slices.SortStableFunc(list, func(a, b store.Intent) int {
		return cmp.Compare(boolInt(a.Kind == intentUserAttributes), boolInt(b.Kind == intentUserAttributes))
	})
	for _, in := range list {
		if ctx.Err() != nil {
			return finished, len(list) - finished, ctx.Err()
		}
		if in.Kind == intentUserAttributes {
			// A pending attribute delivery (instance_users.go): delivered under the user's
			// lock, from what the user's record asks for now.
			if id, ok := intentUser(in); !ok || b.cfg.Instance == nil {
				left++
			} else if b.deliverOne(ctx, id, in); b.attributesPending(ctx, in.Key) {
				left++
			} else {
				finished++
			}
			continue
		}
		b.pending.add(in.Key)
		if b.now().Sub(in.Updated) < minAge {
			left++
			continue
		}
		unlock, err := b.lockFor(ctx, in.Key)
		if err != nil {
			return finished, len(list) - finished, fmt.Errorf("lock %s: %w", in.Key, err)
		}
		cur, ok, err := b.pendingIntent(ctx, in.Key)
		if err == nil && ok {
			err = b.finish(ctx, cur)
		}
		unlock()
		if err != nil {
			left++
			b.log.Warn().Err(err).Str("intent", in.Key).Str("kind", in.Kind).Msg("interrupted change not finished yet")
			continue
		}
		finished++
	}
	return finished, left, nil
}

package bridge

import "context"

// locker is what the bridge needs of the store to serialise work per resource: two PATCHes of
// one user never interleave their GET-merge-PUT, on one replica or across replicas, while
// different users proceed in parallel (store.Store.Lock).
type locker interface {
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// keyedLocks are the locks of one kind of resource: a key names a resource within the kind.
// Taking one can fail (the shared state unreachable: the error says 503) or give up with ctx.
type keyedLocks struct {
	kind  string
	store locker
}

func (k keyedLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	return k.store.Lock(ctx, k.kind+":"+key)
}

package store

import (
	"fmt"
	"sync"
	"time"
)

// slotEvery is every of TakeSlot, rounded up to a whole microsecond (PostgreSQL's resolution):
// rounding down would hand out times a hair too close.
func slotEvery(every time.Duration) time.Duration {
	return (every + time.Microsecond - 1).Truncate(time.Microsecond)
}

func checkSlotArgs(name string, every time.Duration) error {
	if name == "" || every <= 0 {
		return fmt.Errorf("store: budget %q: empty name or interval %v", name, every)
	}
	return nil
}

// memBudgets is TakeSlot and HoldSlots in one process (SQLite's state serves one), by its
// monotonic clock: budget name -> the next free send time.
type memBudgets struct {
	mu   sync.Mutex
	next map[string]time.Time
}

func (m *memBudgets) take(name string, every, within time.Duration) (Slot, error) {
	if err := checkSlotArgs(name, every); err != nil {
		return Slot{}, err
	}
	every = slotEvery(every)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.next[name]
	if at.Before(now) {
		at = now
	}
	wait := at.Sub(now)
	if wait > max(within, 0) {
		return Slot{At: at, Wait: wait}, nil
	}
	if m.next == nil {
		m.next = map[string]time.Time{}
	}
	m.next[name] = at.Add(every)
	return Slot{Taken: true, At: at, Wait: wait}, nil
}

func (m *memBudgets) hold(name string, d time.Duration) error {
	if err := checkSlotArgs(name, time.Microsecond); err != nil {
		return err
	}
	until := time.Now().Add(d)
	m.mu.Lock()
	defer m.mu.Unlock()
	if until.After(m.next[name]) {
		if m.next == nil {
			m.next = map[string]time.Time{}
		}
		m.next[name] = until
	}
	return nil
}

package domosim

import (
	"sync"
	"time"
)

// slidingWindow admits at most limit requests in any window-long interval: a log of the
// admission times of the last limit requests. It is stricter than Domo's fixed windows could be
// (a fixed window admits 2×limit across a boundary), so a client that never trips it never trips
// a fixed-window limiter either. Rejected requests are not logged.
type slidingWindow struct {
	mu    sync.Mutex
	times []time.Time // ring of admission times, oldest at head
	head  int
	n     int
}

// allow admits or rejects a request at now. remaining is what is left after this request;
// reset is when the oldest admission leaves the window and frees a slot.
func (l *slidingWindow) allow(now time.Time, limit int, window time.Duration) (ok bool, remaining int, reset time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.times) != limit {
		l.times, l.head, l.n = make([]time.Time, limit), 0, 0
	}
	for l.n > 0 && now.Sub(l.times[l.head]) >= window {
		l.head = (l.head + 1) % limit
		l.n--
	}
	if l.n >= limit {
		return false, 0, l.times[l.head].Add(window)
	}
	l.times[(l.head+l.n)%limit] = now
	l.n++
	return true, limit - l.n, l.times[l.head].Add(window)
}

package domo

import (
	"context"
	"net/url"
	"strconv"
)

// pageSize is Domo's maximum page; a shorter page is the last one.
const pageSize = 500

// pageScan describes a paged listing.
type pageScan struct {
	op   string
	path string
	from int // first offset
	// to stops the scan before this offset (0: until a short page).
	to int
	// ahead is how many pages may be in flight at once.
	ahead int
	// lastPage is the index (from 0 at from) of the page expected to be the last, beyond which
	// pages are fetched one at a time; -1 when unknown.
	lastPage int
}

type page struct {
	body []byte
	err  error
}

// scanPages fetches pages of limit=500 in order and hands each body to fn, until a short page,
// the to offset, fn returning false, or an error. Up to ahead pages are fetched concurrently so
// that a long listing is bounded by the budget rather than by Domo's latency; the pages past
// the expected end are fetched one by one so that speculation wastes at most one request.
func (c *Client) scanPages(ctx context.Context, s pageScan, fn func(body []byte, offset int) (n int, more bool, err error)) error {
	ctx, cancel := context.WithCancel(ctx)
	var inflight []chan page
	// Speculative pages still in flight are cancelled and waited for, so no request of this
	// listing outlives it (callers count calls, and the pacer's budget is shared).
	defer func() {
		cancel()
		for _, ch := range inflight {
			<-ch
		}
	}()
	ahead := max(s.ahead, 1)
	fetch := func(offset int) chan page {
		ch := make(chan page, 1)
		go func() {
			q := url.Values{"limit": {strconv.Itoa(pageSize)}, "offset": {strconv.Itoa(offset)}}
			res, err := c.do(ctx, call{op: s.op, method: "GET", path: s.path, query: q, idempotent: true})
			ch <- page{body: res.body, err: err}
		}()
		return ch
	}
	next := 0 // index of the next page to launch
	launch := func() {
		for len(inflight) < ahead {
			if s.to > 0 && s.from+next*pageSize >= s.to {
				return
			}
			// Past the expected end, and with a page already in flight: wait for it. Without an
			// expectation, speculate: at most ahead-1 requests are wasted on empty pages.
			if s.lastPage >= 0 && next > s.lastPage && len(inflight) > 0 {
				return
			}
			inflight = append(inflight, fetch(s.from+next*pageSize))
			next++
		}
	}
	launch()
	for idx := 0; len(inflight) > 0; idx++ {
		p := <-inflight[0]
		inflight = inflight[1:]
		if p.err != nil {
			return p.err
		}
		n, more, err := fn(p.body, s.from+idx*pageSize)
		if err != nil || !more || n < pageSize {
			return err
		}
		launch()
	}
	return nil
}

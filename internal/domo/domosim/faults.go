package domosim

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Fault is a deterministic fault for the next requests that match it, for tests that need one
// failure at one place rather than a probability.
type Fault struct {
	Method string // e.g. "POST"; "" matches any
	// Route is a route template, e.g. "/v1/users/{id}" or "/api/content/v2/groups/{id}/user";
	// "" matches any /v1 route. "/oauth/token" (named explicitly, never by "") faults the token
	// endpoint, and instance API routes too are matched only by their template.
	Route  string
	Status int  // answer this status instead of the real one (e.g. 503); 0 with Drop
	After  bool // let the request take effect first, then answer Status or drop
	Drop   bool // close the connection without an answer
	// Body replaces Domo's error envelope as the answer's body (sent as JSON): an RFC 6749
	// error such as {"error":"invalid_grant"}, or something no client can decode. With Status
	// 0 the answer is 200.
	Body  string
	Times int // how many matching requests it hits; default 1
}

// TokenRoute is the route template of Domo's token endpoint, for a Fault.
const TokenRoute = "/oauth/token"

type faultQueue struct {
	mu     sync.Mutex
	faults []Fault
}

// InjectFault queues a fault for the next matching /v1 requests.
func (s *Sim) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults.mu.Lock()
	s.faults.faults = append(s.faults.faults, f)
	s.faults.mu.Unlock()
}

func (q *faultQueue) take(method, tmpl string, api bool) (Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, f := range q.faults {
		if (f.Method == "" || strings.EqualFold(f.Method, method)) && (f.Route == tmpl || (f.Route == "" && tmpl != TokenRoute && !api)) {
			q.faults[i].Times--
			if q.faults[i].Times <= 0 {
				q.faults = append(q.faults[:i], q.faults[i+1:]...)
			}
			return f, true
		}
	}
	return Fault{}, false
}

var injectable = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

// serveFault answers the request with a fault when one is due and reports whether it did.
// Fail5xx and DropAfterCommit apply to every /v1 and instance API request.
func (s *Sim) serveFault(w http.ResponseWriter, r *http.Request, opts Options, route string, h handler, api bool) bool {
	tmpl := route[strings.IndexByte(route, ' ')+1:]
	f, ok := s.faults.take(r.Method, tmpl, api)
	if !ok && tmpl == TokenRoute {
		return false // random faults are for /v1 and the instance APIs only
	}
	if !ok {
		switch {
		case opts.Fail5xx > 0 && s.randFloat() < opts.Fail5xx:
			f = Fault{Status: injectable[int(s.randInt64(0, int64(len(injectable))))], After: s.randFloat() < opts.Fail5xxAfter}
		case r.Method != http.MethodGet && opts.DropAfterCommit > 0 && s.randFloat() < opts.DropAfterCommit:
			f = Fault{After: true, Drop: true}
		default:
			return false
		}
	}
	if f.After {
		h(&discardWriter{header: http.Header{}}, r, opts)
	}
	if f.Body != "" {
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
		return true
	}
	if f.Drop || f.Status == 0 {
		s.stats.dropped.Add(1)
		// The server closes the connection without writing a response.
		panic(http.ErrAbortHandler)
	}
	if f.Status >= 500 {
		s.stats.injected.Add(1)
	}
	writeError(w, r, opts, f.Status, http.StatusText(f.Status))
	return true
}

// discardWriter swallows the answer of a request whose effect is kept but whose answer is lost.
type discardWriter struct {
	header http.Header
	buf    bytes.Buffer
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(b []byte) (int, error) { return d.buf.Write(b) }

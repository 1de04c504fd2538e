package domosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const contentType = "application/json;charset=UTF-8"

// maxBody bounds request bodies, as any gateway does.
const maxBody = 1 << 20

type envelope struct {
	Status       int    `json:"status"`
	StatusReason string `json:"statusReason"`
	Path         string `json:"path,omitempty"`
	Message      string `json:"message"`
	TOE          string `json:"toe"`
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, r *http.Request, opts Options, status int, msg string) {
	if writeInstanceError(w, r, opts, status, msg) {
		return
	}
	e := envelope{Status: status, StatusReason: http.StatusText(status), Message: msg, TOE: newTOE()}
	if opts.ErrorPath {
		e.Path = r.URL.Path
	}
	writeJSON(w, status, e)
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

const toeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newTOE makes a trace id shaped like Domo's: 10-5-5 uppercase alphanumerics.
func newTOE() string {
	b := make([]byte, 0, 22)
	for i, n := range []int{10, 5, 5} {
		if i > 0 {
			b = append(b, '-')
		}
		for range n {
			b = append(b, toeAlphabet[rand.IntN(len(toeAlphabet))])
		}
	}
	return string(b)
}

func setRateHeaders(h http.Header, limit, remaining int, reset time.Time) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	// Epoch seconds, rounded up so that a client waiting until then finds the slot free.
	sec := reset.Unix()
	if reset.Nanosecond() > 0 {
		sec++
	}
	h.Set("X-RateLimit-Reset", strconv.FormatInt(sec, 10))
}

// statusWriter remembers the status for Stats.
// statusWriter remembers the status and reports it once, before any byte of the answer can
// reach the client, so a caller that reads Stats right after its call sees the call counted.
type statusWriter struct {
	http.ResponseWriter
	status   int
	onStatus func(status int)
}

func (w *statusWriter) setStatus(code int) {
	if w.status == 0 {
		w.status = code
		if w.onStatus != nil {
			w.onStatus(code)
		}
	}
}

func (w *statusWriter) WriteHeader(code int) {
	w.setStatus(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.setStatus(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// paging reads limit and offset. ok is false after an error answer was written.
func paging(w http.ResponseWriter, r *http.Request, opts Options) (limit, offset int, ok bool) {
	q := r.URL.Query()
	limit, offset = 50, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 1:
			writeError(w, r, opts, http.StatusBadRequest, "limit must be an integer between 1 and 500")
			return 0, 0, false
		case n > 500 && opts.LimitOver500 == "clamp":
			n = 500
		case n > 500:
			writeError(w, r, opts, http.StatusBadRequest, "limit must be an integer between 1 and 500")
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, opts, http.StatusBadRequest, "offset must be a non-negative integer")
			return 0, 0, false
		}
		offset = n
	}
	return limit, offset, true
}

// readObject reads a JSON object body into raw fields. ok is false after an error answer.
func readObject(w http.ResponseWriter, r *http.Request, opts Options) (map[string]json.RawMessage, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, r, opts, http.StatusBadRequest, "Could not read request body")
		return nil, false
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		writeError(w, r, opts, http.StatusBadRequest, "Malformed JSON request body")
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, r, opts, http.StatusBadRequest, "Malformed JSON request body")
		return nil, false
	}
	return m, true
}

// field is one value of a request body: absent, null, or a decoded value.
type field struct {
	present bool
	null    bool
	raw     json.RawMessage
}

func get(m map[string]json.RawMessage, k string) field {
	raw, ok := m[k]
	if !ok {
		return field{}
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return field{present: true, null: true}
	}
	return field{present: true, raw: raw}
}

func (f field) str() (string, bool) {
	if f.null {
		return "", true
	}
	var s string
	if err := json.Unmarshal(f.raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func (f field) boolean() (bool, bool) {
	var b bool
	if f.null || json.Unmarshal(f.raw, &b) != nil {
		return false, false
	}
	return b, true
}

// integer accepts a JSON integer; "" and null mean zero (cleared).
func (f field) integer() (int64, bool) {
	if f.null {
		return 0, true
	}
	raw := bytes.TrimSpace(f.raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) == "" {
			return 0, true
		}
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

func validEmail(e string) bool {
	if e == "" || len(e) > 254 || strings.ContainsAny(e, " \t\r\n<>(),;:\"[]\\") {
		return false
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return false
	}
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1 && !strings.HasPrefix(domain, "-")
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

package scim

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
)

// ContentType is the media type of every SCIM response (RFC 7644 §8.1).
const ContentType = "application/scim+json; charset=utf-8"

// writeJSON sends v with the SCIM media type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here (an unmarshalable value); answer honestly.
		b, _ = json.Marshal(scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "internal error"})
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError is the one place where an error becomes a SCIM error response. The detail of a
// 500 never carries the cause; the cause goes to the access log through the request's Info.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	RequestInfo(r.Context()).err = e
	if e.RetryAfter > 0 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	writeJSON(w, e.Status, scimerrors.ScimError{ScimType: e.Type, Detail: e.Detail, Status: e.Status})
}

// retryAfterSeconds renders a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// writeResource sends one resource with its ETag and, for a create, its Location.
func writeResource(w http.ResponseWriter, status int, res Attributes) {
	if meta, ok := res["meta"].(map[string]any); ok {
		if v, ok := meta["version"].(string); ok && v != "" {
			w.Header().Set("ETag", v)
		}
		if loc, ok := meta["location"].(string); ok && loc != "" && status == http.StatusCreated {
			w.Header().Set("Location", loc)
		}
	}
	writeJSON(w, status, res)
}

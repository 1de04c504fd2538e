package bridge

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// Waits a client is told when Domo keeps failing, and when Domo refuses the bridge's
// credentials (which takes an operator).
const (
	unavailableRetry = 30 * time.Second
	credentialsRetry = 5 * time.Minute
)

// errorClass is one row of the error table: a kind of Domo failure (decided by package domo
// where Domo's answer arose; its answers column says which answers have it), what the IdP is
// told, and whether the bridge may take it as the resource being gone (drop it from the index
// and forget its stored state). Every other failure leaves the index and the store as they
// were.
type errorClass struct {
	kind    domo.Kind
	answers string // the Domo answers of this kind (documentation; domo's answerRules decide)
	status  int
	typ     scimerrors.ScimType
	retry   time.Duration // Retry-After; 0 sends none (a 429 carries Domo's own wait)
	gone    bool          // the resource is gone: drop it from the index
	detail  string        // %s is the resource ("User \"42\""); Domo's message follows ": "
}

// errorClasses is the one table of what each Domo failure means for the IdP. Only Domo's
// answer about the resource itself is a 404 or 409; credentials, the token endpoint, the
// network and Domo's own failures are 503 with Retry-After (502 for an answer the bridge
// cannot use) and never change the index. TestErrorTable walks every row through the HTTP
// API with the simulator producing each answer.
var errorClasses = []errorClass{
	{kind: domo.KindNotFound, answers: "404 (or 410) on the resource's own path; users.get 400 for an unknown id; a user or group that reads back deleted:true",
		status: http.StatusNotFound, gone: true, detail: "%s not found"},
	{kind: domo.KindConflict, answers: "409; a 400 to a create, update or rename after which a lookup finds the email or name held by another user or group",
		status: http.StatusConflict, typ: scim.TypeUniqueness, detail: "Domo already has a %s with that identity"},
	{kind: domo.KindRejected, answers: "any other 4xx to a create or update (validation)",
		status: http.StatusBadRequest, typ: scim.TypeInvalidValue, detail: "Domo rejected the change to %s"},
	{kind: domo.KindRefused, answers: "users.delete 400 (the user owns DataSets or DataFlows); groups.delete 400 that emptying the group does not cure",
		status: http.StatusConflict, detail: "Domo refused to delete %s as it is (a user who owns DataSets or DataFlows must have them reassigned in Domo first)"},
	{kind: domo.KindCredentials, answers: "token endpoint 400 (RFC 6749 invalid_grant, invalid_scope, invalid_client), 401, 403 or 404; an API call answering 401 to a fresh token, or 403",
		status: http.StatusServiceUnavailable, retry: credentialsRetry, detail: "Domo refused the bridge's credentials; the operator must check them"},
	{kind: domo.KindRateLimited, answers: "429 (API or token endpoint) for longer than the bridge may wait, or the bridge's own budget for Domo spent",
		status: http.StatusTooManyRequests, detail: "Domo's request budget is exhausted; retry later"},
	{kind: domo.KindUnavailable, answers: "5xx, timeouts and connection resets (API or token endpoint) until the retries ran out",
		status: http.StatusServiceUnavailable, retry: unavailableRetry, detail: "Domo is unavailable; retry later"},
	{kind: domo.KindTimeout, answers: "the request's deadline passed before Domo gave a final answer",
		status: http.StatusServiceUnavailable, retry: unavailableRetry, detail: "Domo did not answer in time; retry later"},
	{kind: domo.KindUnknownOutcome, answers: "a create (not idempotent) that got a 5xx, timeout or reset, and whose result a lookup could not settle",
		status: http.StatusServiceUnavailable, retry: unavailableRetry, detail: "Domo did not say whether the change to %s was made; retry later"},
	{kind: domo.KindBadAnswer, answers: "a 2xx whose body cannot be decoded; a 3xx, or a 4xx no rule expects (a 4xx to a read or a listing)",
		status: http.StatusBadGateway, retry: unavailableRetry, detail: "unexpected answer from Domo; retry later"},
}

// classOf finds the row for err; ok is false for an error that is not a Domo failure.
func classOf(err error) (errorClass, bool) {
	k := domo.KindOf(err)
	for _, c := range errorClasses {
		if c.kind == k {
			return c, true
		}
	}
	return errorClass{}, false
}

// isNotFound reports whether err is Domo saying the resource itself is gone, the only failure
// after which the bridge may drop the resource from its index (errorClasses' gone column).
func isNotFound(err error) bool {
	c, ok := classOf(err)
	return ok && c.gone
}

// isConflict reports whether err is Domo saying the email or name is taken.
func isConflict(err error) bool { return domo.KindOf(err) == domo.KindConflict }

// upstream translates a Domo or mapping error into the SCIM vocabulary by the error table.
// kind and id name the resource. Errors that are already SCIM errors pass through, and so do
// errors that are not Domo's (the scim package's funnel answers them).
func upstream(err error, kind, id string) error {
	if err == nil {
		return nil
	}
	var se *scim.Error
	if errors.As(err, &se) {
		return err
	}
	var ve *mapping.ValueError
	if errors.As(err, &ve) {
		return &scim.Error{Status: http.StatusBadRequest, Type: scim.TypeInvalidValue, Detail: ve.Error(), Err: err}
	}
	c, ok := classOf(err)
	if !ok {
		return err
	}
	out := &scim.Error{Status: c.status, Type: c.typ, RetryAfter: c.retry, Detail: c.detail, Err: err}
	if strings.Contains(c.detail, "%s") {
		what := kind
		switch {
		case c.kind == domo.KindConflict:
			what = strings.ToLower(kind)
		case id != "":
			what = kind + " " + strconv.Quote(id)
		default:
			what = "the " + strings.ToLower(kind)
		}
		out.Detail = strings.Replace(c.detail, "%s", what, 1)
	}
	var rl *domo.RateLimitError
	if errors.As(err, &rl) {
		out.RetryAfter = rl.RetryAfter
	}
	var ae *domo.APIError
	if (c.kind == domo.KindRejected || c.kind == domo.KindRefused) && errors.As(err, &ae) && ae.Message != "" {
		// Domo's message says what to fix; it holds no secret (the token travels in a header).
		out.Detail += ": " + ae.Message
	}
	return out
}

// parseID turns a SCIM id into a Domo id. Only the canonical decimal form of a positive int64
// is an id the bridge ever issued; anything else (leading zeros, signs, 30 digits) cannot name
// a resource, so it is a 404 without asking Domo.
func parseID(kind, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return 0, scim.NotFound(kind, s)
	}
	return n, nil
}

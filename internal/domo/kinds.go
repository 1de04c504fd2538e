package domo

import "net/http"

// answerRule is one row of the table of what Domo's answers mean. Op "" matches every
// operation; Status 0 matches every status the row's range admits.
type answerRule struct {
	op       string // a client operation (see Hooks.Request), "" for any
	writes   bool   // the row applies to writes only (POST, PUT, DELETE)
	min, max int    // status range, inclusive
	kind     Kind
	why      string
}

// answerRules decides the kind of every error answer Domo gives, by the operation that got it.
// The first matching row wins. Only an answer about the resource the call names is
// KindNotFound: the token endpoint, a listing and any 401/403 never are. 429 and a first 401
// never reach the table (do repeats them), and neither do 5xx answers to idempotent calls
// before the retries run out.
var answerRules = []answerRule{
	{op: "token", min: 500, max: 599, kind: KindUnavailable, why: "the token endpoint failed"},
	{op: "token", min: 429, max: 429, kind: KindRateLimited, why: "the token endpoint is rate limited"},
	{op: "token", min: 0, max: 999, kind: KindCredentials, why: "the token endpoint refused the client (RFC 6749 400 invalid_grant/invalid_scope/invalid_client, 401, 403), or is not there (404: a wrong API URL)"},
	{min: 429, max: 429, kind: KindRateLimited, why: "Domo's budget is exhausted"},
	{min: 401, max: 401, kind: KindCredentials, why: "a fresh token was refused"},
	{min: 403, max: 403, kind: KindCredentials, why: "the token lacks a scope or the client's owner lacks a right"},
	{min: 500, max: 599, kind: KindUnavailable, why: "Domo failed"},
	{op: "users.list", min: 400, max: 499, kind: KindBadAnswer, why: "a listing has no resource to be missing: Domo refused the bridge's request"},
	{op: "groups.list", min: 400, max: 499, kind: KindBadAnswer, why: "a listing has no resource to be missing: Domo refused the bridge's request"},
	{min: 404, max: 404, kind: KindNotFound, why: "the user, group or membership the path names does not exist"},
	{min: 410, max: 410, kind: KindNotFound, why: "the resource the path names is gone"},
	{min: 409, max: 409, kind: KindConflict, why: "the email or name is taken"},
	{op: "users.get", min: 400, max: 400, kind: KindNotFound, why: "some tenants answer 400 for a user id they do not know"},
	{op: "users.delete", min: 400, max: 400, kind: KindRefused, why: "the user owns content Domo will not orphan"},
	{op: "groups.delete", min: 400, max: 400, kind: KindRefused, why: "Domo will not delete the group as it is (default, or not empty)"},
	{writes: true, min: 400, max: 499, kind: KindRejected, why: "Domo refused the content of the write"},
	{min: 0, max: 999, kind: KindBadAnswer, why: "an answer no rule expects (a 4xx to a read, a 3xx)"},
}

// classify finds the kind of an error answer of status to op.
func classify(op string, write bool, status int) Kind {
	for _, r := range answerRules {
		if (r.op == "" || r.op == op) && (!r.writes || write) && status >= r.min && status <= r.max {
			return r.kind
		}
	}
	return KindBadAnswer
}

// classified returns Domo's error answer with its kind decided for the call that got it.
func classified(op, method string, status int, body []byte) *APIError {
	e := decodeAPIError(op, status, body)
	e.Kind = classify(op, method != http.MethodGet && method != "", status)
	return e
}

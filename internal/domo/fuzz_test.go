package domo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fzSeeds are Domo answers as the API documents them and as tenants have been seen to send
// them (ids as strings, odd timestamps, error envelopes, proxies' pages), for both targets.
var fzSeeds = []string{
	`{"id":871,"name":"Ada Lovelace","email":"ada@example.com","role":"Participant","roleId":4,"title":"Analyst","phone":"+1 801 555 0100","location":"Salt Lake City","timezone":"America/Denver","locale":"en-US","employeeNumber":1001,"createdAt":"2017-06-06T18:34:52Z","updatedAt":"2017-06-06T18:34:52.123Z","image":"https://x/img","groups":[{"id":1,"name":"Default"}],"deleted":false}`,
	`[{"id":871,"email":"a@b.c","name":"A"},{"id":"872","email":"b@b.c","roleId":"2","createdAt":"2017-06-06T18:34:52"}]`,
	`[{"id":1,"name":"Default","default":true,"active":true,"creatorId":"27","memberCount":12},{"id":2,"name":"Sales","active":"true","userIds":[1,"2",{"id":3}]}]`,
	`{"id":"12","name":"G","default":false,"memberCount":3.0,"userIds":["1",2]}`,
	`[27, "1554", {"id":88}, null, "x"]`,
	`{"status":400,"statusReason":"Bad Request","message":"Email already in use","toe":"ABCDEF1234"}`,
	`{"error":"invalid_client","error_description":"Bad credentials"}`,
	`<html><body>502 Bad Gateway</body></html>`,
	`[]`, `{}`, `null`, `""`, `[{"id":0},{"id":-1},{"id":1e3},{"id":9223372036854775807}]`,
	`{"id":5,"name":{"first":"x"},"email":["a"],"deleted":"true","createdAt":17,"groups":{"id":1}}`,
}

// FuzzDecode feeds any bytes to the decoders of Domo's answers: they must not panic, a page must
// decode as its records do one by one, and an error answer keeps its status and a bounded
// message.
func FuzzDecode(f *testing.F) {
	for _, s := range fzSeeds {
		f.Add([]byte(s), uint16(400))
	}
	f.Fuzz(func(t *testing.T, body []byte, status uint16) {
		_, _ = decodeUser(body)
		_, _ = decodeGroup(body)
		_, _ = decodeGroups(body)
		_, _ = decodeIDs(body)
		if users, err := decodeUsers(body); err == nil {
			var raws []json.RawMessage
			if err := json.Unmarshal(body, &raws); err != nil {
				t.Fatalf("decodeUsers accepted %q, which is not a JSON array: %v", body, err)
			}
			if len(raws) != len(users) {
				t.Fatalf("decodeUsers(%q) gave %d users for %d records", body, len(users), len(raws))
			}
			for i, raw := range raws {
				one, err := decodeUser(raw)
				if err != nil {
					t.Fatalf("page %q decodes, its record %d (%s) does not: %v", body, i, raw, err)
				}
				if !reflect.DeepEqual(one, users[i]) {
					t.Fatalf("record %d of %q decodes as %+v alone and %+v in the page", i, body, one, users[i])
				}
			}
		}
		code := int(status%500) + 100
		e := decodeAPIError("users.get", code, body)
		if e.Status != code || e.Op != "users.get" {
			t.Fatalf("decodeAPIError lost the status or op: %+v", e)
		}
		if len(e.Message) > 300 {
			t.Fatalf("decodeAPIError kept a %d-byte message", len(e.Message))
		}
		if e.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}

// fzInstanceSeeds are instance API answers in the shapes Domo's docs show and leave open.
var fzInstanceSeeds = []string{
	`{"users":[{"id":1234567,"displayName":"Ada","roleId":5,"attributes":[{"key":"costCenter","values":["CC-7"]},{"key":"n","values":[4100,1.5e3]}]}]}`,
	`{"id":"1234567","roleId":"5","attributes":{"costCenter":"CC-7","x":null}}`,
	`[{"id":1,"name":"Admin"},{"id":"810756122","name":"Analyst","userCount":"3"}]`,
	`{"roles":[{"id":1,"name":"Admin"}],"totalCount":1}`,
	`[{"key":"costCenter","keyspace":"customer-defined"},"title"]`,
	`{"key":"x","values":1e999999999}`, `[1e-999999999, -0, 0.1e2]`,
}

// FuzzInstanceDecode feeds any bytes to the decoders of the instance APIs' answers: no panic,
// no unbounded work, and a user is only ever the one asked for (or one without an id).
func FuzzInstanceDecode(f *testing.F) {
	for _, s := range append(append([]string{}, fzInstanceSeeds...), fzSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if u, err := decodeIdentityUser(body, 1234567); err == nil && u.ID != 1234567 && u.ID != 0 {
			t.Fatalf("decodeIdentityUser(%q) gave user %d", body, u.ID)
		}
		if roles, err := decodeRoles(body); err == nil {
			for _, r := range roles {
				if r.ID <= 0 || r.Name == "" {
					t.Fatalf("decodeRoles(%q) kept %+v", body, r)
				}
			}
		}
		_, _ = decodeAttributeKeys(body)
		if vals := attributeValues(body); vals == nil {
			t.Fatalf("attributeValues(%q) is nil", body)
		}
		for _, a := range decodeAttributes(body) {
			if a.Key == "" || a.Values == nil {
				t.Fatalf("decodeAttributes(%q) kept %+v", body, a)
			}
		}
	})
}

// fzSecret and fzAccess are the client's credentials in FuzzClientAnswers: long and random
// enough that no fuzzed answer contains them by chance, so finding one in an error is a leak.
const (
	fzSecret = "fz-secret-7Qm2vX9rLk4pT8sW1nB6yH3cJ5dF0gZa"
	fzAccess = "fz-access-Xn4Lq8Rt2Vb6Mz1Kp9Hs3Wd7Jc5Gf0Ye"
)

// fzStatuses are the answers Domo (or a proxy in front of it) gives.
var fzStatuses = []int{200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503}

// FuzzClientAnswers serves any answer to each client operation through a real HTTP server: no
// panic, no credential in an error, and the error kinds the bridge maps to SCIM statuses.
func FuzzClientAnswers(f *testing.F) {
	for i, s := range fzSeeds {
		f.Add(uint8(i), uint8(i), []byte(s))
	}
	var answer atomic.Pointer[fzAnswer]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"` + fzAccess + `","token_type":"bearer","expires_in":3599,"scope":"user","customer":"acme","env":"prod","userId":27,"role":"Admin","jti":"x"}`))
			return
		}
		a := answer.Load()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	f.Cleanup(srv.Close)
	// One transport for all clients: a transport per client would keep its idle connections
	// open until the process runs out of them.
	hc := srv.Client()
	hc.Timeout = 5 * time.Second
	f.Fuzz(func(t *testing.T, op, st uint8, body []byte) {
		// A fresh client each time: a 429 pauses a client's pacer for what follows.
		c, err := New(Config{
			BaseURL: srv.URL, ClientID: "fz-client", ClientSecret: fzSecret, HTTPClient: hc,
			RatePerMinute: 1 << 30, MaxAttempts: 1, MaxWait: time.Millisecond, Logger: zerolog.Nop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		status := fzStatuses[int(st)%len(fzStatuses)]
		answer.Store(&fzAnswer{status: status, body: body})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		name, idempotent, err := fzCall(ctx, c, op)
		if err == nil {
			return
		}
		if msg := err.Error(); strings.Contains(msg, fzSecret) || strings.Contains(msg, fzAccess) {
			t.Fatalf("%s: error carries a credential: %s", name, msg)
		}
		if ctx.Err() != nil {
			return // a listing of endless full pages ends only with its deadline
		}
		var rl *RateLimitError
		switch {
		case status == http.StatusTooManyRequests && !errors.As(err, &rl):
			t.Fatalf("%s: 429 gave %v, want a *RateLimitError", name, err)
		case status >= 500 && idempotent && !errors.Is(err, ErrUnavailable):
			t.Fatalf("%s: %d gave %v, want ErrUnavailable", name, status, err)
		case status == http.StatusNotFound && (name == "GetUser" || name == "GetGroup") && !errors.Is(err, ErrNotFound):
			t.Fatalf("%s: 404 gave %v, want ErrNotFound", name, err)
		}
	})
}

type fzAnswer struct {
	status int
	body   []byte
}

// fzCall runs the client operation op selects, and says whether it is retried after a 5xx.
func fzCall(ctx context.Context, c *Client, op uint8) (name string, idempotent bool, err error) {
	upd := UserUpdate{User: User{Name: "Ada Lovelace", Email: "ada@example.com", Role: "Participant"}}
	switch op % 9 {
	case 0:
		_, err = c.GetUser(ctx, 871)
		return "GetUser", true, err
	case 1:
		for _, err = range c.Users(ctx) {
			if err != nil {
				break
			}
		}
		return "Users", true, err
	case 2:
		_, err = c.GetGroup(ctx, 12)
		return "GetGroup", true, err
	case 3:
		for _, err = range c.Groups(ctx) {
			if err != nil {
				break
			}
		}
		return "Groups", true, err
	case 4:
		_, err = c.GroupMembers(ctx, 12)
		return "GroupMembers", true, err
	case 5:
		_, err = c.CreateUser(ctx, upd, false)
		return "CreateUser", false, err
	case 6:
		_, err = c.UpdateUser(ctx, 871, upd)
		return "UpdateUser", true, err
	case 7:
		_, _, err = c.FindUserByEmail(ctx, "ada@example.com")
		return "FindUserByEmail", true, err
	default:
		err = c.AddGroupMember(ctx, 12, 871)
		return "AddGroupMember", true, err
	}
}

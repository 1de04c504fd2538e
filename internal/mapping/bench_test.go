package mapping

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// A Domo list row and a stored shadow as the index gets them: an Entra-provisioned user.
const (
	benchRow = `{"id":%d,"name":"Alice Smith","email":"alice.smith%d@contoso.com","role":"Participant","roleId":4,
		"title":"Account Executive","phone":"+1 425 555 0100","timezone":"America/Los_Angeles","locale":"en-US",
		"employeeId":"E%d","department":"Sales","createdAt":"2024-03-01T09:30:00Z","updatedAt":"2024-03-02T10:00:00Z",
		"image":"https://acmecompany.domo.com/avatar/thumb/domo/%d"}`
	benchShadow = `{"externalId":"0a21f0f2-8d2a-4bb6-9d7e-%012d","userName":"alice.smith%d@contoso.com",
		"name":{"formatted":"Alice Smith","familyName":"Smith","givenName":"Alice"},"title":"Account Executive",
		"locale":"en-US","timezone":"America/Los_Angeles",
		"emails":[{"value":"alice.smith%d@contoso.com","type":"work","primary":true}],
		"phoneNumbers":[{"value":"+1 425 555 0100","type":"work"}],
		"enterprise":{"employeeNumber":"E%d","department":"Sales","manager":{"value":"959463190"}},
		"basis":{"email":"alice.smith%d@contoso.com","name":"Alice Smith","role":"Participant","roleId":4,
		"title":"Account Executive","phone":"+1 425 555 0100","timezone":"America/Los_Angeles","locale":"en-US",
		"employeeId":"E%d","department":"Sales"}}`
)

func benchInputs(tb testing.TB, i int) (domo.User, *UserShadow) {
	var d domo.User
	id := 100000000 + i
	if err := json.Unmarshal(fmt.Appendf(nil, benchRow, id, i, i, id), &d); err != nil {
		tb.Fatal(err)
	}
	var sh UserShadow
	if err := json.Unmarshal(fmt.Appendf(nil, benchShadow, i, i, i, i, i, i), &sh); err != nil {
		tb.Fatal(err)
	}
	return d, &sh
}

func benchUser(tb testing.TB) User {
	d, sh := benchInputs(tb, 1)
	u := UserFromDomo(d, sh, testOpts())
	if u.UserName != "alice.smith1@contoso.com" || u.Name.GivenName != "Alice" || u.Enterprise.Department != "Sales" {
		tb.Fatalf("bench user not read from its shadow: %+v", u)
	}
	return u
}

var sink []any

func BenchmarkUserValues(b *testing.B) {
	u := benchUser(b)
	for _, k := range []struct{ key, sub string }{
		{"username", ""},
		{"externalid", ""},
		{"displayname", ""},
		{"title", ""},
		{"active", ""},
		{"name", "familyname"},
		{"emails", "value"},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department", ""},
		{"meta", "lastmodified"},
		{"nickname", ""}, // absent
		{"emails", ""},   // value-path filter: maps
	} {
		name := k.key
		if k.sub != "" {
			name += "." + k.sub
		}
		name = strings.TrimPrefix(name, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = u.Values(k.key, k.sub)
			}
		})
	}
}

// BenchmarkScan100k is a full scan for `userName co "smith99"` over 100,000 users, the
// evaluation reduced to what a filter does per user: Values, a type switch and a compare.
func BenchmarkScan100k(b *testing.B) {
	users := make([]User, 100_000)
	for i := range users {
		d, sh := benchInputs(b, i)
		users[i] = UserFromDomo(d, sh, testOpts())
	}
	b.ReportAllocs()
	b.ResetTimer()
	matches := 0
	for b.Loop() {
		matches = 0
		for i := range users {
			for _, v := range users[i].Values("username", "") {
				if s, ok := v.(string); ok && strings.Contains(strings.ToLower(s), "smith99") {
					matches++
				}
			}
		}
	}
	if matches != 1111 {
		b.Fatalf("matches = %d", matches)
	}
}

func BenchmarkUserFromDomo(b *testing.B) {
	d, sh := benchInputs(b, 1)
	opt := testOpts()
	b.ReportAllocs()
	for b.Loop() {
		u := UserFromDomo(d, sh, opt)
		sink = []any{u.UserName}
	}
}

func BenchmarkUserToDomoNoOp(b *testing.B) {
	d, sh := benchInputs(b, 1)
	opt := testOpts()
	u := UserFromDomo(d, sh, opt)
	b.ReportAllocs()
	for b.Loop() {
		upd, _, err := UserToDomo(u, d, sh, opt)
		if err != nil || len(ChangedFields(upd, d)) != 0 {
			b.Fatal("not a no-op", err)
		}
	}
}

func BenchmarkUserAttributes(b *testing.B) {
	u := benchUser(b)
	opt := testOpts()
	b.ReportAllocs()
	for b.Loop() {
		m := u.Attributes(opt)
		sink = []any{m}
	}
}

// BenchmarkUserHeap reports what the index pays per user: the User struct plus everything it
// references, built from decoded Domo rows and shadows as the index builds them.
func BenchmarkUserHeap(b *testing.B) {
	const n = 20_000
	opt := testOpts()
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		inputs := make([]struct {
			d  domo.User
			sh *UserShadow
		}, n)
		for i := range inputs {
			inputs[i].d, inputs[i].sh = benchInputs(b, i)
		}
		users := make([]User, n)
		for i := range inputs {
			users[i] = UserFromDomo(inputs[i].d, inputs[i].sh, opt)
		}
		inputs = nil // the index keeps only the Users
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/user")
		b.ReportMetric(float64(unsafe.Sizeof(User{})), "structB")
		runtime.KeepAlive(users)
	}
}

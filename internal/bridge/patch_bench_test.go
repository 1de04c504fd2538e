package bridge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// Issue 11 item 5: PATCH cost must be linear in its input. These benchmarks run the whole
// path (HTTP, PATCH parsing and application, the bridge's GET-merge-PUT against the
// simulator, the state file) for N values or operations, N up to the caps
// (scim.MaxMultiValues, scim.MaxPatchOperations):
//
//	go test -run '^$' -bench 'BenchmarkPatch|BenchmarkGetUserMultis' -benchtime 5x ./internal/bridge
//
// Time per operation divided by N should stay flat as N grows.

var benchSizes = []int{10, 100, 1000}

type benchServer struct {
	b   *testing.B
	url string
	id  string
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	tb := buildBridge(b, domosim.New(domosim.Options{Seed: 41}), nil, nil)
	tokens, err := scim.NewTokens([]scim.Token{{Name: "bench", Secret: testToken}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(scim.NewHandler(scim.Config{Users: tb.b.Users(), Groups: tb.b.Groups(), Tokens: tokens,
		Logger: zerolog.Nop(), MaxBodyBytes: 8 << 20}))
	b.Cleanup(ts.Close)
	s := &benchServer{b: b, url: ts.URL}
	body := s.send(http.MethodPost, "/scim/v2/Users", `{"userName":"bench@example.com","displayName":"Bench"}`, http.StatusCreated)
	i := strings.Index(body, `"id":"`)
	s.id = body[i+6 : i+6+strings.IndexByte(body[i+6:], '"')]
	return s
}

func (s *benchServer) send(method, path, body string, want int) string {
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.b.Fatalf("%s %s: %d %.300s", method, path, resp.StatusCode, out)
	}
	return string(out)
}

func phonesJSON(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"value":"+1 555 %07d","type":"t%d"}`, i, i)
	}
	return strings.Join(parts, ",")
}

// BenchmarkPatchAddPhones: one add of N phoneNumbers (after a remove of the previous ones).
func BenchmarkPatchAddPhones(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := newBenchServer(b)
			body := `{"Operations":[{"op":"remove","path":"phoneNumbers"},{"op":"add","path":"phoneNumbers","value":[` + phonesJSON(n) + `]}]}`
			b.ResetTimer()
			for range b.N {
				s.send(http.MethodPatch, "/scim/v2/Users/"+s.id, body, http.StatusOK)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/value")
		})
	}
}

// BenchmarkPatchFilteredOps: N operations, each a filtered add such as Entra sends
// (phoneNumbers[type eq "tI"].value), each creating its element.
func BenchmarkPatchFilteredOps(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := newBenchServer(b)
			ops := []string{`{"op":"remove","path":"phoneNumbers"}`}
			for i := range n - 1 {
				ops = append(ops, fmt.Sprintf(`{"op":"add","path":"phoneNumbers[type eq \"t%d\"].value","value":"+1 555 %07d"}`, i, i))
			}
			body := `{"Operations":[` + strings.Join(ops, ",") + `]}`
			b.ResetTimer()
			for range b.N {
				s.send(http.MethodPatch, "/scim/v2/Users/"+s.id, body, http.StatusOK)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/op")
		})
	}
}

// BenchmarkGetUserMultis: GET of a user holding N phoneNumbers.
func BenchmarkGetUserMultis(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := newBenchServer(b)
			s.send(http.MethodPatch, "/scim/v2/Users/"+s.id, `{"Operations":[{"op":"add","path":"phoneNumbers","value":[`+phonesJSON(n)+`]}]}`, http.StatusOK)
			b.ResetTimer()
			for range b.N {
				s.send(http.MethodGet, "/scim/v2/Users/"+s.id, "", http.StatusOK)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/value")
		})
	}
}

package scim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// BenchmarkTokenMatch: every request compares the presented token with every configured one.
func BenchmarkTokenMatch(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			var toks []Token
			for i := 0; i < n; i++ {
				toks = append(toks, Token{Name: fmt.Sprintf("t%d", i), Secret: fmt.Sprintf("bench-token-%016d", i)})
			}
			ts, err := NewTokens(toks)
			if err != nil {
				b.Fatal(err)
			}
			header := "Bearer " + toks[n-1].Secret
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := ts.match(header); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

// BenchmarkMiddlewareChain is the HTTP layer's own cost for one GET of a resource: request id,
// access log (JSON, discarded), metrics, auth, body limit, timeout, availability, pause,
// routing and the response, over an in-memory backend.
func BenchmarkMiddlewareChain(b *testing.B) {
	tokens, _ := NewTokens([]Token{{Name: "okta", Secret: srvToken}})
	users := newSrvBackend(UserType)
	users.items["1"] = users.withMeta("1", Attributes{"userName": "ada@example.com", "active": true})
	h := NewHandler(Config{
		Users: users, Groups: newSrvBackend(GroupType), Tokens: tokens,
		Logger:  zerolog.New(io.Discard),
		Metrics: NewMetrics(prometheus.NewRegistry()),
	})
	req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users/1", nil)
	req.Header.Set("Authorization", "Bearer "+srvToken)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

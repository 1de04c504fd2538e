package domo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDecodeIDPageDropsUnusableIDsButCountsThem(t *testing.T) {
	for _, tt := range []struct {
		body    string
		want    []int64
		entries int
	}{
		{`[0,-3,5]`, []int64{5}, 3},
		{`[5,"6",{"id":7},null,"x"]`, []int64{5, 6, 7}, 5},
		{`[]`, []int64{}, 0},
	} {
		got, n, err := decodeIDPage([]byte(tt.body))
		if err != nil || n != tt.entries || len(got) != len(tt.want) {
			t.Fatalf("%s: %v %d %v, want %v %d", tt.body, got, n, err, tt.want, tt.entries)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("%s: %v, want %v", tt.body, got, tt.want)
			}
		}
	}
}

func TestLongErrorMessagesAreCutOnACharacterBoundary(t *testing.T) {
	msg := strings.Repeat("é", 400) // two bytes each: byte 300 starts a character, 299 does not
	e := decodeAPIError("users.get", 400, []byte(`{"status":400,"message":"x`+msg+`"}`))
	if !utf8.ValidString(e.Message) || len(e.Message) > 300 {
		t.Fatalf("message of %d bytes, valid UTF-8: %v", len(e.Message), utf8.ValidString(e.Message))
	}
}

// TestPagingStopsWhenDomoIgnoresTheOffset: a tenant that answers every offset with the same
// full page must not keep a listing paging until its deadline.
func TestPagingStopsWhenDomoIgnoresTheOffset(t *testing.T) {
	var page strings.Builder
	page.WriteString("[")
	for i := 1; i <= pageSize; i++ {
		if i > 1 {
			page.WriteString(",")
		}
		fmt.Fprintf(&page, `{"id":%d,"name":"U %d","email":"u%d@x.example","role":"Participant"}`, i, i, i)
	}
	page.WriteString("]")
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			fmt.Fprint(w, `{"access_token":"t","token_type":"bearer","expires_in":3599}`)
			return
		}
		calls.Add(1)
		fmt.Fprint(w, page.String())
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", RatePerMinute: 600000, PageConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	for _, err := range c.Users(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != pageSize || calls.Load() != 2 {
		t.Fatalf("%d users in %d pages, want %d in 2", n, calls.Load(), pageSize)
	}
}

package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func testSnapshots(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	if data, taken, ok, err := s.Snapshot(ctx, "index"); err != nil || ok || data != nil || !taken.IsZero() {
		t.Fatalf("missing snapshot = %v, %v, %v, %v", data, taken, ok, err)
	}

	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<20) // 4 MiB of binary, NULs included
	steps := []struct {
		name string
		data []byte
		want []byte
	}{
		{"index", []byte(`{"v":1}`), []byte(`{"v":1}`)},
		{"index", big, big}, // replaces
		{"empty", []byte{}, []byte{}},
		{"nil", nil, []byte{}},
	}
	for _, st := range steps {
		before := time.Now()
		if err := s.PutSnapshot(ctx, st.name, st.data); err != nil {
			t.Fatalf("PutSnapshot(%q): %v", st.name, err)
		}
		after := time.Now()
		data, taken, ok, err := s.Snapshot(ctx, st.name)
		if err != nil || !ok {
			t.Fatalf("Snapshot(%q) = ok %v, err %v", st.name, ok, err)
		}
		if !bytes.Equal(data, st.want) || data == nil {
			t.Errorf("Snapshot(%q) returned %d bytes (nil %v), want %d", st.name, len(data), data == nil, len(st.want))
		}
		if taken.Before(before) || taken.After(after) || taken.Location() != time.UTC {
			t.Errorf("Snapshot(%q) taken = %v, want UTC between %v and %v", st.name, taken, before, after)
		}
	}
	if data, _, _, _ := s.Snapshot(ctx, "index"); !bytes.Equal(data, big) {
		t.Errorf("snapshot %q lost its replacement", "index")
	}
}

func testSnapshotErrors(t *testing.T, b backend) {
	s := b.open(t)
	if err := s.PutSnapshot(context.Background(), "", []byte("x")); err == nil || !strings.Contains(err.Error(), "empty name") {
		t.Errorf("PutSnapshot with empty name: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutSnapshot(ctx, "index", []byte("xyz")); err == nil || !strings.HasPrefix(err.Error(), `store: put snapshot "index" (3 bytes): `) {
		t.Errorf("PutSnapshot error = %v", err)
	}
	if _, _, _, err := s.Snapshot(ctx, "index"); err == nil || !strings.HasPrefix(err.Error(), `store: get snapshot "index": `) {
		t.Errorf("Snapshot error = %v", err)
	}
}

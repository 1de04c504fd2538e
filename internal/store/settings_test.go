package store

import (
	"context"
	"strings"
	"testing"
)

func testSettings(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	if v, ok, err := s.Setting(ctx, "paused"); err != nil || ok || v != "" {
		t.Fatalf("missing setting = %q, %v, %v", v, ok, err)
	}
	steps := []struct {
		key, value string
	}{
		{"paused", "true"},
		{"paused", "false"}, // replaces
		{"breaker", ""},     // empty value is a value
		{"odd key ' \" ;", "x"},
	}
	for _, st := range steps {
		if err := s.PutSetting(ctx, st.key, st.value); err != nil {
			t.Fatalf("PutSetting(%q): %v", st.key, err)
		}
		if v, ok, err := s.Setting(ctx, st.key); err != nil || !ok || v != st.value {
			t.Errorf("Setting(%q) = %q, %v, %v; want %q", st.key, v, ok, err, st.value)
		}
	}
	if err := s.DeleteSetting(ctx, "paused"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Setting(ctx, "paused"); err != nil || ok {
		t.Errorf("after delete ok %v, err %v", ok, err)
	}
	if v, ok, _ := s.Setting(ctx, "breaker"); !ok || v != "" {
		t.Errorf("delete removed another key: %q, %v", v, ok)
	}
	if err := s.DeleteSetting(ctx, "never-set"); err != nil {
		t.Errorf("delete of missing key: %v", err)
	}
}

func testSettingErrors(t *testing.T, b backend) {
	s := b.open(t)
	if err := s.PutSetting(context.Background(), "", "v"); err == nil || !strings.Contains(err.Error(), "empty key") {
		t.Errorf("PutSetting with empty key: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"get", func() error { _, _, err := s.Setting(ctx, "paused"); return err }, `store: get setting "paused": `},
		{"put", func() error { return s.PutSetting(ctx, "paused", "secret-ish") }, `store: put setting "paused": `},
		{"delete", func() error { return s.DeleteSetting(ctx, "paused") }, `store: delete setting "paused": `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want prefix %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret-ish") {
				t.Errorf("error %q leaks the value", err)
			}
		})
	}
}

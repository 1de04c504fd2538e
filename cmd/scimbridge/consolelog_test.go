package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConsoleLogDurations: the console log prints durations with units, and every field the
// code logs with Dur is one the console writer knows to format.
func TestConsoleLogDurations(t *testing.T) {
	var out strings.Builder
	log := newLogger(Config{LogFormat: "console", LogLevel: "info"}, &out)
	log.Info().Dur("duration", 12500*time.Microsecond).Dur("retry_in", 90*time.Second).Msg("request")
	line := out.String()
	for _, want := range []string{"duration=12.5ms", "retry_in=1m30s"} {
		if !strings.Contains(line, want) {
			t.Errorf("console line %q lacks %s", line, want)
		}
	}
	out.Reset()
	json := newLogger(Config{LogFormat: "json", LogLevel: "info"}, &out)
	json.Info().Dur("duration", 12500*time.Microsecond).Msg("request")
	if !strings.Contains(out.String(), `"duration":12.5`) {
		t.Errorf("JSON line %q: durations stay milliseconds", out.String())
	}

	re := regexp.MustCompile(`Dur\("([a-z_]+)"`)
	for _, dir := range []string{".", "../../internal"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				if !slices.Contains(durationFields, m[1]) {
					t.Errorf("%s logs the duration %q, which durationFields lacks (the console log would print it without a unit)", path, m[1])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

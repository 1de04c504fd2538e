package store

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db.example.com:5432/scim?sslmode=require", "postgres://app:xxxxx@db.example.com:5432/scim?sslmode=require"},
		{"postgresql://app@db/scim", "postgresql://app@db/scim"},
		{"postgres://db/scim?password=s3cret&sslmode=verify-full", "postgres://db/scim?password=xxxxx&sslmode=verify-full"},
		{"postgres://db/scim?sslpassword=s3cret", "postgres://db/scim?sslpassword=xxxxx"},
		{"postgres://app:s3cret@db:bad port/scim", "postgres://(unparsable URL)"},
		{"postgres://app:p%40ss@db/scim", "postgres://app:xxxxx@db/scim"},
	}
	for _, tt := range tests {
		got := redactURL(tt.in)
		if got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "p%40ss") {
			t.Errorf("redactURL(%q) leaks the password", tt.in)
		}
	}
}

func TestIsPostgres(t *testing.T) {
	for state, want := range map[string]bool{
		"postgres://h/db": true, "postgresql://h/db": true, " POSTGRES://h/db": true,
		"scimbridge.db": false, "/var/lib/postgres://x": false, "": false,
	} {
		if got := IsPostgres(state); got != want {
			t.Errorf("IsPostgres(%q) = %v", state, got)
		}
	}
}

// pgPassword returns the password in a postgres:// URL.
func pgPassword(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := u.User.Password()
	if !ok || p == "" {
		t.Fatalf("URL %q has no password", redactURL(raw))
	}
	return p
}

// The password never shows: not in Describe, not in any error Open returns.
func TestPostgresKeepsThePasswordOut(t *testing.T) {
	ctx := context.Background()
	loc := pgPostgresURL(t)
	pass := pgPassword(t, loc)

	// Any case of the scheme names PostgreSQL.
	s, err := Open(ctx, "POSTGRESQL"+loc[len("postgres"):])
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	d := s.Describe()
	if strings.Contains(d, pass) || !strings.Contains(d, "xxxxx") || !strings.Contains(d, "127.0.0.1") {
		t.Errorf("Describe() = %q, want the URL with the password masked", d)
	}

	u, _ := url.Parse(loc)
	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), pass+"-wrong")
	bad := map[string]string{
		"wrong password": wrong.String(),
		"bad port":       strings.Replace(loc, "@127.0.0.1:", "@127.0.0.1:x", 1),
		"bad parameter":  loc + "&pool_max_conns=lots",
		"password param": "postgres://127.0.0.1:1/db?password=" + pass + "&connect_timeout=1",
	}
	for name, raw := range bad {
		t.Run(name, func(t *testing.T) {
			s, err := Open(ctx, raw)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("error leaks the password: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "store: open postgres") {
				t.Errorf("error %q does not say what it was opening", err)
			}
		})
	}
}

// Schemas of their own let two states share one database; search_path picks the schema.
func TestPostgresSchemaPerState(t *testing.T) {
	ctx := context.Background()
	loc := pgPostgresURL(t)
	pgExec(t, loc, `CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE public.unrelated (x int)`)
	inSchema := func(schema string) string { return loc + "&search_path=" + schema }
	sa := openPG(t, inSchema("a"))
	sb := openPG(t, inSchema("b"))
	if err := sa.PutSetting(ctx, "who", "a"); err != nil {
		t.Fatal(err)
	}
	if err := sb.PutSetting(ctx, "who", "b"); err != nil {
		t.Fatal(err)
	}
	for schema, s := range map[string]Store{"a": sa, "b": sb} {
		if v, _, err := s.Setting(ctx, "who"); err != nil || v != schema {
			t.Errorf("schema %s reads %q (%v)", schema, v, err)
		}
	}
	// public holds another table: not ours.
	if s, err := Open(ctx, inSchema("public")); err == nil {
		s.Close()
		t.Error("Open took a schema holding other tables")
	}
	s, err := Open(ctx, inSchema("missing"))
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with a search_path naming no schema")
	} else if !strings.Contains(err.Error(), "search_path names no existing schema") {
		t.Errorf("error %q does not explain the search_path", err)
	}
}

// A role that may not create tables gets told what right it lacks.
func TestPostgresExplainsMissingRights(t *testing.T) {
	loc := pgPostgresURL(t)
	u, _ := url.Parse(loc)
	db := strings.TrimPrefix(u.Path, "/")
	pgExec(t, loc, `CREATE ROLE scim_reader LOGIN PASSWORD 'reader-pass'; GRANT CONNECT ON DATABASE "`+db+`" TO scim_reader;
REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	t.Cleanup(func() { pgExec(t, loc, `DROP OWNED BY scim_reader; DROP ROLE scim_reader`) })
	u.User = url.UserPassword("scim_reader", "reader-pass")
	s, err := Open(context.Background(), u.String())
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded without CREATE rights")
	}
	if !strings.Contains(err.Error(), `needs CREATE on schema "public"`) || strings.Contains(err.Error(), "reader-pass") {
		t.Errorf("error = %v", err)
	}
}

// scimbridge's own marker table, but claimed by another application, is refused.
func TestPostgresRefusesForeignMarker(t *testing.T) {
	loc := pgPostgresURL(t)
	pgExec(t, loc, `CREATE TABLE scimbridge_schema (application text NOT NULL, version integer NOT NULL);
INSERT INTO scimbridge_schema VALUES ('impostor', 1)`)
	s, err := Open(context.Background(), loc)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a schema marked by another application")
	}
	if !strings.Contains(err.Error(), `not a scimbridge state database`) || !strings.Contains(err.Error(), "impostor") {
		t.Errorf("error = %v", err)
	}
}

// pgPostgresURL returns a fresh database's URL from the postgres backend.
func pgPostgresURL(t *testing.T) string {
	t.Helper()
	for _, b := range backends() {
		if b.name == "postgres" {
			return b.fresh(t)
		}
	}
	t.Fatal("no postgres backend")
	return ""
}

func openPG(t *testing.T, loc string) Store {
	t.Helper()
	s, err := Open(context.Background(), loc)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

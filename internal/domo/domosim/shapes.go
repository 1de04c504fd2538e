package domosim

import (
	"encoding/json"
	"html"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Domo's docs show one example answer per instance API endpoint, and leave the rest open: a
// tenant (or a version, or another team's fake built from the same docs) may wrap a list or
// not, write ids as numbers or strings, attribute values as a list of strings, of numbers, or a
// bare value, answer a change with the record, with nothing, or with 204, and refuse a
// request in Domo's JSON envelope or in plain text. The Options knobs of this file choose; a
// client of the instance APIs must work with every choice.

// InstanceShapes are the presets of the "instance-shapes" knob: the docs' examples, and two
// sets of the other plausible answers.
var InstanceShapes = map[string]func(*Options){
	"documented": func(o *Options) {
		o.AttributeCatalogue, o.AttributeValues, o.InstanceIDs, o.IdentityGet = "served", "list", "number", "wrapped"
		o.IdentityPatchAnswer, o.RolesAnswer, o.BulkAnswer, o.BulkEmptyStatus = "user", "list", "true", 200
		o.InstanceErrors, o.InstanceContentType = "domo", "lenient"
	},
	// other: no catalogue, bare values and string ids, bare records, 204s, plain-text errors.
	"other": func(o *Options) {
		o.AttributeCatalogue, o.AttributeValues, o.InstanceIDs, o.IdentityGet = "absent", "scalar", "string", "bare"
		o.IdentityPatchAnswer, o.RolesAnswer, o.BulkAnswer, o.BulkEmptyStatus = "204", "wrapped", "204", 422
		o.InstanceErrors, o.InstanceContentType = "text", "strict"
	},
	// other2: no catalogue, numeric values, wrapped records, empty 200s, HTML errors.
	"other2": func(o *Options) {
		o.AttributeCatalogue, o.AttributeValues, o.InstanceIDs, o.IdentityGet = "absent", "numbers", "string", "wrapped"
		o.IdentityPatchAnswer, o.RolesAnswer, o.BulkAnswer, o.BulkEmptyStatus = "wrapped", "wrapped", "empty", 400
		o.InstanceErrors, o.InstanceContentType = "html", "strict"
	},
}

// OtherInstanceShapes sets the "other" preset of InstanceShapes: every instance API answer in
// a shape other than the docs' example.
func (o *Options) OtherInstanceShapes() { InstanceShapes["other"](o) }

// instanceShapeDefaults fills in the documented shapes where a knob is unset.
func (o *Options) instanceShapeDefaults() {
	for _, f := range []struct {
		p   *string
		def string
	}{
		{&o.AttributeCatalogue, "served"}, {&o.AttributeValues, "list"}, {&o.InstanceIDs, "number"},
		{&o.IdentityGet, "wrapped"}, {&o.IdentityPatchAnswer, "user"}, {&o.RolesAnswer, "list"},
		{&o.BulkAnswer, "true"}, {&o.InstanceErrors, "domo"}, {&o.InstanceContentType, "lenient"},
	} {
		*f.p = strings.ToLower(strings.TrimSpace(*f.p))
		if *f.p == "" {
			*f.p = f.def
		}
	}
	if o.BulkEmptyStatus == 0 {
		o.BulkEmptyStatus = http.StatusOK
	}
}

// idOut writes an id as the tenant does: a number, or a string.
func idOut(id int64, o Options) any {
	if o.InstanceIDs == "string" {
		return strconv.FormatInt(id, 10)
	}
	return id
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// valuesOut writes an attribute's values as the tenant does.
func valuesOut(vals []any, o Options) any {
	if o.AttributeValues == "list" {
		return vals
	}
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
		if s, ok := v.(string); ok && jsonNumber.MatchString(s) {
			out[i] = json.Number(s)
		}
	}
	if o.AttributeValues == "scalar" && len(out) == 1 {
		return out[0]
	}
	return out
}

// identityOut writes a user of the identity API in the tenant's shape.
func identityOut(v identityUserJSON, o Options) map[string]any {
	m := map[string]any{"id": idOut(v.ID, o), "displayName": v.DisplayName, "userName": v.UserName, "emailAddress": v.EmailAddress}
	if v.RoleID != 0 {
		m["roleId"] = idOut(v.RoleID, o)
	}
	attrs := make([]any, 0, len(v.Attributes)+4)
	for _, a := range v.Attributes {
		attrs = append(attrs, map[string]any{"key": a.Key, "values": valuesOut(a.Values, o)})
	}
	if o.AttributeValues == "scalar" {
		// Entries a client must get past without losing the user.
		attrs = append(attrs,
			map[string]any{"key": "simNull", "values": nil},
			map[string]any{"key": "simNoValues"},
			map[string]any{"key": "simNested", "values": []any{map[string]any{"a": 1}, "kept", true, 1.5e3}},
			map[string]any{"values": []any{"an entry without a key"}},
		)
	}
	m["attributes"] = attrs
	return m
}

// writeIdentityUser answers a GET of one user.
func writeIdentityUser(w http.ResponseWriter, v identityUserJSON, o Options) {
	if o.IdentityGet == "bare" {
		writeJSON(w, http.StatusOK, identityOut(v, o))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": []any{identityOut(v, o)}})
}

// writeIdentityChange answers a PATCH that went through.
func writeIdentityChange(w http.ResponseWriter, v identityUserJSON, o Options) {
	switch o.IdentityPatchAnswer {
	case "wrapped":
		writeJSON(w, http.StatusOK, map[string]any{"users": []any{identityOut(v, o)}})
	case "empty":
		w.WriteHeader(http.StatusOK)
	case "204":
		noContent(w)
	default:
		writeJSON(w, http.StatusOK, identityOut(v, o))
	}
}

// writeBulkDone answers a bulk membership change that went through.
func writeBulkDone(w http.ResponseWriter, o Options) {
	switch o.BulkAnswer {
	case "object":
		writeJSON(w, http.StatusOK, map[string]any{})
	case "empty":
		w.WriteHeader(http.StatusOK)
	case "204":
		noContent(w)
	default:
		writeJSON(w, http.StatusOK, true)
	}
}

// writeInstanceError answers an instance API error in plain text or HTML when the tenant does;
// it reports false for Domo's JSON envelope, which writeError then writes.
func writeInstanceError(w http.ResponseWriter, r *http.Request, o Options, status int, msg string) bool {
	if !isInstancePath(r.URL.Path) {
		return false
	}
	var ct, body string
	switch o.InstanceErrors {
	case "text":
		ct, body = "text/plain; charset=utf-8", msg+"\n"
	case "html":
		ct = "text/html; charset=utf-8"
		body = "<!doctype html><html><head><title>" + strconv.Itoa(status) + " " + http.StatusText(status) + "</title></head><body><h1>" +
			http.StatusText(status) + "</h1><p>" + html.EscapeString(msg) + "</p></body></html>\n"
	default:
		return false
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	return true
}

// contentTypeOK reports whether an instance request carries Content-Type: application/json
// when the tenant is strict about it.
func contentTypeOK(r *http.Request, o Options) bool {
	if o.InstanceContentType != "strict" {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

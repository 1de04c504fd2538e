package domosim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// knob is one fault knob settable by name, for command-line flags such as those of
// `scimbridge demo` ("rate-limit=3000", "fail5xx=0.2", "put-mode=replace").
type knob struct {
	help string
	set  func(o *Options, v string) error
}

var knobs = map[string]knob{
	"rate-limit":           {"requests per rate window before 429 (0 = unlimited)", intKnob(func(o *Options) *int { return &o.RateLimit })},
	"rate-window":          {"rate window, e.g. 1m", durKnob(func(o *Options) *time.Duration { return &o.RateWindow })},
	"rate-limit-headers":   {"all | 429 | none | retry-after (a 429 carries Retry-After only)", enumKnob(func(o *Options) *string { return &o.RateLimitHeaders }, "all", "429", "none", "retry-after")},
	"fail5xx":              {"probability of a random 5xx per /v1 request", probKnob(func(o *Options) *float64 { return &o.Fail5xx })},
	"fail5xx-after":        {"share of injected 5xx answered after the request took effect", probKnob(func(o *Options) *float64 { return &o.Fail5xxAfter })},
	"drop-after-commit":    {"probability a /v1 write takes effect and the connection drops", probKnob(func(o *Options) *float64 { return &o.DropAfterCommit })},
	"latency":              {"added to every request, e.g. 500ms", durKnob(func(o *Options) *time.Duration { return &o.Latency })},
	"token-ttl":            {"token lifetime, e.g. 2s", durKnob(func(o *Options) *time.Duration { return &o.TokenTTL })},
	"put-mode":             {"merge | replace", enumKnob(func(o *Options) *string { return &o.PutMode }, "merge", "replace")},
	"duplicate-email":      {"status for a taken email: 400 | 409", statusKnob(func(o *Options) *int { return &o.DuplicateEmailStatus }, 400, 409)},
	"limit-over-500":       {"reject | clamp", enumKnob(func(o *Options) *string { return &o.LimitOver500 }, "reject", "clamp")},
	"unknown-user-get":     {"status for GET of an unknown user: 404 | 400", statusKnob(func(o *Options) *int { return &o.UnknownUserGetStatus }, 404, 400)},
	"remove-non-member":    {"status for removing a non-member: 204 | 404", statusKnob(func(o *Options) *int { return &o.RemoveNonMemberStatus }, 204, 404)},
	"delete-nonempty":      {"allow | reject", enumKnob(func(o *Options) *string { return &o.DeleteNonEmptyGroup }, "allow", "reject")},
	"read-after-write":     {"how long a created user stays invisible, e.g. 1s", durKnob(func(o *Options) *time.Duration { return &o.ReadAfterWriteDelay })},
	"access-token":         {"the instance APIs' access token (X-DOMO-Developer-Token)", func(o *Options, v string) error { o.AccessToken = v; return nil }},
	"access-token-revoked": {"true | false: the access token answers 401", boolKnob(func(o *Options) *bool { return &o.AccessTokenRevoked })},
	"instance-endpoints":   {"instance API families the tenant has (others 404): all | none | list of identity, roles, content", familiesKnob(func(o *Options) *[]string { return &o.InstanceEndpoints })},
	"instance-grants":      {"instance API families the access token may call (others 403): all | none | list", familiesKnob(func(o *Options) *[]string { return &o.InstanceGrants })},
	"attribute-keys": {"customer-defined user attribute keys the tenant has, comma-separated (none for none)", func(o *Options, v string) error {
		o.AttributeKeys = []string{}
		if strings.EqualFold(v, "none") {
			return nil
		}
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				o.AttributeKeys = append(o.AttributeKeys, k)
			}
		}
		return nil
	}},
	"max-batch":             {"most members one bulk membership call may carry", intKnob(func(o *Options) *int { return &o.MaxBatch })},
	"bulk-unknown-user":     {"reject | skip: a bulk add naming a user that does not exist", enumKnob(func(o *Options) *string { return &o.BulkUnknownUser }, "reject", "skip")},
	"group-read-max-ids":    {"cut the userIds of a one-call group read after this many (0 = all)", intKnob(func(o *Options) *int { return &o.GroupReadMaxIDs })},
	"instance-rate-limit":   {"instance API requests per rate window before 429 (0 = unlimited)", intKnob(func(o *Options) *int { return &o.InstanceRateLimit })},
	"instance-latency":      {"added to every instance API request, e.g. 200ms", durKnob(func(o *Options) *time.Duration { return &o.InstanceLatency })},
	"attribute-catalogue":   {"served | absent: the attribute catalogue endpoint (absent: 404)", enumKnob(func(o *Options) *string { return &o.AttributeCatalogue }, "served", "absent")},
	"attribute-values":      {"list | numbers | scalar: how the identity API writes attribute values", enumKnob(func(o *Options) *string { return &o.AttributeValues }, "list", "numbers", "scalar")},
	"instance-ids":          {"number | string: ids in the instance APIs' answers", enumKnob(func(o *Options) *string { return &o.InstanceIDs }, "number", "string")},
	"identity-get":          {"wrapped | bare: GET /api/identity/v1/users/{id} answers {\"users\":[user]} or the user", enumKnob(func(o *Options) *string { return &o.IdentityGet }, "wrapped", "bare")},
	"identity-patch-answer": {"user | wrapped | empty | 204: the answer to an identity PATCH", enumKnob(func(o *Options) *string { return &o.IdentityPatchAnswer }, "user", "wrapped", "empty", "204")},
	"roles-answer":          {"list | wrapped: the roles list bare or as {\"roles\":[…]}", enumKnob(func(o *Options) *string { return &o.RolesAnswer }, "list", "wrapped")},
	"bulk-answer":           {"true | object | empty | 204: the answer to a bulk membership change", enumKnob(func(o *Options) *string { return &o.BulkAnswer }, "true", "object", "empty", "204")},
	"bulk-empty-status":     {"status of a bulk membership change without members: 200 | 400 | 422", statusKnob(func(o *Options) *int { return &o.BulkEmptyStatus }, 200, 400, 422)},
	"instance-errors":       {"domo | text | html: the instance APIs' error bodies", enumKnob(func(o *Options) *string { return &o.InstanceErrors }, "domo", "text", "html")},
	"instance-content-type": {"lenient | strict: strict answers 415 to an instance request without Content-Type: application/json", enumKnob(func(o *Options) *string { return &o.InstanceContentType }, "lenient", "strict")},
	"instance-shapes": {"documented | other | other2: every instance API answer shape at once (see the knobs above)", func(o *Options, v string) error {
		f, ok := InstanceShapes[strings.ToLower(v)]
		if !ok {
			return fmt.Errorf("want documented, other or other2")
		}
		f(o)
		return nil
	}},
	"put-user-strict": {"true | false: PUT requires name, email and role", func(o *Options, v string) error {
		b, err := strconv.ParseBool(v)
		o.PutUserStrict = &b
		return err
	}},
}

// KnobNames maps each knob SetKnob accepts to a short help text.
func KnobNames() map[string]string {
	out := make(map[string]string, len(knobs))
	for k, v := range knobs {
		out[k] = v.help
	}
	return out
}

// SetKnob sets one knob from its textual form, e.g. SetKnob("fail5xx", "0.2").
func (o *Options) SetKnob(name, value string) error {
	k, ok := knobs[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		names := make([]string, 0, len(knobs))
		for n := range knobs {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("unknown simulator knob %q (known: %s)", name, strings.Join(names, ", "))
	}
	if err := k.set(o, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("simulator knob %s=%q: %w", name, value, err)
	}
	return nil
}

func intKnob(f func(*Options) *int) func(*Options, string) error {
	return func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a non-negative integer")
		}
		*f(o) = n
		return nil
	}
}

func boolKnob(f func(*Options) *bool) func(*Options, string) error {
	return func(o *Options, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*f(o) = b
		return nil
	}
}

// familiesKnob reads "all" (nil), "none" (empty) or a list of InstanceFamilies.
func familiesKnob(f func(*Options) *[]string) func(*Options, string) error {
	return func(o *Options, v string) error {
		switch strings.ToLower(v) {
		case "all", "":
			*f(o) = nil
			return nil
		case "none":
			*f(o) = []string{}
			return nil
		}
		list := []string{}
		for _, p := range strings.Split(v, ",") {
			p = strings.ToLower(strings.TrimSpace(p))
			if !slices.Contains(InstanceFamilies, p) {
				return fmt.Errorf("want all, none or a list of %s", strings.Join(InstanceFamilies, ", "))
			}
			list = append(list, p)
		}
		*f(o) = list
		return nil
	}
}

func durKnob(f func(*Options) *time.Duration) func(*Options, string) error {
	return func(o *Options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a non-negative duration such as 500ms")
		}
		*f(o) = d
		return nil
	}
}

func probKnob(f func(*Options) *float64) func(*Options, string) error {
	return func(o *Options, v string) error {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 0 || p > 1 {
			return fmt.Errorf("want a probability between 0 and 1")
		}
		*f(o) = p
		return nil
	}
}

func enumKnob(f func(*Options) *string, allowed ...string) func(*Options, string) error {
	return func(o *Options, v string) error {
		v = strings.ToLower(v)
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
		}
		*f(o) = v
		return nil
	}
}

func statusKnob(f func(*Options) *int, allowed ...int) func(*Options, string) error {
	return func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(allowed, n) {
			return fmt.Errorf("want one of %v", allowed)
		}
		*f(o) = n
		return nil
	}
}

package domosim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

func TestSetKnob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		check       func(o domosim.Options) bool
		err         string
	}{
		{"rate-limit", "3000", func(o domosim.Options) bool { return o.RateLimit == 3000 }, ""},
		{"RATE-LIMIT", "-1", nil, "non-negative integer"},
		{"fail5xx", "0.2", func(o domosim.Options) bool { return o.Fail5xx == 0.2 }, ""},
		{"fail5xx", "2", nil, "probability"},
		{"latency", "500ms", func(o domosim.Options) bool { return o.Latency == 500*time.Millisecond }, ""},
		{"token-ttl", "soon", nil, "duration"},
		{"put-mode", "Replace", func(o domosim.Options) bool { return o.PutMode == "replace" }, ""},
		{"put-mode", "patch", nil, "merge, replace"},
		{"duplicate-email", "409", func(o domosim.Options) bool { return o.DuplicateEmailStatus == 409 }, ""},
		{"duplicate-email", "418", nil, "[400 409]"},
		{"limit-over-500", "clamp", func(o domosim.Options) bool { return o.LimitOver500 == "clamp" }, ""},
		{"put-user-strict", "false", func(o domosim.Options) bool { return !*o.PutUserStrict }, ""},
		{"instance-endpoints", "identity,Roles", func(o domosim.Options) bool {
			return len(o.InstanceEndpoints) == 2 && o.InstanceEndpoints[1] == "roles"
		}, ""},
		{"instance-endpoints", "none", func(o domosim.Options) bool { return o.InstanceEndpoints != nil && len(o.InstanceEndpoints) == 0 }, ""},
		{"instance-grants", "all", func(o domosim.Options) bool { return o.InstanceGrants == nil }, ""},
		{"instance-grants", "content,dashboards", nil, "identity, roles, content"},
		{"attribute-keys", "costCenter, Region ,", func(o domosim.Options) bool { return len(o.AttributeKeys) == 2 && o.AttributeKeys[1] == "Region" }, ""},
		{"attribute-keys", "none", func(o domosim.Options) bool { return o.AttributeKeys != nil && len(o.AttributeKeys) == 0 }, ""},
		{"max-batch", "50", func(o domosim.Options) bool { return o.MaxBatch == 50 }, ""},
		{"bulk-unknown-user", "skip", func(o domosim.Options) bool { return o.BulkUnknownUser == "skip" }, ""},
		{"access-token-revoked", "yes", nil, "true or false"},
		{"instance-latency", "20ms", func(o domosim.Options) bool { return o.InstanceLatency == 20*time.Millisecond }, ""},
		{"warp-drive", "1", nil, "unknown simulator knob"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			var o domosim.Options
			err := o.SetKnob(tc.name, tc.value)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !tc.check(o) {
				t.Fatalf("err %v, options %+v", err, o)
			}
		})
	}
	if len(domosim.KnobNames()) < 10 {
		t.Fatal("knob list")
	}
}

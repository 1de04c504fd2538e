package bridge

import (
	"context"
	"errors"
	"slices"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// settingUndocumented remembers that the Domo tenant refuses the undocumented user fields.
const settingUndocumented = "domo.refuses-undocumented-fields"

// undocumentedFields are the Domo user fields that v1's documentation does not list as
// writable (employeeId for SCIM's employeeNumber, and department; domo-api.md §12.2). The
// bridge sends them, because a tenant that takes them shows them in Domo. A tenant that answers
// 400 to a write carrying them gets the same write again without them, and from then on never
// sees them. Either way their values live in the user's shadow, so reads give back what the
// IdP wrote (a tenant that silently ignores them is handled by the shadow alone).
var undocumentedFields = []string{domo.FieldEmployeeID, domo.FieldDepartment}

// stripUndocumented removes the undocumented fields from upd and reports whether it carried
// any.
func stripUndocumented(upd *domo.UserUpdate) bool {
	had := upd.User.EmployeeID != "" || upd.User.Department != ""
	upd.User.EmployeeID, upd.User.Department = "", ""
	n := len(upd.Clear)
	upd.Clear = slices.DeleteFunc(upd.Clear, func(f string) bool { return slices.Contains(undocumentedFields, f) })
	return had || len(upd.Clear) != n
}

// refusesUndocumented reports whether the tenant is known to refuse the undocumented fields.
func (b *Bridge) refusesUndocumented() bool { return b.undocumentedRefused.Load() }

// writeUser makes a Domo user write (create or PUT) of upd, leaving out the undocumented
// fields when the tenant is known to refuse them, and learning that it does when a write with
// them fails with 400 and the same write without them succeeds. upd is left as it was sent.
func (b *Bridge) writeUser(ctx context.Context, upd *domo.UserUpdate, write func(domo.UserUpdate) (domo.User, error)) (domo.User, error) {
	if b.refusesUndocumented() {
		stripUndocumented(upd)
	}
	d, err := write(*upd)
	// Only Domo refusing the write's content can be about the fields: a token endpoint's 400
	// or a taken email must never teach the bridge that the tenant refuses them.
	if domo.KindOf(err) != domo.KindRejected {
		return d, err
	}
	without := *upd
	without.Clear = slices.Clone(upd.Clear)
	if !stripUndocumented(&without) {
		return d, err
	}
	d, err2 := write(without)
	if err2 != nil {
		return d, err // the first answer explains the failure better
	}
	*upd = without
	b.undocumentedRefused.Store(true)
	if perr := b.store.PutSetting(context.WithoutCancel(ctx), settingUndocumented, "true"); perr != nil {
		b.log.Error().Err(perr).Msg("that Domo refuses employeeId and department was not persisted")
	}
	var ae *domo.APIError
	_ = errors.As(err, &ae)
	msg := ""
	if ae != nil {
		msg = ae.Message
	}
	b.log.Warn().Str("domo_message", msg).Msg("Domo refused a user write carrying employeeId or department and took it without them; they are kept by the bridge from now on")
	return d, nil
}

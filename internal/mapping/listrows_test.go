package mapping

import (
	"reflect"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo"
)

func TestListedFieldsComplete(t *testing.T) {
	rows := []domo.User{
		{ID: 1, Email: "a@x.example", Title: "T"},
		{ID: 2, Email: "b@x.example", Phone: "555"},
	}
	listed := ListedFieldsOf(rows)
	sh := &UserShadow{Basis: UserBasis{Title: "Old title", Phone: "111", Locale: "fr-FR", Department: "Ops"}}

	d := domo.User{ID: 3, Email: "c@x.example"} // a row without title, phone, locale, department
	listed.Complete(&d, sh)
	// title and phone are carried by rows: their absence is Domo's word. locale and department
	// are carried by no row: Domo's value at the last write stands.
	if d.Title != "" || d.Phone != "" || d.Locale != "fr-FR" || d.Department != "Ops" {
		t.Fatalf("completed %+v", d)
	}

	own := domo.User{ID: 4, Locale: "de-DE"}
	ListedFieldsOf([]domo.User{own}).Complete(&own, sh)
	if own.Locale != "de-DE" {
		t.Fatalf("a value the row has was replaced: %q", own.Locale)
	}
	none := domo.User{ID: 5}
	listed.Complete(&none, nil)
	if !reflect.DeepEqual(none, domo.User{ID: 5}) {
		t.Fatalf("a user without a shadow was changed: %+v", none)
	}
}

package handlers

import (
	"net/url"
	"testing"
)

// FuzzGuideFormBody feeds any posted body to the reading of the guide form
// (rows named list.row.field): no body panics, and no body makes the form
// grow past maxFormRows rows per list, however high the row numbers.
func FuzzGuideFormBody(f *testing.F) {
	f.Add("name=%E5%8A%9E&materials.0.name=x&materials.0.sort=1&steps.2.name=y")
	f.Add("materials.99999999999999999999.name=x&fees.-1.item=y&faqs.0.question=%3Cscript%3E")
	f.Add("materials..name=&materials.0=&steps.1.name.extra=z&online=1&legal_limit.value=%FF")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		in := guideInput(form)
		for _, n := range []int{len(in.Materials), len(in.Steps), len(in.Fees), len(in.FAQs)} {
			if n > maxFormRows {
				t.Fatalf("%d rows from %q", n, body)
			}
		}
		guideFormInput(in)
	})
}

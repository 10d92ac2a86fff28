package chaos

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
)

// check compares every order's status and the LMS's state with the ledger
// model, from the outside: the API and the sandbox's admin API.
func (r *run) check(ctx context.Context, prior map[[2]string]sandbox.EnrollmentView) {
	d, res := r.d, r.res
	var snap sandbox.Snapshot
	if err := d.lms(ctx, http.MethodGet, "/sandbox/enrollments", nil, &snap, false); err != nil {
		d.problem("read the LMS: %v", err)
		return
	}
	enrolls := map[[2]string]*sandbox.EnrollmentView{}
	byUser := map[string][]*sandbox.EnrollmentView{}
	for i := range snap.Enrollments {
		e := &snap.Enrollments[i]
		enrolls[[2]string{e.User, e.CourseID}] = e
		byUser[e.User] = append(byUser[e.User], e)
	}
	ents := map[[2]string][]sandbox.EntitlementView{}
	for _, e := range snap.Entitlements {
		ents[[2]string{e.OrderNumber, e.CourseUUID}] = append(ents[[2]string{e.OrderNumber, e.CourseUUID}], e)
	}
	for _, a := range snap.Allowed {
		d.problem("a pre-enrollment nobody expects (the workers do not pre-enroll) in %s", a.CourseID)
	}
	for _, o := range r.p.Orders {
		exp := o.expect()
		res.Orders++
		res.Lines += len(o.Lines)
		res.LearnersByKind[o.Learner.Kind.String()]++
		var st contract.StatusDocument
		code, _ := d.api(ctx, reqStatus, http.MethodGet, "/api/v1/orders/"+o.Number, nil, &st, http.StatusOK)
		if code != http.StatusOK {
			res.Lost++
			d.problem("order %s lost: its status answers %d", o.Number, code)
			continue
		}
		res.Statuses[st.Status]++
		if st.Status != exp.Status {
			d.problem("order %s is %s, the model says %s (lines %s)", o.Number, st.Status, exp.Status, lineStates(&st))
		}
		r.checkRefunds(o, exp, &st)
		known := map[string]bool{}
		if o.Bystander != nil {
			known[o.Bystander.ID] = true
			before, after := prior[[2]string{o.Learner.Name, o.Bystander.ID}], enrolls[[2]string{o.Learner.Name, o.Bystander.ID}]
			if after == nil || after.IsActive != before.IsActive || after.Mode != before.Mode || after.Writes != before.Writes {
				d.problem("order %s: the enrollment from elsewhere in %s was touched: %s before, %s after", o.Number, o.Bystander.ID,
					enrollText(&before), enrollText(after))
			}
		}
		for i := range o.Lines {
			l := &o.Lines[i]
			res.LinesByProduct[l.Product]++
			if l.Prior.Exists {
				res.FromElsewhere++
			}
			le := exp.Lines[l.ID]
			ls := lineOf(&st, l.ID)
			if ls == nil {
				d.problem("order %s has no line %s", o.Number, l.ID)
				continue
			}
			res.LineStates[ls.State]++
			if !slices.Contains(le.States, ls.State) {
				d.problem("order %s line %s (%s %s, from elsewhere: %s) is %s, the model says %v", o.Number, l.ID, l.Product, l.Mode,
					l.Prior, ls.State, le.States)
			}
			if ls.RefundID != le.RefundID {
				d.problem("order %s line %s: refund %q, the model says %q", o.Number, l.ID, ls.RefundID, le.RefundID)
			}
			if l.Course == nil {
				continue
			}
			known[l.Course.ID] = true
			key := [2]string{o.Learner.Name, l.Course.ID}
			e := enrolls[key]
			access := "no access"
			if e != nil && e.IsActive {
				access = "active " + e.Mode
			}
			if want := le.Enrollment.Access(); access != want {
				d.problem("order %s line %s (%s %s, line %s, from elsewhere: %s): the LMS has %s, the model says %s", o.Number, l.ID,
					l.Product, l.Mode, ls.State, l.Prior, enrollText(e), want)
			}
			if e != nil {
				if p := prior[key]; e.Writes-p.Writes > le.MaxWrites {
					d.problem("order %s line %s (%s %s, line %s): %d writes to the enrollment for the order, at most %d needed",
						o.Number, l.ID, l.Product, l.Mode, ls.State, e.Writes-p.Writes, le.MaxWrites)
				}
				if le.Granted && e.IsActive && !l.Prior.Active {
					res.ActiveGrants++
				}
			}
			if l.Product == order.ProductEntitlement || len(ents[[2]string{o.Number, l.Course.UUID}]) > 0 {
				all := ents[[2]string{o.Number, l.Course.UUID}]
				active := 0
				for _, en := range all {
					if en.ExpiredAt == nil {
						active++
					}
				}
				if len(all) > le.EntMax {
					d.problem("order %s line %s: %d entitlements of the order, at most %d needed", o.Number, l.ID, len(all), le.EntMax)
				}
				if want := map[bool]int{true: 1}[le.EntActive]; active != want {
					d.problem("order %s line %s (line %s): %d active entitlements, the model says %d", o.Number, l.ID, ls.State, active, want)
				}
				res.ActiveGrants += active
			}
		}
		for _, e := range byUser[o.Learner.Name] {
			if !known[e.CourseID] {
				d.problem("order %s: learner has an enrollment no line is about: %s in %s", o.Number, enrollText(e), e.CourseID)
			}
		}
	}
}

// checkRefunds compares the order's refunds with the model's.
func (r *run) checkRefunds(o *orderPlan, exp *orderExpect, st *contract.StatusDocument) {
	d := r.d
	got := map[string]bool{}
	for _, rf := range st.Refunds {
		got[rf.RefundID] = true
		want, ok := exp.Refunds[rf.RefundID]
		if !ok {
			d.problem("order %s has a refund %s the model does not know", o.Number, rf.RefundID)
			continue
		}
		var ids []string
		for _, l := range rf.Lines {
			ids = append(ids, l.ID)
		}
		slices.Sort(ids)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(ids, want) {
			d.problem("order %s refund %s covers lines %v, the model says %v", o.Number, rf.RefundID, ids, want)
		}
		if rf.State != contract.RefundCompleted {
			d.problem("order %s refund %s is %s, the model says %s", o.Number, rf.RefundID, rf.State, contract.RefundCompleted)
		}
	}
	for id := range exp.Refunds {
		if !got[id] {
			d.problem("order %s has no refund %s", o.Number, id)
		}
	}
	for _, ig := range st.IgnoredRequests {
		d.problem("order %s ignored a %s signal: %s", o.Number, ig.Signal, ig.Reason)
	}
}

func lineOf(st *contract.StatusDocument, id string) *contract.LineStatus {
	for i := range st.Lines {
		if st.Lines[i].ID == id {
			return &st.Lines[i]
		}
	}
	return nil
}

func enrollText(e *sandbox.EnrollmentView) string {
	switch {
	case e == nil || e.Mode == "":
		return "no enrollment"
	case e.IsActive:
		return "active " + e.Mode + " (" + itoa(e.Writes) + " writes)"
	}
	return "inactive " + e.Mode + " (" + itoa(e.Writes) + " writes)"
}

func itoa(n int) string { return strconv.Itoa(n) }

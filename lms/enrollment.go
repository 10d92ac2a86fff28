package lms

import (
	"context"
	"net/http"
	"strconv"
)

// Paths of the LMS APIs the client uses.
const (
	pathEnrollment        = "/api/enrollment/v1/enrollment"
	pathEnrollments       = "/api/enrollment/v1/enrollments"
	pathCourse            = "/api/enrollment/v1/course/"
	pathEnrollmentAllowed = "/api/enrollment/v1/enrollment_allowed/"
	pathEntitlements      = "/api/entitlements/v1/entitlements/"
)

// Actions an operation reports in its Outcome.
const (
	ActionNone             = "none"              // already in the wanted state: nothing written
	ActionCreated          = "created"           // a new enrollment
	ActionReactivated      = "reactivated"       // an inactive enrollment made active again
	ActionModeChanged      = "mode_changed"      // an active enrollment moved to another mode
	ActionDeactivated      = "deactivated"       // an active enrollment made inactive
	ActionPreEnrolled      = "pre_enrolled"      // an enrollment_allowed created for the email
	ActionAllowanceRemoved = "allowance_removed" // an enrollment_allowed deleted
)

// AttributeNamespace is the enrollment attribute namespace every write is
// stamped with, so an enrollment can be traced back to its order line.
const AttributeNamespace = "order"

// Names of the attributes every enrollment write is stamped with, in
// AttributeNamespace.
const (
	AttributeOrderNumber = "order_number"
	AttributeLineID      = "line_id"
)

// EnrollRequest names a learner, a course run and a mode, and the order line
// on whose behalf the write is made.
type EnrollRequest struct {
	// Username is the learner's LMS username. When empty, Email is used
	// (which needs a staff service user for the lookup).
	Username string
	// Email is used to pre-enroll a learner without an account, and to
	// find the learner when Username is empty. It is never logged.
	Email string
	// CourseID is the course run key.
	CourseID string
	// Mode is the wanted mode (for Unenroll: the mode being revoked).
	Mode string
	// OrderNumber and LineID are stamped on the enrollment as the
	// attributes order:order_number and order:line_id.
	OrderNumber string
	LineID      string
	// FromMode guards ChangeMode: when set, the mode is changed only while
	// the learner is actively enrolled in FromMode (revoking an upgrade must
	// not touch a learner who has since moved on).
	FromMode string
	// Observed, when set, is what a read of this enrollment found moments
	// before the call: Enroll and ChangeMode take it as the current state
	// instead of reading again. Only for the first try of a write right
	// after its read; a retry, which may follow a write of its own, reads.
	Observed *Observation
}

// Observation is what a read of the learner's enrollment found.
type Observation struct {
	// Enrollment is the enrollment found; nil when there was none.
	Enrollment *Enrollment
}

// Outcome is what an enrollment operation found and did.
type Outcome struct {
	// Action is one of the Action* constants.
	Action string
	// Wrote reports whether this call changed LMS state.
	Wrote bool
	// PriorExists, PriorActive and PriorMode describe the enrollment as
	// read before the write.
	PriorExists bool
	PriorActive bool
	PriorMode   string
	// ModeMismatch reports an Unenroll that found the learner in another
	// mode than the one revoked, and so left the enrollment alone.
	ModeMismatch bool
	// PreEnrolled reports that the learner has no account and an
	// enrollment_allowed stands for the enrollment.
	PreEnrolled bool
	// PriorAllowed reports that the enrollment_allowed already existed.
	PriorAllowed bool
	// Enrollment is the enrollment after the call, nil when there is none.
	Enrollment *Enrollment
}

func outcomeFrom(prior *Enrollment) Outcome {
	o := Outcome{Action: ActionNone, Enrollment: prior}
	if prior != nil {
		o.PriorExists, o.PriorActive, o.PriorMode = true, prior.IsActive, prior.Mode
	}
	return o
}

// Attribute is an enrollment attribute (the LMS's CourseEnrollmentAttribute),
// e.g. order:order_number.
type Attribute struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Value     string `json:"value"`
}

type courseRef struct {
	CourseID string `json:"course_id"`
}

type enrollmentBody struct {
	User          string      `json:"user,omitempty"`
	Email         string      `json:"email,omitempty"`
	Mode          string      `json:"mode,omitempty"`
	IsActive      bool        `json:"is_active"`
	CourseDetails courseRef   `json:"course_details"`
	Attributes    []Attribute `json:"enrollment_attributes,omitempty"`
}

func (r EnrollRequest) attributes() []Attribute {
	var attrs []Attribute
	if r.OrderNumber != "" {
		attrs = append(attrs, Attribute{AttributeNamespace, AttributeOrderNumber, r.OrderNumber})
	}
	if r.LineID != "" {
		attrs = append(attrs, Attribute{AttributeNamespace, AttributeLineID, r.LineID})
	}
	return attrs
}

func (r EnrollRequest) check(op string, needMode bool) error {
	switch {
	case r.CourseID == "":
		return invalidRequest(op, "a course run id is required")
	case needMode && r.Mode == "":
		return invalidRequest(op, "a mode is required")
	case r.Username == "" && r.Email == "":
		return invalidRequest(op, "a username or an email is required")
	}
	return nil
}

// freeModes are the modes anyone may enroll in without paying.
var freeModes = map[string]bool{"audit": true, "honor": true}

// IsFreeMode reports whether anyone may enroll in mode without paying
// (audit, honor).
func IsFreeMode(mode string) bool { return freeModes[mode] }

// ModeSatisfies reports whether an active enrollment in mode already
// satisfies a request for wanted, so that Enroll writes nothing: the same
// mode, or a paid mode when a free one is asked for (a free seat never
// downgrades a paying learner).
func ModeSatisfies(mode, wanted string) bool {
	return mode == wanted || (freeModes[wanted] && !freeModes[mode])
}

// Enroll makes the learner actively enrolled in the course run in req.Mode.
//
// It reads first: an active enrollment in that mode is a success without a
// write, and so is an active enrollment in a paid mode when a free mode is
// asked for (a free seat never downgrades a paying learner). Otherwise it
// creates, reactivates or changes the mode of the enrollment. A learner
// without an account (406) is pre-enrolled by email when PreEnrollByEmail is
// on and the request has an email.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (_ Outcome, err error) {
	defer func() { err = redactLearner(err, req.Username, req.Email) }()
	const op = "enroll"
	if err := req.check(op, true); err != nil {
		return Outcome{}, err
	}
	prior, err := c.current(ctx, req)
	if err != nil {
		return Outcome{}, err
	}
	out := outcomeFrom(prior)
	if prior != nil && prior.IsActive && ModeSatisfies(prior.Mode, req.Mode) {
		return out, nil
	}
	return c.writeActive(ctx, op, req, prior, out, true)
}

// ChangeMode moves the learner's enrollment to req.Mode (an upgrade, or the
// way back on revoke) and reports the prior mode. An active enrollment
// already in req.Mode is a success without a write. With req.FromMode set it
// writes only while the learner is actively enrolled in FromMode. There is no
// downgrade guard: the caller asks for the mode it means.
func (c *Client) ChangeMode(ctx context.Context, req EnrollRequest) (_ Outcome, err error) {
	defer func() { err = redactLearner(err, req.Username, req.Email) }()
	const op = "change_mode"
	if err := req.check(op, true); err != nil {
		return Outcome{}, err
	}
	prior, err := c.current(ctx, req)
	if err != nil {
		return Outcome{}, err
	}
	out := outcomeFrom(prior)
	if req.FromMode != "" && (prior == nil || !prior.IsActive || prior.Mode != req.FromMode) {
		return out, nil
	}
	if prior != nil && prior.IsActive && prior.Mode == req.Mode {
		return out, nil
	}
	return c.writeActive(ctx, op, req, prior, out, false)
}

// writeActive posts an active enrollment in req.Mode and checks the LMS did
// what was asked.
func (c *Client) writeActive(ctx context.Context, op string, req EnrollRequest, prior *Enrollment, out Outcome, mayPreEnroll bool) (Outcome, error) {
	body := enrollmentBody{Mode: req.Mode, IsActive: true,
		CourseDetails: courseRef{req.CourseID}, Attributes: req.attributes()}
	switch {
	case prior != nil && prior.User != "":
		body.User = prior.User
	case req.Username != "":
		body.User = req.Username
	default:
		body.Email = req.Email
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathEnrollment, body: body})
	if err != nil {
		return out, err
	}
	switch resp.status {
	case http.StatusOK:
	case http.StatusNotAcceptable:
		if mayPreEnroll && c.cfg.PreEnrollByEmail && req.Email != "" {
			return c.preEnroll(ctx, req, out)
		}
		return out, classifyResponse(op, resp.status, resp.header, resp.body)
	case http.StatusBadRequest:
		return c.afterRefusal(ctx, op, req, out, classifyResponse(op, resp.status, resp.header, resp.body))
	default:
		return out, c.postError(op, resp)
	}
	e, derr := decodeEnrollment(resp.body)
	if derr != nil || e == nil {
		if derr == nil {
			derr = errNotObject
		}
		return out, badResponse(op, resp, derr)
	}
	if !e.IsActive || e.Mode != req.Mode {
		// An unprivileged caller's request for another mode goes down the
		// add path, which answers 200 with the enrollment unchanged.
		return out, newError(op, TypeNotPrivileged, "the LMS left the enrollment in mode "+e.Mode+
			" (active="+strconv.FormatBool(e.IsActive)+"); the caller needs the API key or a staff service user", resp.status)
	}
	out.Wrote, out.Enrollment = true, e
	switch {
	case prior == nil:
		out.Action = ActionCreated
	case !prior.IsActive:
		out.Action = ActionReactivated
	default:
		out.Action = ActionModeChanged
	}
	return out, nil
}

// afterRefusal handles a 400 to an enrollment write. The LMS checks that
// enrollment is open before it checks that the learner is already enrolled,
// so the retry of a write that in fact succeeded is refused once enrollment
// has closed: read again and accept the wanted state. Otherwise name the
// generic refusal's cause from the course's details.
func (c *Client) afterRefusal(ctx context.Context, op string, req EnrollRequest, out Outcome, refusal *Error) (Outcome, error) {
	if refusal.Type != TypeEnrollmentFailed {
		return out, refusal
	}
	if now, err := c.lookup(ctx, req); err == nil && now != nil && now.IsActive && now.Mode == req.Mode {
		out.Enrollment = now
		return out, nil
	}
	course, err := c.GetCourse(ctx, req.CourseID)
	if err != nil {
		return out, refusal
	}
	if !course.EnrollmentOpen(c.now()) {
		refusal.Type = TypeEnrollmentClosed
		refusal.Message += " (the course run's enrollment is closed)"
	} else {
		refusal.Type = TypeCourseFull
		refusal.Message += " (enrollment is open, so the course run is most likely full)"
	}
	return out, refusal
}

// postError classifies a failed enrollment write.
func (c *Client) postError(op string, resp *response) *Error {
	e := classifyResponse(op, resp.status, resp.header, resp.body)
	if resp.status == http.StatusNotFound {
		e.Type = TypeForbidden
		e.Message = "the LMS refused to act for another user (the caller is not a privileged service user)"
	}
	return e
}

// Unenroll deactivates the learner's enrollment in the course run. No
// enrollment, an inactive one, or an active one in another mode than
// req.Mode (when set) is a success without a write: the LMS would otherwise
// create-then-deactivate a ghost enrollment, or re-activate and deactivate an
// inactive one. A 400 "Enrollment mode mismatch" (the learner moved to
// another mode meanwhile) is a success too.
func (c *Client) Unenroll(ctx context.Context, req EnrollRequest) (_ Outcome, err error) {
	defer func() { err = redactLearner(err, req.Username, req.Email) }()
	const op = "unenroll"
	if err := req.check(op, false); err != nil {
		return Outcome{}, err
	}
	prior, err := c.lookup(ctx, req)
	if err != nil {
		return Outcome{}, err
	}
	out := outcomeFrom(prior)
	if prior == nil || !prior.IsActive {
		return out, nil
	}
	if req.Mode != "" && prior.Mode != req.Mode {
		out.ModeMismatch = true
		return out, nil
	}
	body := enrollmentBody{User: prior.User, Mode: prior.Mode, IsActive: false,
		CourseDetails: courseRef{req.CourseID}, Attributes: req.attributes()}
	if body.User == "" {
		body.User = req.Username
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathEnrollment, body: body})
	if err != nil {
		return out, err
	}
	if resp.status != http.StatusOK {
		e := c.postError(op, resp)
		if e.Type == TypeModeMismatch {
			out.ModeMismatch = true
			return out, nil
		}
		return out, e
	}
	e, derr := decodeEnrollment(resp.body)
	if derr != nil || e == nil {
		if derr == nil {
			derr = errNotObject
		}
		return out, badResponse(op, resp, derr)
	}
	if e.IsActive {
		return out, newError(op, TypeNotPrivileged, "the LMS left the enrollment active; the caller needs the API key or a staff service user", resp.status)
	}
	out.Action, out.Wrote, out.Enrollment = ActionDeactivated, true, e
	return out, nil
}

package modules

import (
	"context"
	"errors"
	"math"
	"strconv"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
)

// Grant keys the LMS modules record on fulfill for their revoke.
const (
	// GrantAction is what the fulfill did (an lms.Action* value).
	GrantAction = contract.KeyGrantAction
	// GrantPriorMode is the learner's mode before the fulfill ("" if they
	// had no enrollment).
	GrantPriorMode = contract.KeyPriorMode
	// GrantPriorActive is "true" when the learner was actively enrolled
	// before the fulfill.
	GrantPriorActive = contract.KeyPriorActive
	// GrantPreEnrolled is "true" when the learner had no account and an
	// enrollment_allowed was created for their email.
	GrantPreEnrolled = "pre_enrolled"
	// GrantEntitlementUUID is the entitlement an entitlement fulfill made
	// or found.
	GrantEntitlementUUID = contract.KeyEntitlementUUID
	// GrantCreated is "true" when the entitlement was made for the order
	// ("false": it existed before, see Entitlement.Fulfill).
	GrantCreated = contract.KeyGrantCreated
)

// ErrorTypeInvalidLine marks a line a module cannot act on (missing course,
// mode, username...). It is permanent: the order needs fixing.
const ErrorTypeInvalidLine contract.ErrorType = "InvalidLine"

// ErrorTypeInternal marks an unexpected, non-LMS failure.
const ErrorTypeInternal contract.ErrorType = "InternalError"

// enrollmentAPI is the part of *lms.Client the enrollment modules use.
type enrollmentAPI interface {
	Lookup(ctx context.Context, req lms.EnrollRequest) (*lms.Enrollment, error)
	HasEnrollmentAllowed(ctx context.Context, email, courseID string) (bool, error)
	PreEnrollByEmail() bool
	Enroll(ctx context.Context, req lms.EnrollRequest) (lms.Outcome, error)
	ChangeMode(ctx context.Context, req lms.EnrollRequest) (lms.Outcome, error)
	Unenroll(ctx context.Context, req lms.EnrollRequest) (lms.Outcome, error)
	RemoveEnrollmentAllowed(ctx context.Context, email, courseID string) (lms.Outcome, error)
}

// entitlementAPI is the part of *lms.Client the entitlement module uses.
type entitlementAPI interface {
	CreateEntitlement(ctx context.Context, req lms.EntitlementRequest) (lms.EntitlementOutcome, error)
	FindEntitlements(ctx context.Context, username, courseUUID string) ([]lms.Entitlement, error)
	RevokeEntitlement(ctx context.Context, uuid string) (bool, error)
	// The run the line names: an LMS ties an entitlement to an enrollment
	// the learner has in a run of its course, and unenrolls it with the
	// entitlement's revoke.
	Enroll(ctx context.Context, req lms.EnrollRequest) (lms.Outcome, error)
	ActiveEnrollments(ctx context.Context, username string) ([]lms.Enrollment, error)
	GetEntitlement(ctx context.Context, uuid string) (*lms.Entitlement, error)
}

// errNoLMS is returned by constructors of modules that need the LMS.
var errNoLMS = errors.New("needs an LMS client (Deps.LMS)")

// ResultFromError turns a failure into a failure Result: an *lms.Error keeps
// its type, message, transient flag and Retry-After; anything else is a
// permanent InternalError.
func ResultFromError(err error) Result {
	if e, ok := lms.AsError(err); ok {
		r := Result{Status: StatusFailure, ErrorType: contract.ErrorType(e.Type), Message: e.Message, Retryable: e.Transient}
		if e.RetryAfter > 0 {
			r.RetryAfterSeconds = int(math.Ceil(e.RetryAfter.Seconds()))
		}
		return r
	}
	return Result{Status: StatusFailure, ErrorType: ErrorTypeInternal, Message: err.Error()}
}

// invalidLine is the failure for a line a module cannot act on.
func invalidLine(msg string) Result {
	return Result{Status: StatusFailure, ErrorType: ErrorTypeInvalidLine, Message: msg}
}

// enrollRequest is the LMS request for the line of req in mode.
func enrollRequest(req Request, mode string) lms.EnrollRequest {
	return lms.EnrollRequest{
		Username:    req.User.Username,
		Email:       req.User.Email,
		CourseID:    req.Line.CourseID,
		Mode:        mode,
		OrderNumber: req.OrderNumber,
		LineID:      req.Line.ID,
	}
}

// checkEnrollmentLine reports what an enrollment line lacks.
func checkEnrollmentLine(req Request) (Result, bool) {
	switch {
	case req.Line.CourseID == "":
		return invalidLine("the line names no course run (course_id)"), false
	case req.Line.Mode == "":
		return invalidLine("the line names no course mode (mode)"), false
	case req.User.Username == "" && req.User.Email == "":
		return invalidLine("the order names no learner (username or email)"), false
	}
	return Result{}, true
}

// priorGrant records the enrollment as the fulfill found it.
func priorGrant(out lms.Outcome) map[string]string {
	g := map[string]string{
		GrantAction:      out.Action,
		GrantPriorActive: strconv.FormatBool(out.PriorActive),
	}
	if out.PriorExists {
		g[GrantPriorMode] = out.PriorMode
	}
	if out.PreEnrolled {
		g[GrantPreEnrolled] = "true"
	}
	return g
}

// grantedNothing reports a fulfill that found the learner already actively
// enrolled as wanted, so there is nothing for its revoke to take back.
func grantedNothing(g map[string]string) bool {
	return g[GrantAction] == lms.ActionNone && g[GrantPriorActive] == "true" && g[GrantPreEnrolled] != "true"
}

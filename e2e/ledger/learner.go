package ledger

import "github.com/coursefulfill/fulfillment/order"

// Kind is how a scenario's learner stands with the LMS and how their orders
// name them.
type Kind int

// Learner kinds.
const (
	// KindAccount has an LMS account; orders name the username (and
	// sometimes the email too).
	KindAccount Kind = iota
	// KindAccountByEmail has an account; orders name only the email (the
	// LMS client looks the learner up by email).
	KindAccountByEmail
	// KindNewByEmail has no account; orders name only the email. The
	// sandbox auto-registers and the LMS client does not pre-enroll, so the
	// first enrollment write registers the learner, with the email's local
	// part as username, and enrolls them: no enrollment_allowed.
	KindNewByEmail
	// KindNewByUsername has no account; orders name a username, which the
	// sandbox registers on first use.
	KindNewByUsername
)

func (k Kind) String() string {
	return [...]string{"account", "account, order by email only", "no account, order by email only", "no account, order by username"}[k]
}

// HasAccount reports whether the learner has an LMS account before any order.
func (k Kind) HasAccount() bool { return k == KindAccount || k == KindAccountByEmail }

// NamedByUsername reports whether orders name the learner by username (the
// entitlement module needs it).
func (k Kind) NamedByUsername() bool { return k == KindAccount || k == KindNewByUsername }

// OrderUser is the learner as their orders name them; orderEmail adds the
// email to a KindAccount learner's username.
func (k Kind) OrderUser(name, email string, orderEmail bool) order.User {
	switch k {
	case KindAccount:
		u := order.User{Username: name}
		if orderEmail {
			u.Email = email
		}
		return u
	case KindNewByUsername:
		return order.User{Username: name}
	default:
		return order.User{Email: email}
	}
}

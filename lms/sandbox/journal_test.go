package sandbox_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

// crashEnv is a sandbox on state that is never closed: what a killed
// process leaves behind.
func crashEnv(t *testing.T, state string) *env {
	t.Helper()
	l, err := sandbox.New(sandbox.Options{StateFile: state})
	require.NoError(t, err)
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, lms: l, srv: srv}
}

func TestStateSurvivesACrash(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	e := crashEnv(t, state)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", true)).status)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/sandbox/users", nil, map[string]any{"username": "marie", "email": "marie@example.com"}).status)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/sandbox/courses", nil, map[string]any{"course_id": "course-v1:edX+New+1", "modes": []any{"audit", "verified"}}).status)
	require.Equal(t, http.StatusOK, e.post(enroll("marie", "course-v1:edX+New+1", "audit", true)).status)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", false)).status, "unenrolled after")
	_, err := os.Stat(state)
	require.ErrorIs(t, err, os.ErrNotExist, "no snapshot yet: everything is in the journal")

	// The process dies here (no Close); a new one reads the journal.
	e2 := newEnv(t, sandbox.Options{StateFile: state})
	got := e2.get("ada", demo).json(t)
	require.Equal(t, false, got["is_active"])
	require.Equal(t, 2, e2.snapshot("ada", demo).Enrollments[0].Writes)
	require.Equal(t, "audit", e2.get("marie", "course-v1:edX+New+1").json(t)["mode"])
}

func TestJournalTornWriteIsDropped(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	e := crashEnv(t, state)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", true)).status)
	// A crash in the middle of the next append: half a record, no newline.
	journal := state + ".journal"
	good, err := os.ReadFile(journal)
	require.NoError(t, err)
	f, err := os.OpenFile(journal, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(good[:len(good)/2])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	e2 := crashEnv(t, state)
	require.Equal(t, "verified", e2.get("ada", demo).json(t)["mode"], "the whole record before the torn one counts")
	after, err := os.ReadFile(journal)
	require.NoError(t, err)
	require.Equal(t, good, after, "the torn tail is cut off")
	// Later writes land on a clean line and survive the next crash.
	require.Equal(t, http.StatusOK, e2.post(enroll("ada", demo, "audit", true)).status)
	e3 := newEnv(t, sandbox.Options{StateFile: state})
	require.Equal(t, "audit", e3.get("ada", demo).json(t)["mode"])
}

func TestJournalTornRecordWithNewlineIsDropped(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	e := crashEnv(t, state)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", true)).status)
	f, err := os.OpenFile(state+".journal", os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("0badc0de {\"op\":\"reset\"}\n") // checksum does not match
	require.NoError(t, err)
	require.NoError(t, f.Close())
	e2 := newEnv(t, sandbox.Options{StateFile: state})
	require.Equal(t, "verified", e2.get("ada", demo).json(t)["mode"], "a bad last record is not applied")
}

func TestJournalCorruptionInTheMiddleIsAnError(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	e := crashEnv(t, state)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", true)).status)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "audit", true)).status)
	b, err := os.ReadFile(state + ".journal")
	require.NoError(t, err)
	b[12] ^= 0x20 // inside the first record's JSON
	require.NoError(t, os.WriteFile(state+".journal", b, 0o600))
	_, err = sandbox.New(sandbox.Options{StateFile: state})
	require.ErrorContains(t, err, "corrupt record 1")
}

// Past as many records as the state has objects (and at least 1,000), the
// state is written as a snapshot and the journal starts again: the journal
// never outgrows the state, and nothing is lost.
func TestJournalCompacts(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	e := crashEnv(t, state)
	const n = 1001
	for i := range n {
		mode := []string{"audit", "verified"}[i%2]
		require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, mode, true)).status)
	}
	_, err := os.Stat(state)
	require.NoError(t, err, "a snapshot was written")
	info, err := os.Stat(state + ".journal")
	require.NoError(t, err)
	require.Zero(t, info.Size(), "the journal started again")
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/sandbox/courses", nil, map[string]any{"course_id": "course-v1:edX+New+1", "modes": []any{"audit"}}).status)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", "course-v1:edX+New+1", "audit", true)).status)

	e2 := newEnv(t, sandbox.Options{StateFile: state})
	got := e2.snapshot("ada", demo).Enrollments[0]
	require.Equal(t, "audit", got.Mode, "the last of the compacted writes")
	require.Equal(t, n, got.Writes)
	require.Equal(t, "audit", e2.get("ada", "course-v1:edX+New+1").json(t)["mode"], "and the journal after the snapshot")
}

package sandbox

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"go.uber.org/zap"
)

// The sandbox persists its state as a snapshot (the state file, written
// atomically: temp file, fsync, rename) and a journal beside it
// (<state file>.journal): every change appends one record naming the
// objects it set — an enrollment, a pre-enrollment, an entitlement, a user,
// a course — whole. A write costs the same however many enrollments there
// are. The append is in the file before the change is answered, so a
// process that dies keeps every answered change; a background syncer
// fsyncs the journal as soon as it has new records (one fsync covers all
// the records appended meanwhile, and no request waits for it), so a
// machine that loses power loses at most the changes of the last fsync's
// duration. Once the journal holds more records than there
// are objects (and at least minCompactRecords), the state is written as a
// new snapshot and the journal emptied: the snapshot's cost is spread over
// as many writes as it holds objects.
//
// Every record sets absolute values (put, delete, reset), so replaying a
// journal over a snapshot that already holds some of its records gives the
// same state: a crash between the new snapshot's rename and the journal's
// truncation loses nothing. A record is one line, "<crc32 hex> <json>"; a
// crash in the middle of an append leaves a torn last line, which load
// drops (that change was never acknowledged: its answer is sent after the
// fsync). A bad record followed by good ones is corruption, and an error.

// minCompactRecords is the fewest journal records that trigger a snapshot.
const minCompactRecords = 1000

// Journal record operations.
const (
	opPutEnrollment  = "put-enrollment"
	opPutAllowed     = "put-allowed"
	opDeleteAllowed  = "delete-allowed"
	opPutEntitlement = "put-entitlement"
	opPutUser        = "put-user"
	opPutCourse      = "put-course"
	opReset          = "reset"
)

// record is one change in the journal.
type record struct {
	Op          string       `json:"op"`
	Enrollment  *enrollment  `json:"enrollment,omitempty"`
	Allowed     *allowance   `json:"allowed,omitempty"`
	Entitlement *entitlement `json:"entitlement,omitempty"`
	User        *User        `json:"user,omitempty"`
	Course      *Course      `json:"course,omitempty"`
}

func putEnrollment(e *enrollment) record { return record{Op: opPutEnrollment, Enrollment: e} }
func putAllowed(a *allowance) record     { return record{Op: opPutAllowed, Allowed: a} }
func deleteAllowed(email, course string) record {
	return record{Op: opDeleteAllowed, Allowed: &allowance{Email: email, CourseID: course}}
}
func putEntitlement(e *entitlement) record { return record{Op: opPutEntitlement, Entitlement: e} }
func putUser(u User) record                { return record{Op: opPutUser, User: &u} }
func putCourse(c *Course) record           { return record{Op: opPutCourse, Course: c} }
func reset() record                        { return record{Op: opReset} }

// journal is the open journal file and its syncer.
type journal struct {
	f       *os.File
	records int
	// kick wakes the syncer (buffered: one pending wake covers any number
	// of appends); stop ends it and done reports that it has.
	kick, stop, done chan struct{}
	log              *zap.Logger
}

// syncer fsyncs the journal whenever records were appended since the last
// fsync, until stop.
func (j *journal) syncer() {
	defer close(j.done)
	for {
		select {
		case <-j.stop:
			return
		case <-j.kick:
			if err := j.f.Sync(); err != nil {
				j.log.Error("sandbox journal not synced", zap.Error(err))
			}
		}
	}
}

func journalPath(stateFile string) string { return stateFile + ".journal" }

// encodeRecord is one journal line.
func encodeRecord(r record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, len(b)+10)
	line = fmt.Appendf(line, "%08x ", crc32.ChecksumIEEE(b))
	line = append(line, b...)
	return append(line, '\n'), nil
}

// decodeRecord reads one journal line (without its newline).
func decodeRecord(line []byte) (record, error) {
	var r record
	sum, body, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(sum) != 8 {
		return r, errors.New("malformed record")
	}
	want, err := hex.DecodeString(string(sum))
	if err != nil {
		return r, errors.New("malformed checksum")
	}
	got := crc32.ChecksumIEEE(body)
	if uint32(want[0])<<24|uint32(want[1])<<16|uint32(want[2])<<8|uint32(want[3]) != got {
		return r, errors.New("checksum mismatch")
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("record: %w", err)
	}
	return r, nil
}

// apply replays one record onto the state. Callers hold mu (or own l).
func (l *LMS) apply(r record) error {
	switch {
	case r.Op == opPutEnrollment && r.Enrollment != nil:
		l.enrollments[enrollmentKey{r.Enrollment.User, r.Enrollment.CourseID}] = r.Enrollment
	case r.Op == opPutAllowed && r.Allowed != nil:
		l.allowed[allowedKey{normEmail(r.Allowed.Email), r.Allowed.CourseID}] = r.Allowed
	case r.Op == opDeleteAllowed && r.Allowed != nil:
		delete(l.allowed, allowedKey{normEmail(r.Allowed.Email), r.Allowed.CourseID})
	case r.Op == opPutEntitlement && r.Entitlement != nil:
		l.entitle[r.Entitlement.UUID] = r.Entitlement
	case r.Op == opPutUser && r.User != nil:
		l.putUser(*r.User)
		l.addedUsers = append(l.addedUsers, r.User.Username)
	case r.Op == opPutCourse && r.Course != nil:
		l.putCourse(*r.Course)
		l.addedCourse[r.Course.CourseID] = true
	case r.Op == opReset:
		l.enrollments = map[enrollmentKey]*enrollment{}
		l.allowed = map[allowedKey]*allowance{}
		l.entitle = map[string]*entitlement{}
	default:
		return fmt.Errorf("unknown record %q", r.Op)
	}
	return nil
}

// openJournal replays the journal onto the state loaded from the snapshot,
// drops a torn last record, and opens the journal for appending.
func (l *LMS) openJournal() error {
	path := journalPath(l.opts.StateFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	good, n, err := l.replay(f)
	if err == nil && good >= 0 {
		// Drop a torn tail so appends start on a clean line.
		if err = f.Truncate(good); err == nil {
			_, err = f.Seek(good, io.SeekStart)
		}
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", path, err)
	}
	l.journal = &journal{f: f, records: n, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), log: l.log}
	go l.journal.syncer()
	return nil
}

// replay applies every whole record of f and returns the offset after the
// last good one and how many there were.
func (l *LMS) replay(f *os.File) (good int64, n int, err error) {
	rd := bufio.NewReader(f)
	for {
		line, rerr := rd.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			r, derr := decodeRecord(line[:len(line)-1])
			if derr != nil {
				// Only the last line can be torn.
				if rest, _ := rd.Peek(1); len(rest) > 0 {
					return 0, 0, fmt.Errorf("corrupt record %d: %w", n+1, derr)
				}
				l.log.Warn("sandbox journal: dropped a torn last record", zap.Int("record", n+1))
				return good, n, nil
			}
			if err := l.apply(r); err != nil {
				return 0, 0, fmt.Errorf("record %d: %w", n+1, err)
			}
			good += int64(len(line))
			n++
		} else if len(line) > 0 {
			l.log.Warn("sandbox journal: dropped a torn last record", zap.Int("record", n+1))
		}
		if errors.Is(rerr, io.EOF) {
			return good, n, nil
		}
		if rerr != nil {
			return 0, 0, rerr
		}
	}
}

// changed persists a mutation's records: appended to the journal (the
// syncer fsyncs it), then, when the journal has grown past the state, a
// new snapshot. A failure to persist is logged: the in-memory state stays
// authoritative for this run. Callers hold mu.
func (l *LMS) changed(recs ...record) {
	if err := l.persistLocked(recs); err != nil {
		l.log.Error("sandbox state not saved", zap.Error(err))
	}
}

func (l *LMS) persistLocked(recs []record) error {
	if l.journal == nil {
		return nil
	}
	var buf []byte
	for _, r := range recs {
		line, err := encodeRecord(r)
		if err != nil {
			return err
		}
		buf = append(buf, line...)
	}
	if _, err := l.journal.f.Write(buf); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	select {
	case l.journal.kick <- struct{}{}:
	default: // a wake is pending: its fsync covers this append
	}
	l.journal.records += len(recs)
	objects := len(l.enrollments) + len(l.allowed) + len(l.entitle) + len(l.addedUsers) + len(l.addedCourse)
	if l.journal.records > max(minCompactRecords, objects) {
		return l.compactLocked()
	}
	return nil
}

// compactLocked writes the state as a new snapshot and empties the
// journal. Callers hold mu.
func (l *LMS) compactLocked() error {
	if err := l.saveLocked(); err != nil {
		return err
	}
	if err := l.journal.f.Truncate(0); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := l.journal.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	l.journal.records = 0
	return l.journal.f.Sync()
}

// closeJournal writes the state as a snapshot and closes the journal,
// removing it once empty: a cleanly closed sandbox leaves its state file
// only. Callers hold mu.
func (l *LMS) closeJournal() error {
	if l.journal == nil {
		return l.saveLocked()
	}
	close(l.journal.stop)
	<-l.journal.done
	err := l.compactLocked()
	err = errors.Join(err, l.journal.f.Close())
	if err == nil {
		err = os.Remove(journalPath(l.opts.StateFile))
	}
	l.journal = nil
	return err
}

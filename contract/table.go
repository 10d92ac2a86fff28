package contract

import (
	"encoding/json"
	"fmt"

	"github.com/coursefulfill/fulfillment/order"
)

// LineTable is the compact wire form of many lines, for the payloads of
// large orders (Temporal refuses any payload over 2 MiB): the distinct
// strings, string maps (grants, prior states) and module results the lines
// hold are each stored once, and each field is a column of small integers
// indexing them, run-length encoded, so ten thousand lines that differ
// mostly in their ids take little more than their ids. Index 0 is "none".
type LineTable struct {
	IDs     []string            `json:"ids"`
	Strings []string            `json:"strings,omitempty"`
	Maps    []map[string]string `json:"maps,omitempty"`
	Results []Result            `json:"results,omitempty"`
	// Columns holds the fields named by the col* constants, each as runs:
	// value, count, value, count... A missing column is all zeros.
	Columns [][]int `json:"columns"`
}

// Columns of a LineTable.
const (
	colProductType = iota // Strings
	colCourseID           // Strings
	colMode               // Strings
	colCourseUUID         // Strings
	colSKU                // Strings
	colState              // Strings
	colResult             // Results
	colAttempts           // the number itself
	colLastError          // Strings
	colRefundID           // Strings
	colPrior              // Maps
	colGrant              // Maps
	colFlags              // flagFulfilled | flagUncertain
	colCount
)

const (
	flagFulfilled = 1 << iota
	flagUncertain
)

// tableRow is the union of what a line carries in any payload.
type tableRow struct {
	line      order.Line
	state     LineState
	result    *Result
	attempts  int
	lastError string
	refundID  string
	prior     map[string]string
	grant     map[string]string
	flags     int
}

// tableWriter interns values while rows are added.
type tableWriter struct {
	t       LineTable
	rows    [][colCount]int
	strings map[string]int
	maps    map[string]int
	results map[string]int
}

func newTableWriter(n int) *tableWriter {
	return &tableWriter{t: LineTable{IDs: make([]string, 0, n)}, rows: make([][colCount]int, 0, n),
		strings: map[string]int{}, maps: map[string]int{}, results: map[string]int{}}
}

// table encodes the rows added into columns of runs.
func (w *tableWriter) table() LineTable {
	t := w.t
	t.Columns = make([][]int, colCount)
	for c := range colCount {
		var runs []int
		for i, row := range w.rows {
			if i > 0 && runs[len(runs)-2] == row[c] {
				runs[len(runs)-1]++
				continue
			}
			runs = append(runs, row[c], 1)
		}
		t.Columns[c] = runs
	}
	for len(t.Columns) > 0 && allZero(t.Columns[len(t.Columns)-1]) {
		t.Columns = t.Columns[:len(t.Columns)-1]
	}
	return t
}

func allZero(runs []int) bool {
	for i := 0; i < len(runs); i += 2 {
		if runs[i] != 0 {
			return false
		}
	}
	return true
}

// column expands column c of t to one value per line.
func (t LineTable) column(c int) ([]int, error) {
	out := make([]int, 0, len(t.IDs))
	if c >= len(t.Columns) {
		return make([]int, len(t.IDs)), nil
	}
	runs := t.Columns[c]
	if len(runs)%2 != 0 {
		return nil, fmt.Errorf("line table: column %d is not runs of value, count", c)
	}
	for i := 0; i < len(runs); i += 2 {
		if runs[i+1] < 1 || len(out)+runs[i+1] > len(t.IDs) {
			return nil, fmt.Errorf("line table: column %d runs past its %d lines", c, len(t.IDs))
		}
		for range runs[i+1] {
			out = append(out, runs[i])
		}
	}
	if len(out) != len(t.IDs) {
		return nil, fmt.Errorf("line table: column %d has %d values for %d lines", c, len(out), len(t.IDs))
	}
	return out, nil
}

func (w *tableWriter) str(s string) int {
	if s == "" {
		return 0
	}
	if i, ok := w.strings[s]; ok {
		return i
	}
	w.t.Strings = append(w.t.Strings, s)
	w.strings[s] = len(w.t.Strings)
	return len(w.t.Strings)
}

// key renders a value as its interning key: encoding/json sorts map keys,
// so equal maps and results render alike.
func key(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Maps of strings and Results always marshal.
		panic(fmt.Sprintf("contract: line table: %v", err))
	}
	return string(b)
}

func (w *tableWriter) strMap(m map[string]string) int {
	if m == nil {
		return 0
	}
	k := key(m)
	if i, ok := w.maps[k]; ok {
		return i
	}
	w.t.Maps = append(w.t.Maps, m)
	w.maps[k] = len(w.t.Maps)
	return len(w.t.Maps)
}

func (w *tableWriter) result(r *Result) int {
	if r == nil {
		return 0
	}
	k := key(r)
	if i, ok := w.results[k]; ok {
		return i
	}
	w.t.Results = append(w.t.Results, *r)
	w.results[k] = len(w.t.Results)
	return len(w.t.Results)
}

func (w *tableWriter) add(r tableRow) {
	var row [colCount]int
	row[colProductType] = w.str(r.line.ProductType)
	row[colCourseID] = w.str(r.line.CourseID)
	row[colMode] = w.str(r.line.Mode)
	row[colCourseUUID] = w.str(r.line.CourseUUID)
	row[colSKU] = w.str(r.line.SKU)
	row[colState] = w.str(string(r.state))
	row[colResult] = w.result(r.result)
	row[colAttempts] = r.attempts
	row[colLastError] = w.str(r.lastError)
	row[colRefundID] = w.str(r.refundID)
	row[colPrior] = w.strMap(r.prior)
	row[colGrant] = w.strMap(r.grant)
	row[colFlags] = r.flags
	w.t.IDs = append(w.t.IDs, r.line.ID)
	w.rows = append(w.rows, row)
}

// rows reads the table back, checking every index.
func (t LineTable) rows() ([]tableRow, error) {
	cols := make([][]int, colCount)
	for c := range colCount {
		var err error
		if cols[c], err = t.column(c); err != nil {
			return nil, err
		}
	}
	out := make([]tableRow, len(t.IDs))
	for i := range t.IDs {
		col := func(c int) int { return cols[c][i] }
		var err error
		str := func(c int) string {
			n := col(c)
			if n < 0 || n > len(t.Strings) {
				err = fmt.Errorf("line table: row %d column %d: no string %d", i, c, n)
				return ""
			}
			if n == 0 {
				return ""
			}
			return t.Strings[n-1]
		}
		strMap := func(c int) map[string]string {
			n := col(c)
			if n < 0 || n > len(t.Maps) {
				err = fmt.Errorf("line table: row %d column %d: no map %d", i, c, n)
				return nil
			}
			if n == 0 {
				return nil
			}
			return t.Maps[n-1]
		}
		r := tableRow{
			line: order.Line{ID: t.IDs[i], ProductType: str(colProductType), CourseID: str(colCourseID),
				Mode: str(colMode), CourseUUID: str(colCourseUUID), SKU: str(colSKU)},
			state:     LineState(str(colState)),
			attempts:  col(colAttempts),
			lastError: str(colLastError),
			refundID:  str(colRefundID),
			prior:     strMap(colPrior),
			grant:     strMap(colGrant),
			flags:     col(colFlags),
		}
		switch n := col(colResult); {
		case n < 0 || n > len(t.Results):
			err = fmt.Errorf("line table: row %d: no result %d", i, n)
		case n > 0:
			res := t.Results[n-1]
			r.result = &res
		}
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// StatusTable is the compact form of lines of a status document.
func StatusTable(lines []LineStatus) LineTable {
	w := newTableWriter(len(lines))
	for _, l := range lines {
		w.add(tableRow{line: order.Line{ID: l.ID, ProductType: l.ProductType, CourseID: l.CourseID, Mode: l.Mode},
			state: l.State, result: l.Result, attempts: l.Attempts, lastError: l.LastError, refundID: l.RefundID, prior: l.Prior})
	}
	return w.table()
}

// Statuses reads lines of a status document back from their compact form.
func (t LineTable) Statuses() ([]LineStatus, error) {
	rows, err := t.rows()
	if err != nil {
		return nil, err
	}
	out := make([]LineStatus, len(rows))
	for i, r := range rows {
		out[i] = LineStatus{ID: r.line.ID, ProductType: r.line.ProductType, CourseID: r.line.CourseID, Mode: r.line.Mode,
			State: r.state, Result: r.result, Attempts: r.attempts, LastError: r.lastError, RefundID: r.refundID, Prior: r.prior}
	}
	return out, nil
}

// RefundLineTable is the compact form of the lines of a refund.
func RefundLineTable(lines []RefundLine) LineTable {
	w := newTableWriter(len(lines))
	for _, l := range lines {
		w.add(tableRow{line: order.Line{ID: l.ID}, state: l.State, result: l.Result})
	}
	return w.table()
}

// RefundLines reads the lines of a refund back from their compact form.
func (t LineTable) RefundLines() ([]RefundLine, error) {
	rows, err := t.rows()
	if err != nil {
		return nil, err
	}
	out := make([]RefundLine, len(rows))
	for i, r := range rows {
		out[i] = RefundLine{ID: r.line.ID, State: r.state, Result: r.result}
	}
	return out, nil
}

// RevokeTable is the compact form of the lines a RevokeWorkflow revokes.
func RevokeTable(lines []RevokeLine) LineTable {
	w := newTableWriter(len(lines))
	for _, l := range lines {
		flags := 0
		if l.Fulfilled {
			flags |= flagFulfilled
		}
		if l.Uncertain {
			flags |= flagUncertain
		}
		w.add(tableRow{line: l.Line, grant: l.Grant, prior: l.Prior, flags: flags})
	}
	return w.table()
}

// RevokeLines reads the lines of a revoke back from their compact form.
func (t LineTable) RevokeLines() ([]RevokeLine, error) {
	rows, err := t.rows()
	if err != nil {
		return nil, err
	}
	out := make([]RevokeLine, len(rows))
	for i, r := range rows {
		out[i] = RevokeLine{Line: r.line, Grant: r.grant, Prior: r.prior,
			Fulfilled: r.flags&flagFulfilled != 0, Uncertain: r.flags&flagUncertain != 0}
	}
	return out, nil
}

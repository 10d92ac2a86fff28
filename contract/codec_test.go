package contract

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"
	"time"
)

func TestTableRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	maps := []map[string]string{nil, {}, {"a": "1"}, {"a": "1", "b": ""}, {"": "x"}}
	for iter := 0; iter < 2000; iter++ {
		var d StatusDocument
		n := r.Intn(6)
		for i := 0; i < n; i++ {
			l := LineStatus{ID: pick("1", "2", "x", "") + string(rune('a'+i)), ProductType: pick("", "seat"), CourseID: pick("", "c"),
				Mode: pick("", "verified"), State: LineState(pick("", "fulfilled", "failed")), Attempts: r.Intn(3) - 1,
				LastError: pick("", "e"), RefundID: pick("", "R"), Prior: maps[r.Intn(len(maps))]}
			if r.Intn(2) == 0 {
				res := Result{Status: pick("success", "failure"), ErrorType: ErrorType(pick("", "X")), Message: pick("", "m"),
					Retryable: r.Intn(2) == 0, RetryAfterSeconds: r.Intn(3), Grant: maps[r.Intn(3)+2]}
				l.Result = &res
			}
			d.Lines = append(d.Lines, l)
		}
		d.Refunds = []RefundStatus{}
		d.RefundWindowEndsAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back StatusDocument
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if d.Lines == nil {
			d.Lines = []LineStatus{}
		}
		if !reflect.DeepEqual(d, back) {
			t.Fatalf("round trip differs:\n%+v\n%+v\n%s", d, back, b)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Fatalf("not byte-identical after a round trip:\n%s\n%s", b, b2)
		}
	}
}

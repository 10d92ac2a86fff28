package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// recordHistory saves the workflow's history under workflows/testdata when
// RECORD_HISTORIES=1, for the replay tests that guard running orders against
// non-deterministic changes. Normal runs only check the history is readable.
// A recording never replaces an older one: when <name>.json exists, the new
// one is added as <name>_<UTC time>.json, and both keep replaying.
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	iter := shared.Client.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	require.NotEmpty(t, h.Events)
	if os.Getenv("RECORD_HISTORIES") != "1" {
		return
	}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	require.NoError(t, err)
	path := filepath.Join("..", "workflows", "testdata", name+".json")
	if _, err := os.Stat(path); err == nil {
		path = filepath.Join("..", "workflows", "testdata", name+"_"+time.Now().UTC().Format("20060102T150405")+".json")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	require.NoError(t, err, "histories are added, never recorded over")
	_, err = f.Write(data)
	require.NoError(t, errors.Join(err, f.Close()))
}

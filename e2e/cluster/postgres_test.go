package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// postgres is a throwaway PostgreSQL cluster on a loopback port, in a
// directory of its own, stopped when the test ends.
type postgres struct {
	Port     int
	User     string
	Password string
}

// pgBinDir finds initdb: on PATH, or where Debian installs it
// (/usr/lib/postgresql/<version>/bin). .ci/run installs Debian's
// postgresql package when neither has it.
func pgBinDir(t *testing.T) string {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	found, err := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	require.NoError(t, err)
	require.NotEmpty(t, found, "PostgreSQL's initdb is neither on PATH nor under /usr/lib/postgresql: install PostgreSQL (Debian: apt-get install postgresql; .ci/run does)")
	sort.Slice(found, func(i, j int) bool { return pgVersion(found[i]) > pgVersion(found[j]) })
	return filepath.Dir(found[0])
}

func pgVersion(initdb string) int {
	v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	if err != nil {
		return 0
	}
	return v
}

// pgCredential is the unprivileged user initdb and pg_ctl run as when the
// test runs as root (they refuse root): postgres, else nobody. nil when the
// test is not root.
func pgCredential(t *testing.T) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	require.NoError(t, err, "running as root: initdb needs an unprivileged user (postgres or nobody)")
	uid, err := strconv.Atoi(u.Uid)
	require.NoError(t, err)
	gid, err := strconv.Atoi(u.Gid)
	require.NoError(t, err)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// startPostgres runs initdb and pg_ctl start in a fresh directory that the
// test owns, listening on 127.0.0.1:port only, with password
// authentication; it is stopped (and its directory removed) at cleanup.
func startPostgres(t *testing.T, port int) *postgres {
	bin := pgBinDir(t)
	cred := pgCredential(t)
	// Not under t.TempDir(): its parents are private to root, and the
	// PostgreSQL user must reach the directory.
	dir, err := os.MkdirTemp("", "fulfillment-pg-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(dir)) })

	pwBytes := make([]byte, 16)
	_, err = rand.Read(pwBytes)
	require.NoError(t, err)
	pg := &postgres{Port: port, User: "temporal", Password: hex.EncodeToString(pwBytes)}
	pwFile := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(pg.Password+"\n"), 0o600))
	if cred != nil {
		require.NoError(t, os.Chown(dir, int(cred.Uid), int(cred.Gid)))
		require.NoError(t, os.Chown(pwFile, int(cred.Uid), int(cred.Gid)))
	}
	run := func(name string, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C"}
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %v:\n%s", name, args, out)
	}
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", pg.User, "--pwfile", pwFile, "--auth-host=scram-sha-256", "--auth-local=trust",
		"--no-sync", "-E", "UTF8")
	run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-o",
		fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir))
	t.Cleanup(func() {
		run("pg_ctl", "stop", "-w", "-m", "fast", "-D", data)
	})
	return pg
}

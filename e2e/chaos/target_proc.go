package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a program a test started, its output appended to a log
// file. It dies with the test's process (Linux), so a run killed by the
// test timeout leaves none behind.
type Process struct {
	// Name names it in errors; Log is its log file.
	Name, Log string
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
}

// StartProcess starts cmd (not started yet) with its stdout and stderr
// appended to the file at logPath.
func StartProcess(name, logPath string, cmd *exec.Cmd) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait() // killed processes end with an error; their log says why
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process ended (valid once Done is closed).
func (p *Process) Err() error { return p.err }

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL and waits until the process has gone.
func (p *Process) Kill() error {
	if p == nil {
		return errors.New("no such process running")
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits until the process has gone, killing it
// when it has not within grace; it reports whether it stopped in time.
func (p *Process) Stop(grace time.Duration) (bool, error) {
	select {
	case <-p.done:
		return true, nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return false, fmt.Errorf("stop %s: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return true, nil
	case <-time.After(grace):
		return false, p.Kill()
	}
}

// WaitHealthy polls url with client until it answers 200, the process
// exits or ctx ends (at most 3 minutes); a nil client is one with a 5 s
// timeout.
func WaitHealthy(ctx context.Context, client *http.Client, url string, p *Process) error {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("health check of %s: %w", p.Name, err)
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v", p.Name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", p.Name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	rpprof "runtime/pprof"
	"strconv"
	"time"
)

// servePprof serves Go's profiles (/debug/pprof/...) on 127.0.0.1:port
// until stop is called; port 0 serves nothing. The profiles cover the
// whole process: Temporal server, worker, API and sandbox LMS.
func servePprof(port int) (addr string, stop func(), err error) {
	if port == 0 {
		return "", func() {}, nil
	}
	if port < 0 || port > 65535 {
		return "", nil, fmt.Errorf("--pprof-port must be from 1 to 65535, not %d", port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", nil, fmt.Errorf("port %d is already in use; free it or choose another with --pprof-port: %w", port, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// Block and mutex profiles, sampled lightly.
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(100)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "pprof server: %v\n", err)
		}
	}()
	return "http://" + ln.Addr().String() + "/debug/pprof/", func() { _ = srv.Close() }, nil
}

// startCPUProfile writes a CPU profile of the process to path until stop
// is called; an empty path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() error {
		rpprof.StopCPUProfile()
		return f.Close()
	}, nil
}

//go:build !linux

package chaos

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent's; on
// other systems a run killed by the test timeout may leave processes.
func dieWithParent(*exec.Cmd) {}

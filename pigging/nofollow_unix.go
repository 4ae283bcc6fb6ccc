//go:build unix

package pigging

import "syscall"

// oNoFollow makes open(2) fail on a symlink, closing the window between the
// Lstat check and the open.
const oNoFollow = syscall.O_NOFOLLOW

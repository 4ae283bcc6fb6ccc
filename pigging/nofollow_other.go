//go:build !unix

package pigging

// oNoFollow is 0 where open has no O_NOFOLLOW; the Lstat check before each
// open still refuses symlinks.
const oNoFollow = 0

package split

import "errors"

// ErrNotFound is returned by a Source that does not have a node or leaf.
var ErrNotFound = errors.New("not found")

package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// isNotFound reports whether err means a missing repository, tag or blob,
// from a local store or from a registry's 404 response.
func isNotFound(err error) bool {
	if errors.Is(err, errdef.ErrNotFound) {
		return true
	}
	var resp *errcode.ErrorResponse
	return errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound
}

// explain turns a failure to reach or read from t into a message that
// names the cause in the words a user acts on, and wraps err unchanged
// otherwise.
func explain(t *Target, action string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: registry %s is not reachable (connection refused): is it running, and is the address right?", t.Ref, t.Ref.Registry)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%s: registry host %s not found: %w", t.Ref, dnsErr.Name, err)
	case isNotFound(err) && action == "resolve" && t.Ref.Digest != "":
		return fmt.Errorf("%s: manifest %s not found in %s", t.Ref, t.Ref.Digest, t.repositoryName())
	case isNotFound(err) && action == "resolve":
		return fmt.Errorf("%s: tag %s not found in %s", t.Ref, t.Ref.Tag, t.repositoryName())
	}
	return fmt.Errorf("%s: %s: %w", t.Ref, action, err)
}

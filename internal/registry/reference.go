package registry

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"oras.land/oras-go/v2/registry"
)

// Reference names an artifact in a registry repository or in the embedded
// local store.
type Reference struct {
	// Local is true for a reference without a registry host, which names
	// the embedded store.
	Local bool
	// Registry is the host and optional port of a remote reference.
	Registry   string
	Repository string
	// Tag or Digest; a reference with both resolves by digest.
	Tag    string
	Digest string
}

// String returns the reference in its usual form.
func (r Reference) String() string {
	s := r.Repository
	if !r.Local {
		s = r.Registry + "/" + s
	}
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Reference returns the tag or digest to resolve.
func (r Reference) Reference() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// ParseReference parses HOST[:PORT]/REPOSITORY[:TAG][@DIGEST] or, without a
// host, REPOSITORY[:TAG][@DIGEST] for the embedded store. The first path
// component is a host when it contains a dot or a colon or is "localhost",
// as in Docker. A missing tag means "latest".
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("invalid reference: empty")
	}
	first, _, hasSlash := strings.Cut(s, "/")
	isHost := hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost")
	if isHost {
		parsed, err := registry.ParseReference(s)
		if err != nil {
			return Reference{}, referenceError(s, strings.SplitN(s, "/", 2)[1])
		}
		ref := Reference{Registry: parsed.Registry, Repository: parsed.Repository}
		if err := parsed.ValidateReferenceAsDigest(); err == nil {
			ref.Digest = parsed.Reference
		} else {
			ref.Tag = parsed.Reference
		}
		if ref.Tag == "" && ref.Digest == "" {
			ref.Tag = "latest"
		}
		return ref, nil
	}

	// Validate a local reference with the same grammar by giving it a
	// placeholder host.
	parsed, err := registry.ParseReference("localhost/" + s)
	if err != nil {
		return Reference{}, referenceError(s, s)
	}
	ref := Reference{Local: true, Repository: parsed.Repository}
	if err := parsed.ValidateReferenceAsDigest(); err == nil {
		ref.Digest = parsed.Reference
	} else {
		ref.Tag = parsed.Reference
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = "latest"
	}
	if strings.Contains(ref.Repository, "..") || filepath.IsAbs(ref.Repository) {
		return Reference{}, fmt.Errorf("invalid reference %q: repository must be a relative name", s)
	}
	return ref, nil
}

// IsLoopback reports whether host (with an optional port) is a loopback
// name or address, which is spoken to over plain HTTP without --plain-http.
func IsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// referenceError explains why s is not a valid reference; rest is s
// without its registry host.
func referenceError(s, rest string) error {
	repository, _, _ := strings.Cut(rest, "@")
	if i := strings.LastIndex(repository, ":"); i >= 0 {
		repository = repository[:i]
	}
	switch {
	case repository == "":
		return fmt.Errorf("invalid reference %q: missing repository after the registry host", s)
	case strings.ToLower(repository) != repository:
		return fmt.Errorf("invalid reference %q: repository names must be lowercase", s)
	}
	return fmt.Errorf("invalid reference %q: expected HOST[:PORT]/REPOSITORY[:TAG][@DIGEST], or REPOSITORY[:TAG] for the embedded store, where a repository is lowercase letters, digits and . _ - separated by /", s)
}

package split

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/opencontainers/image-spec/specs-go"
	"strings"
)

// Digest is a SHA-256 digest of a node, a leaf or a blob.
type Digest [sha256.Size]byte

// String returns the digest in the OCI form "sha256:<64 hex digits>".
func (d Digest) String() string { return "sha256:" + hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero value, which no content has.
func (d Digest) IsZero() bool { return d == Digest{} }

// ParseDigest parses "sha256:<64 lowercase hex digits>".
func ParseDigest(s string) (Digest, error) {
	var d Digest
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return d, fmt.Errorf("invalid digest %q: expected the form sha256:<64 hex digits>", s)
	}
	if len(hexPart) != 2*sha256.Size || strings.ToLower(hexPart) != hexPart {
		return d, fmt.Errorf("invalid digest %q: expected 64 lowercase hex digits after sha256:", s)
	}
	if _, err := hex.Decode(d[:], []byte(hexPart)); err != nil {
		return d, fmt.Errorf("invalid digest %q: %v", s, err)
	}
	return d, nil
}

// Sum returns the digest of b.
func Sum(b []byte) Digest { return sha256.Sum256(b) }

var specsVersioned = specs.Versioned{SchemaVersion: 2}

package faultproxy

import (
	"net/http"
	"regexp"
)

// Path patterns from the OCI distribution specification. A blob digest is
// <algorithm>:<encoded>, and the algorithm and encoding grammars below come
// from the OCI image specification's descriptor section.
var (
	blobPath     = regexp.MustCompile(`^/v2/.+/blobs/[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)
	manifestPath = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)
)

// BlobGET matches a GET of /v2/<name>/blobs/<digest>, so it excludes upload
// sessions under /blobs/uploads/.
func BlobGET(r *http.Request) bool {
	return r.Method == http.MethodGet && blobPath.MatchString(r.URL.Path)
}

// BlobHEAD matches a HEAD of /v2/<name>/blobs/<digest>.
func BlobHEAD(r *http.Request) bool {
	return r.Method == http.MethodHead && blobPath.MatchString(r.URL.Path)
}

// ManifestRequest matches a request with any method on
// /v2/<name>/manifests/<tag or digest>.
func ManifestRequest(r *http.Request) bool {
	return manifestPath.MatchString(r.URL.Path)
}

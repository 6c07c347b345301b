package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testBlob is 100 KiB, so it spans four 32 KiB chunks and the last is partial.
var testBlob = func() []byte {
	blob := make([]byte, 100<<10)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	return blob
}()

// upstream is a minimal registry stand-in that counts the requests it serves.
type upstream struct {
	server   *httptest.Server
	requests atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/test/blobs/"+testDigest, func(w http.ResponseWriter, r *http.Request) {
		// ServeContent handles HEAD and Range requests and returns 206 for a range.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(testBlob))
	})
	mux.HandleFunc("POST /v2/test/blobs/uploads/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", u.server.URL+"/v2/test/blobs/uploads/session-1?state=abc")
		w.WriteHeader(http.StatusAccepted)
	})
	u.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(u.server.Close)
	return u
}

// newClient returns a client without keep-alive, so that the transport of
// net/http never retries a reset on a reused connection by itself.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	transport := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 10 * time.Second}
}

func blobURL(p *Proxy) string {
	return p.URL() + "/v2/test/blobs/" + testDigest
}

func get(t *testing.T, client *http.Client, rawURL string, header http.Header) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func lastLogged(t *testing.T, p *Proxy) Logged {
	t.Helper()
	requests := p.Requests()
	if len(requests) == 0 {
		t.Fatal("proxy logged no requests")
	}
	return requests[len(requests)-1]
}

func TestProxyPassThrough(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL)

	resp, body, err := get(t, newClient(t), blobURL(p), nil)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	if !bytes.Equal(body, testBlob) {
		t.Errorf("body differs from the upstream blob (%d bytes, expected %d)", len(body), len(testBlob))
	}

	logged := lastLogged(t, p)
	expected := Logged{Method: "GET", Path: "/v2/test/blobs/" + testDigest, Status: 200, Fault: None, BytesSent: int64(len(testBlob))}
	if logged != expected {
		t.Errorf("logged %+v, expected %+v", logged, expected)
	}
}

func TestProxyReset(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Fault: Reset})

	_, _, err := get(t, newClient(t), blobURL(p), nil)
	if err == nil {
		t.Fatal("GET succeeded, expected a connection error")
	}
	if up.requests.Load() != 0 {
		t.Errorf("upstream served %d requests, expected 0", up.requests.Load())
	}
	logged := lastLogged(t, p)
	if logged.Fault != Reset {
		t.Errorf("logged fault = %v, expected Reset", logged.Fault)
	}
	if logged.Status != 0 {
		t.Errorf("logged status = %d, expected 0", logged.Status)
	}
}

func TestProxyStatus500(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Fault: Status500})

	resp, _, err := get(t, newClient(t), blobURL(p), nil)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, expected 500", resp.StatusCode)
	}
	if up.requests.Load() != 0 {
		t.Errorf("upstream served %d requests, expected 0", up.requests.Load())
	}
	if logged := lastLogged(t, p); logged.Status != 500 || logged.Fault != Status500 {
		t.Errorf("logged %+v, expected status 500 and fault Status500", logged)
	}
}

func TestProxyStatus429(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Fault: Status429})

	resp, _, err := get(t, newClient(t), blobURL(p), nil)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("status = %d, expected 429", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "0" {
		t.Errorf("Retry-After = %q, expected \"0\"", got)
	}
	if up.requests.Load() != 0 {
		t.Errorf("upstream served %d requests, expected 0", up.requests.Load())
	}
}

func TestProxyTruncate(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Match: BlobGET, Fault: Truncate})

	resp, body, err := get(t, newClient(t), blobURL(p), nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading body: error = %v, expected io.ErrUnexpectedEOF", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	if resp.ContentLength != int64(len(testBlob)) {
		t.Errorf("Content-Length = %d, expected the full %d", resp.ContentLength, len(testBlob))
	}
	half := len(testBlob) / 2
	if !bytes.Equal(body, testBlob[:half]) {
		t.Errorf("received %d bytes, expected the first %d bytes of the blob", len(body), half)
	}
	if logged := lastLogged(t, p); logged.BytesSent != int64(half) {
		t.Errorf("logged BytesSent = %d, expected %d", logged.BytesSent, half)
	}
}

func TestProxyTruncateHEAD(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Fault: Truncate})

	resp, err := newClient(t).Head(blobURL(p))
	if err != nil {
		t.Fatalf("HEAD blob: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	if resp.ContentLength != int64(len(testBlob)) {
		t.Errorf("Content-Length = %d, expected %d", resp.ContentLength, len(testBlob))
	}
}

func TestProxyCorrupt(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Match: BlobGET, Fault: Corrupt})

	resp, body, err := get(t, newClient(t), blobURL(p), nil)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	if len(body) != len(testBlob) {
		t.Fatalf("body length = %d, expected %d", len(body), len(testBlob))
	}
	if bytes.Equal(body, testBlob) {
		t.Error("body equals the upstream blob, expected corrupted bytes")
	}
	differences := 0
	for i := range body {
		if body[i] != testBlob[i] {
			differences++
		}
	}
	// Corrupt flips one byte per started 32 KiB chunk, and 100 KiB spans four.
	if differences != 4 {
		t.Errorf("%d bytes differ, expected 4", differences)
	}
}

func TestProxySlow(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Fault: Slow})
	p.SetSlowDelay(20 * time.Millisecond)

	start := time.Now()
	_, body, err := get(t, newClient(t), blobURL(p), nil)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if !bytes.Equal(body, testBlob) {
		t.Error("body differs from the upstream blob")
	}
	// Each of the three full 32 KiB chunks is followed by a delay. The
	// partial fourth chunk ends the body without one.
	if elapsed < 60*time.Millisecond {
		t.Errorf("GET took %v, expected at least 60ms", elapsed)
	}
}

func TestProxyTimes(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Match: BlobGET, Fault: Status500, Times: 2})
	client := newClient(t)

	// A HEAD does not match BlobGET, so it must not use up the budget.
	resp, err := client.Head(blobURL(p))
	if err != nil {
		t.Fatalf("HEAD blob: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD status = %d, expected 200", resp.StatusCode)
	}

	expected := []int{500, 500, 200, 200}
	for i, status := range expected {
		resp, _, err := get(t, client, blobURL(p), nil)
		if err != nil {
			t.Fatalf("GET %d: %v", i+1, err)
		}
		if resp.StatusCode != status {
			t.Errorf("GET %d: status = %d, expected %d", i+1, resp.StatusCode, status)
		}
	}
	if got := up.requests.Load(); got != 3 {
		t.Errorf("upstream served %d requests, expected 3", got)
	}
}

func TestProxySetRules(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL, Rule{Fault: Status500})
	client := newClient(t)

	p.SetRules()
	resp, _, err := get(t, client, blobURL(p), nil)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status after clearing rules = %d, expected 200", resp.StatusCode)
	}
}

func TestProxyRange(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL)

	header := http.Header{"Range": {"bytes=40000-79999"}}
	resp, body, err := get(t, newClient(t), blobURL(p), header)
	if err != nil {
		t.Fatalf("GET blob range: %v", err)
	}
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("status = %d, expected 206", resp.StatusCode)
	}
	expectedRange := fmt.Sprintf("bytes 40000-79999/%d", len(testBlob))
	if got := resp.Header.Get("Content-Range"); got != expectedRange {
		t.Errorf("Content-Range = %q, expected %q", got, expectedRange)
	}
	if !bytes.Equal(body, testBlob[40000:80000]) {
		t.Errorf("body (%d bytes) differs from blob[40000:80000]", len(body))
	}

	logged := lastLogged(t, p)
	if logged.Range != "bytes=40000-79999" {
		t.Errorf("logged Range = %q, expected %q", logged.Range, "bytes=40000-79999")
	}
	if logged.Status != http.StatusPartialContent {
		t.Errorf("logged status = %d, expected 206", logged.Status)
	}
}

func TestProxyLocationRewrite(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL)

	resp, err := newClient(t).Post(p.URL()+"/v2/test/blobs/uploads/", "application/octet-stream", nil)
	if err != nil {
		t.Fatalf("POST upload: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, expected 202", resp.StatusCode)
	}

	location, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("invalid Location %q: %v", resp.Header.Get("Location"), err)
	}
	if location.Host != p.Host() {
		t.Errorf("Location host = %q, expected the proxy %q", location.Host, p.Host())
	}
	if location.Path != "/v2/test/blobs/uploads/session-1" || location.RawQuery != "state=abc" {
		t.Errorf("Location = %q, expected path and query kept", location)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	up := startUpstream(t)
	p := Start(t, up.server.URL)
	up.server.Close()

	resp, _, err := get(t, newClient(t), blobURL(p), nil)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status = %d, expected 502", resp.StatusCode)
	}
}

func TestMatchers(t *testing.T) {
	tests := []struct {
		method, path          string
		blobGET, blobHEAD, mf bool
	}{
		{"GET", "/v2/test/blobs/" + testDigest, true, false, false},
		{"HEAD", "/v2/org/test/blobs/" + testDigest, false, true, false},
		{"GET", "/v2/test/blobs/uploads/session-1", false, false, false},
		{"POST", "/v2/test/blobs/uploads/", false, false, false},
		{"GET", "/v2/test/manifests/latest", false, false, true},
		{"PUT", "/v2/org/test/manifests/" + testDigest, false, false, true},
		{"GET", "/v2/", false, false, false},
	}
	for _, test := range tests {
		r := httptest.NewRequest(test.method, test.path, nil)
		if got := BlobGET(r); got != test.blobGET {
			t.Errorf("BlobGET(%s %s) = %v, expected %v", test.method, test.path, got, test.blobGET)
		}
		if got := BlobHEAD(r); got != test.blobHEAD {
			t.Errorf("BlobHEAD(%s %s) = %v, expected %v", test.method, test.path, got, test.blobHEAD)
		}
		if got := ManifestRequest(r); got != test.mf {
			t.Errorf("ManifestRequest(%s %s) = %v, expected %v", test.method, test.path, got, test.mf)
		}
	}
}

func TestFaultString(t *testing.T) {
	if got := Truncate.String(); got != "Truncate" {
		t.Errorf("Truncate.String() = %q", got)
	}
	if got := Fault(42).String(); !strings.Contains(got, "42") {
		t.Errorf("Fault(42).String() = %q, expected it to contain 42", got)
	}
}

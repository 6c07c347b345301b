package registry

import "testing"

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want Reference
	}{
		{"acme/hello:1.0.0", Reference{Local: true, Repository: "acme/hello", Tag: "1.0.0"}},
		{"hello", Reference{Local: true, Repository: "hello", Tag: "latest"}},
		{"localhost:5000/acme/hello:v2", Reference{Registry: "localhost:5000", Repository: "acme/hello", Tag: "v2"}},
		{"127.0.0.1:5000/hello", Reference{Registry: "127.0.0.1:5000", Repository: "hello", Tag: "latest"}},
		{"ghcr.io/acme/hello@sha256:" + sixtyFourZeros, Reference{Registry: "ghcr.io", Repository: "acme/hello", Digest: "sha256:" + sixtyFourZeros}},
	}
	for _, tt := range tests {
		got, err := ParseReference(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

const sixtyFourZeros = "0000000000000000000000000000000000000000000000000000000000000000"

func TestParseReferenceInvalid(t *testing.T) {
	for _, in := range []string{"", "UPPER/case", "host.io/", "a b"} {
		if _, err := ParseReference(in); err == nil {
			t.Errorf("%q: parsed without error", in)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true,
		"ghcr.io": false, "10.0.0.1:5000": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

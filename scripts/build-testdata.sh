#!/usr/bin/env bash
# Regenerates the committed test binaries in testdata/ from their sources.
#
# Usage: bash scripts/build-testdata.sh   (from any directory)
#
# Outputs, each described in testdata/README.md:
#   testdata/hello-go.wasm          Go program as a WASI command component
#   testdata/data-segments.wasm     every data segment encoding (WAT)
#   testdata/functions-custom.wasm  functions and custom sections (WAT)
#   testdata/padded-leb.wasm        component with 5-byte LEB128 sizes (Go)
#   testdata/custom-placement.wasm  custom sections between known ones (Go)
#   testdata/SHA256SUMS             checksums of the files above
#
# Requirements: Go on PATH or at /usr/local/go/bin, Node and npm. The npm
# tools are pinned in the root package.json and package-lock.json: jco
# 1.35.0 for `jco new` and wabt 1.0.39 for wat2wasm. The script runs
# `npm ci` when node_modules lacks those exact versions.
#
# The script is idempotent: with the same tool versions it writes the same
# bytes on every run. hello-go.wasm also depends on the Go toolchain, and
# the committed file was built with go1.26.8. Another Go version writes a
# different but equally valid file, and the script prints a warning then.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

expected_go=go1.26.8
jco_version=1.35.0
wabt_version=1.0.39

export PATH="$PATH:/usr/local/go/bin"
bin="$repo/node_modules/.bin"

log() {
	printf '==> %s\n' "$*"
}

# Installs the pinned npm tools unless both are already there.
ensure_npm_tools() {
	local have_jco have_wabt
	have_jco=$("$bin/jco" --version 2>/dev/null || true)
	have_wabt=$("$bin/wat2wasm" --version 2>/dev/null || true)
	if [[ "$have_jco" == "$jco_version" && "$have_wabt" == "$wabt_version" ]]; then
		return
	fi

	log "installing pinned npm tools with npm ci"
	npm ci --no-audit --no-fund
}

ensure_npm_tools

go_version=$(go env GOVERSION)
if [[ "$go_version" != "$expected_go" ]]; then
	printf 'warning: Go is %s, not %s; hello-go.wasm will differ from the committed file\n' \
		"$go_version" "$expected_go" >&2
fi

# Everything is built in a scratch directory and copied into testdata/ only
# when every step has succeeded, so a failed run leaves the old files.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "building hello-go core module with $go_version"
# -trimpath and -buildvcs=false keep local paths and the git state out of
# the binary. -s -w drop the symbol table and DWARF, which would otherwise
# be most of the file. CGO_ENABLED=0 and GOFLAGS= shield the build from the
# caller's environment.
(
	cd testdata/src/hello-go
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS= \
		go build -trimpath -buildvcs=false -ldflags='-s -w' -o "$work/hello-go.core.wasm" .
)

log "wrapping hello-go into a WASI command component with jco $jco_version"
"$bin/jco" new "$work/hello-go.core.wasm" --wasi-command -o "$work/hello-go.wasm" >/dev/null

log "assembling WAT sources with wat2wasm $wabt_version"
"$bin/wat2wasm" --enable-multi-memory --enable-memory64 --enable-extended-const \
	testdata/src/wat/data-segments.wat -o "$work/data-segments.wasm"
"$bin/wat2wasm" --enable-annotations --debug-names \
	testdata/src/wat/functions-custom.wat -o "$work/functions-custom.wasm"

log "generating padded-leb.wasm and custom-placement.wasm"
go run ./scripts/gen-testdata -out "$work"

log "validating the outputs"
"$bin/wasm-validate" --enable-multi-memory --enable-memory64 --enable-extended-const \
	"$work/data-segments.wasm"
"$bin/wasm-validate" "$work/functions-custom.wasm"
"$bin/wasm-validate" "$work/custom-placement.wasm"
# jco transpile parses and validates a whole component, including its nested
# core modules. The JavaScript it writes is discarded with the scratch
# directory.
for component in hello-go padded-leb; do
	"$bin/jco" transpile "$work/$component.wasm" -o "$work/transpiled-$component" >/dev/null
done

outputs=(hello-go.wasm data-segments.wasm functions-custom.wasm padded-leb.wasm custom-placement.wasm)
for name in "${outputs[@]}"; do
	cp "$work/$name" "testdata/$name"
done
(
	cd testdata
	sha256sum "${outputs[@]}" >SHA256SUMS
)

log "done"
(
	cd testdata
	ls -l "${outputs[@]}"
)

// Package faultproxy owns a reverse proxy for tests. The proxy listens on
// 127.0.0.1 in front of a test registry, logs every request, and injects
// faults into the requests that its rules match: connection resets, 500 and
// 429 responses, and truncated, corrupted or slow bodies. It is a normal
// package rather than a _test file so that the tests of any package can import
// it, and it rejects upstreams that are not on a loopback address.
package faultproxy

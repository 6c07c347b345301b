// Package transfer owns the network plumbing shared by push and fetch. Its
// retry transport is an http.RoundTripper that retries transient registry
// failures with capped, jittered exponential backoff. Retry repeats whole
// operations for failures that a RoundTripper cannot see, such as a 200
// response whose body is cut off midway. Run processes a list of items with
// bounded parallelism and stops at the first error.
package transfer

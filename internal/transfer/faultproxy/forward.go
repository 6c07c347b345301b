package faultproxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// chunkSize is the unit in which bodies are copied, flushed, slowed down by
// Slow and corrupted by Corrupt.
const chunkSize = 32 << 10

// hopHeaders are the hop-by-hop headers of RFC 9110, section 7.6.1, which a
// proxy must not forward.
var hopHeaders = []string{
	"Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Proxy-Connection",
	"TE",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// forward sends r to the upstream and copies the response back to w, applying
// entry.fault to the body. An upstream error becomes 502 Bad Gateway.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, entry *logEntry) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = p.upstream.Scheme
	out.URL.Host = p.upstream.Host
	out.Host = p.upstream.Host
	removeHopHeaders(out.Header)

	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		entry.setStatus(http.StatusBadGateway)
		http.Error(w, "faultproxy: upstream request failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()

	header := w.Header()
	for name, values := range resp.Header {
		header[name] = append([]string(nil), values...)
	}
	removeHopHeaders(header)
	if location := header.Get("Location"); location != "" {
		header.Set("Location", p.rewriteLocation(location))
	}

	body := io.Reader(resp.Body)
	if entry.fault == Truncate {
		body = p.truncate(header, resp)
	}

	entry.setStatus(resp.StatusCode)
	w.WriteHeader(resp.StatusCode)

	var sink io.Writer = &countingWriter{w: w, entry: entry}
	if entry.fault == Corrupt {
		sink = &corruptingWriter{w: sink}
	}
	var delay time.Duration
	if entry.fault == Slow {
		delay = time.Duration(p.slowDelay.Load())
	}
	if err := copyChunks(r.Context(), w, sink, body, delay); err != nil {
		// The status line is already sent, so aborting the handler is the
		// only way left to tell the client that the body is incomplete.
		panic(http.ErrAbortHandler)
	}

	if entry.fault == Truncate {
		closeAfterFlush(w)
	}
}

// truncate returns a reader for the first half of the upstream body and sets
// Content-Length in header to the full length, so that the client expects
// more bytes than it will get. A body of unknown length is read in full to
// learn its length.
func (p *Proxy) truncate(header http.Header, resp *http.Response) io.Reader {
	length := resp.ContentLength
	var body io.Reader = resp.Body
	if length < 0 {
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		length = int64(len(data))
		body = bytes.NewReader(data)
	}
	header.Set("Content-Length", strconv.FormatInt(length, 10))
	return io.LimitReader(body, length/2)
}

// rewriteLocation points an absolute upstream URL at the proxy, so that a
// client following an upload session keeps going through the proxy. Relative
// and foreign URLs are returned unchanged.
func (p *Proxy) rewriteLocation(location string) string {
	parsed, err := url.Parse(location)
	if err != nil || !parsed.IsAbs() || parsed.Host != p.upstream.Host {
		return location
	}
	parsed.Scheme = "http"
	parsed.Host = p.Host()
	return parsed.String()
}

// copyChunks copies src to sink in chunkSize pieces, flushing w after each and
// then sleeping delay, if positive.
func copyChunks(ctx context.Context, w http.ResponseWriter, sink io.Writer, src io.Reader, delay time.Duration) error {
	controller := http.NewResponseController(w)
	buf := make([]byte, chunkSize)
	for {
		n, readErr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := sink.Write(buf[:n]); err != nil {
				return err
			}
			if err := controller.Flush(); err != nil {
				return err
			}
		}
		if readErr == io.EOF || readErr == io.ErrUnexpectedEOF {
			return nil
		}
		if readErr != nil {
			return readErr
		}
		if delay > 0 {
			if err := sleep(ctx, delay); err != nil {
				return err
			}
		}
	}
}

// closeAfterFlush sends everything written so far and then closes the
// connection with a normal FIN, so the client sees the body end early.
func closeAfterFlush(w http.ResponseWriter) {
	controller := http.NewResponseController(w)
	_ = controller.Flush()
	conn, _, err := controller.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func removeHopHeaders(header http.Header) {
	for _, name := range header.Values("Connection") {
		header.Del(name)
	}
	for _, name := range hopHeaders {
		header.Del(name)
	}
}

// countingWriter adds each write's length to the log entry before writing,
// so that the entry is final by the time the client has read the bytes.
type countingWriter struct {
	w     io.Writer
	entry *logEntry
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.entry.addBytes(int64(len(b)))
	n, err := c.w.Write(b)
	if n < len(b) {
		c.entry.addBytes(int64(n - len(b)))
	}
	return n, err
}

// corruptingWriter inverts the first byte of every chunkSize block of the
// stream, counted from the start of the body. It changes every non-empty
// body and keeps its length. It modifies b in place, which copyChunks allows
// because it refills its buffer before the next write.
type corruptingWriter struct {
	w      io.Writer
	offset int64
}

func (c *corruptingWriter) Write(b []byte) (int, error) {
	for i := range b {
		if (c.offset+int64(i))%chunkSize == 0 {
			b[i] ^= 0xFF
		}
	}
	n, err := c.w.Write(b)
	c.offset += int64(n)
	return n, err
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

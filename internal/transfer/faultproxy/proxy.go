package faultproxy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is a failure that the proxy injects into one request.
type Fault int

// Faults that a Rule can inject.
const (
	None      Fault = iota
	Reset           // close the client connection without a response
	Status500       // respond with 500 without contacting upstream
	Status429       // respond with 429 and Retry-After: 0 without contacting upstream
	Truncate        // forward status and headers, send half the body, then close the connection
	Corrupt         // forward the response with bytes flipped in the body, keeping its length
	Slow            // forward the response, sleeping the SetSlowDelay wait after each 32 KiB of body
)

var faultNames = [...]string{"None", "Reset", "Status500", "Status429", "Truncate", "Corrupt", "Slow"}

// String returns the constant's name, for test failure messages.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// DefaultSlowDelay is the wait after each 32 KiB chunk of a Slow response
// until SetSlowDelay changes it.
const DefaultSlowDelay = 10 * time.Millisecond

// Rule injects Fault into requests that Match accepts.
type Rule struct {
	// Match selects requests. A nil Match accepts every request. The proxy
	// calls it while holding its lock, so it must not call Proxy methods.
	Match func(*http.Request) bool
	Fault Fault
	// Times is how many matching requests get the fault. 0 means every one.
	Times int
}

// Logged is the record of one request that the proxy served.
type Logged struct {
	Method string
	Path   string
	Range  string // the request's Range header, empty if absent
	Status int    // status sent to the client; 0 if the connection was reset
	Fault  Fault
	// BytesSent counts response body bytes handed to the client connection,
	// so for Truncate it is half the upstream body.
	BytesSent int64
}

// Proxy is a reverse proxy on 127.0.0.1 in front of a loopback upstream that
// injects the fault of the first rule matching each request. Rules are tried
// in order, and a rule whose Times are used up is skipped.
type Proxy struct {
	server    *httptest.Server
	upstream  *url.URL
	transport *http.Transport
	slowDelay atomic.Int64 // time.Duration

	mu       sync.Mutex
	rules    []ruleState
	requests []Logged
}

type ruleState struct {
	Rule
	applied int
}

// Start starts a proxy in front of upstream, an http URL such as
// "http://127.0.0.1:5000" whose host must be a loopback address or
// "localhost". It stops the proxy in t.Cleanup.
func Start(t testing.TB, upstream string, rules ...Rule) *Proxy {
	t.Helper()

	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("faultproxy: invalid upstream URL %q: %v", upstream, err)
	}
	if target.Scheme != "http" || target.Host == "" {
		t.Fatalf("faultproxy: invalid upstream URL %q: expected http://host:port", upstream)
	}
	if !isLoopback(target.Hostname()) {
		t.Fatalf("faultproxy: upstream host %q is not a loopback address", target.Hostname())
	}

	p := &Proxy{
		upstream: &url.URL{Scheme: target.Scheme, Host: target.Host},
		transport: &http.Transport{
			// Compression stays off so that bodies, Content-Length and
			// Range offsets pass through exactly as the upstream sent them.
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	p.slowDelay.Store(int64(DefaultSlowDelay))
	p.SetRules(rules...)

	// httptest.NewServer listens on 127.0.0.1 with a random port.
	p.server = httptest.NewServer(p)
	t.Cleanup(func() {
		p.server.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

// Host returns the proxy's "127.0.0.1:port", for use as a registry host.
func (p *Proxy) Host() string {
	return p.server.Listener.Addr().String()
}

// URL returns "http://127.0.0.1:port".
func (p *Proxy) URL() string {
	return p.server.URL
}

// SetRules replaces the rules and restarts their Times counts.
func (p *Proxy) SetRules(rules ...Rule) {
	states := make([]ruleState, len(rules))
	for i, rule := range rules {
		states[i] = ruleState{Rule: rule}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = states
}

// SetSlowDelay sets the wait after each 32 KiB chunk of a Slow response.
func (p *Proxy) SetSlowDelay(d time.Duration) {
	p.slowDelay.Store(int64(d))
}

// Requests returns a copy of the log in arrival order. The proxy updates an
// entry before it writes the matching bytes, so once a client has read a
// whole response, that response's entry is final.
func (p *Proxy) Requests() []Logged {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Logged(nil), p.requests...)
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry := p.begin(r)

	switch entry.fault {
	case Reset:
		resetConnection(w)
	case Status500:
		entry.setStatus(http.StatusInternalServerError)
		http.Error(w, "faultproxy: injected 500", http.StatusInternalServerError)
	case Status429:
		entry.setStatus(http.StatusTooManyRequests)
		w.Header().Set("Retry-After", "0")
		http.Error(w, "faultproxy: injected 429", http.StatusTooManyRequests)
	default:
		p.forward(w, r, entry)
	}
}

// begin picks the fault for r and appends its log entry.
func (p *Proxy) begin(r *http.Request) *logEntry {
	p.mu.Lock()
	defer p.mu.Unlock()

	fault := None
	for i := range p.rules {
		rule := &p.rules[i]
		if rule.Times > 0 && rule.applied >= rule.Times {
			continue
		}
		if rule.Match != nil && !rule.Match(r) {
			continue
		}
		rule.applied++
		fault = rule.Fault
		break
	}

	p.requests = append(p.requests, Logged{
		Method: r.Method,
		Path:   r.URL.Path,
		Range:  r.Header.Get("Range"),
		Fault:  fault,
	})
	return &logEntry{proxy: p, index: len(p.requests) - 1, fault: fault}
}

// logEntry updates one record in Proxy.requests under the proxy's lock.
type logEntry struct {
	proxy *Proxy
	index int
	fault Fault
}

func (e *logEntry) setStatus(status int) {
	e.proxy.mu.Lock()
	defer e.proxy.mu.Unlock()
	e.proxy.requests[e.index].Status = status
}

func (e *logEntry) addBytes(n int64) {
	e.proxy.mu.Lock()
	defer e.proxy.mu.Unlock()
	e.proxy.requests[e.index].BytesSent += n
}

// resetConnection closes the client connection without writing a response.
// Linger 0 makes the kernel send a TCP RST instead of a FIN, so the client reads "connection
// reset by peer" rather than a clean end of stream.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 connections cannot be hijacked, and httptest.NewServer
		// serves only HTTP/1.1, so this path means a broken setup.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

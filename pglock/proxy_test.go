package pglock_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
)

// stallProxy is a TCP proxy to the test server, on 127.0.0.1, that can
// stall as a stuck middlebox does: from then on it forwards nothing, for
// the connections it has and for those it accepts later, and keeps every
// socket open (a client that goes away closes its own side only), so the
// server's TCP keepalives are answered by the proxy's kernel and the server
// sees its sessions as alive. It also keeps the first message of each
// client, the startup message with its parameters.
type stallProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu       sync.Mutex
	stalled  bool
	conns    []net.Conn
	startups [][]byte
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// addr is the proxy's host:port.
func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, u, true)
		go p.pipe(u, c, false)
	}
}

// pipe copies src to dst until the proxy stalls; then it reads and drops
// what src sends, and leaves dst open. Before the stall, an end of src
// ends dst too, as a proxy does.
func (p *stallProxy) pipe(src, dst net.Conn, fromClient bool) {
	defer p.wg.Done()
	if fromClient {
		if msg, err := readStartup(src); err == nil {
			p.mu.Lock()
			p.startups = append(p.startups, msg)
			p.mu.Unlock()
			if !p.isStalled() {
				if _, err := dst.Write(msg); err != nil {
					return
				}
			}
		}
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if p.isStalled() {
			if err != nil {
				return
			}
			continue
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !p.isStalled() {
				dst.Close()
			}
			return
		}
	}
}

// readStartup reads one length-prefixed message (the startup message, or
// an SSL request) from c.
func readStartup(c net.Conn) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 4 || n > 1<<20 {
		return hdr[:], nil
	}
	msg := make([]byte, n)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(c, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// startupParams returns the parameters of the startup messages the proxy
// has seen, in order.
func (p *stallProxy) startupParams() []map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var all []map[string]string
	for _, msg := range p.startups {
		if len(msg) < 8 {
			continue
		}
		params := map[string]string{}
		fields := bytes.Split(msg[8:], []byte{0})
		for i := 0; i+1 < len(fields); i += 2 {
			if len(fields[i]) == 0 {
				break
			}
			params[string(fields[i])] = string(fields[i+1])
		}
		all = append(all, params)
	}
	return all
}

func (p *stallProxy) isStalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// stall stops all forwarding, keeping the sockets open.
func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

package peer

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Headers of a signed request.
const (
	HeaderTimestamp = "X-Meridian-Timestamp"
	HeaderSignature = "X-Meridian-Signature"
	// HeaderNonce is 16 random bytes in hex, new for every request: a node accepts each
	// nonce once, so a request cannot be replayed within the timestamp window.
	HeaderNonce = "X-Meridian-Nonce"
	// HeaderProber names the prober on a plan request, for the node's log (it is not signed).
	HeaderProber = "X-Meridian-Prober"
)

// MaxSkew is how far a request's timestamp may be from the receiver's clock: the replay window.
const MaxSkew = 60 * time.Second

// Paths a node serves the peer API on.
const (
	ObservationsPath = "/api/v1/peer/observations"
	PlanPath         = "/api/v1/peer/plan"
)

// nonceLen is the length of a nonce in bytes; on the wire it is twice as many hex digits.
const nonceLen = 16

// Sign returns the signature of body sent at ts with nonce (the X-Meridian-Nonce header's
// text): hex(HMAC-SHA256(secret, ts + "\n" + nonce + "\n" + body)).
func Sign(secret []byte, ts int64, nonce string, body []byte) string {
	return hex.EncodeToString(mac(secret, strconv.FormatInt(ts, 10), nonce, body))
}

func mac(secret []byte, ts, nonce string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'\n'})
	m.Write([]byte(nonce))
	m.Write([]byte{'\n'})
	m.Write(body)
	return m.Sum(nil)
}

// NewNonce returns a fresh random nonce for HeaderNonce.
func NewNonce() string {
	b := make([]byte, nonceLen)
	rand.Read(b) // never fails (crypto/rand: it crashes the program instead)
	return hex.EncodeToString(b)
}

// sign sets the timestamp, nonce and signature headers of a request carrying body.
func sign(h http.Header, secret []byte, now time.Time, body []byte) {
	ts, nonce := now.Unix(), NewNonce()
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderSignature, Sign(secret, ts, nonce, body))
}

// postSigned POSTs body (JSON) to url, signed with secret at now, and returns an error unless
// the node answers 200: a *statusError for any other answer, with the start of its body.
func postSigned(ctx context.Context, c *http.Client, url string, secret []byte, now time.Time, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	sign(req.Header, secret, now, body)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return &statusError{code: resp.StatusCode, text: fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(msg))}
	}
	return nil
}

// statusError is a node's answer other than 200.
type statusError struct {
	code int
	text string
}

func (e *statusError) Error() string { return e.text }

// nonce is a request's X-Meridian-Nonce, decoded: the replay cache's key.
type nonce [nonceLen]byte

// verify checks a request's headers against body at now and returns its timestamp and nonce,
// for the replay cache; the error says why it is refused. It does not know which nonces were
// used before: the caller asks its replay cache.
func verify(h http.Header, secret []byte, now time.Time, body []byte) (time.Time, nonce, error) {
	sh, err := parseHeaders(h)
	if err != nil {
		return time.Time{}, nonce{}, err
	}
	tsText, nonceText, sig, ts, n := sh.tsText, sh.nonceText, sh.sig, sh.ts, sh.nonce
	if !hmac.Equal(sig, mac(secret, tsText, nonceText, body)) {
		return time.Time{}, nonce{}, errors.New("bad signature")
	}
	// Checked after the signature, so an unsigned request learns nothing about the clock.
	at := time.Unix(ts, 0)
	if ts < -maxUnix || ts > maxUnix {
		return time.Time{}, nonce{}, fmt.Errorf("timestamp %d is out of range", ts)
	}
	if skew := now.Sub(at); skew > MaxSkew || skew < -MaxSkew {
		return time.Time{}, nonce{}, fmt.Errorf("timestamp %d is %v off (allowed ±%v)", ts, skew.Round(time.Second), MaxSkew)
	}
	return at, n, nil
}

// signedHeaders are a request's signature headers, parsed.
type signedHeaders struct {
	tsText, nonceText string
	ts                int64
	nonce             nonce
	sig               []byte
}

// parseHeaders checks that the signature headers are there and well-formed. It needs no body,
// so a receiver refuses a request without them on its head, before reading what it sends.
func parseHeaders(h http.Header) (signedHeaders, error) {
	sh := signedHeaders{tsText: h.Get(HeaderTimestamp), nonceText: h.Get(HeaderNonce)}
	sigText := h.Get(HeaderSignature)
	if sh.tsText == "" || sigText == "" {
		return sh, errors.New("missing timestamp or signature header")
	}
	if sh.nonceText == "" {
		return sh, errors.New("missing nonce header")
	}
	var err error
	if sh.ts, err = strconv.ParseInt(sh.tsText, 10, 64); err != nil {
		return sh, fmt.Errorf("bad timestamp %.32q", sh.tsText)
	}
	if len(sh.nonceText) != 2*nonceLen {
		return sh, fmt.Errorf("nonce is %d characters, want %d hex digits", len(sh.nonceText), 2*nonceLen)
	}
	if _, err := hex.Decode(sh.nonce[:], []byte(sh.nonceText)); err != nil {
		return sh, errors.New("nonce is not hex")
	}
	if sh.sig, err = hex.DecodeString(sigText); err != nil {
		return sh, errors.New("signature is not hex")
	}
	return sh, nil
}

// maxUnix bounds the timestamps verify compares with its clock, so that the difference cannot
// overflow time.Duration (it saturates, but the error would then name a nonsense skew).
const maxUnix = 1 << 40

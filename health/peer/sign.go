package peer

import (
	"bytes"
	"context"
	"crypto/hmac"
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

// Sign returns the signature of body sent at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'\n'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// sign sets the timestamp and signature headers of a request carrying body.
func sign(h http.Header, secret []byte, now time.Time, body []byte) {
	ts := now.Unix()
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(secret, ts, body))
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

// verify checks a request's headers against body; the error says why it is refused.
func verify(h http.Header, secret []byte, now time.Time, body []byte) error {
	tsText, sigText := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if tsText == "" || sigText == "" {
		return errors.New("missing timestamp or signature header")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", tsText)
	}
	sig, err := hex.DecodeString(sigText)
	if err != nil {
		return errors.New("signature is not hex")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(tsText))
	m.Write([]byte{'\n'})
	m.Write(body)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return errors.New("bad signature")
	}
	// Checked after the signature, so an unsigned request learns nothing about the clock.
	if skew := now.Sub(time.Unix(ts, 0)); skew > MaxSkew || skew < -MaxSkew {
		return fmt.Errorf("timestamp %d is %v off (allowed ±%v)", ts, skew.Round(time.Second), MaxSkew)
	}
	return nil
}

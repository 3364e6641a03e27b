package peer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/measure"
)

// fuzzNow is the receivers' clock in the fuzz targets.
var fuzzNow = time.Unix(1_800_000_000, 0)

// fuzzKnown is the node's plan in the fuzz targets: IDs under "a/".
func fuzzKnown(id string) bool { return strings.HasPrefix(id, "a/") }

func fuzzReceiver() *Receiver {
	return NewReceiver(ReceiverOptions{Secret: secret, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return fuzzNow }, Known: fuzzKnown, KnownBackend: fuzzKnown})
}

// FuzzObservationBatch: any correctly signed body gets 200 or 400, never a panic or a 500; a
// 200 is a batch that parses, and records only known targets, each under the batch's prober.
func FuzzObservationBatch(f *testing.F) {
	at := fuzzNow.Add(-time.Second).UTC().Format(time.RFC3339Nano)
	for _, s := range []string{
		`{"prober":"p1","observations":[{"target":"a/127.0.0.1","up":true,"rtt_ns":3000000,"at":"` + at + `"}]}`,
		`{"prober":"p1","region":"eu","observations":[{"target":"a/1","prober":"p1"},{"target":"made-up/1"}]}`,
		`{"prober":"p1","observations":[{"target":"a/1","prober":"p2"}]}`,
		`{"prober":"p1","observations":[{"target":""}]}`,
		`{"prober":"","observations":[]}`,
		`{"prober":"p1","observations":null}`,
		`{"prober":"p1","observations":[{"target":"a/\u0000"}]}`,
		`{"prober":"p1","observations":[{"target":"a/1","at":"9999-12-31T23:59:59Z","rtt_ns":-1}]}`,
		`{"prober":"p1","observations":[{"target":"a/1","at":"0001-01-01T00:00:00Z","rtt_ns":9223372036854775807}]}`,
		`{"prober":"p1"} trailing`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"prober":1e999}`,
		``, `null`, `"x"`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sink := &memSink{got: map[string]health.Observation{}}
		h := http.Header{}
		sign(h, secret, fuzzNow, body)
		rec := send(t, fuzzReceiver().Observations(sink), ObservationsPath, h, body)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			if sink.count() != 0 {
				t.Fatalf("400 after recording %d observations", sink.count())
			}
			return
		default:
			t.Fatalf("signed body answered %d %s, want 200 or 400", rec.Code, rec.Body)
		}
		var b Batch
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("200 to a body that does not parse: %v", err)
		}
		var reply batchReply
		if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
			t.Fatalf("200 body %q: %v", rec.Body, err)
		}
		if reply.Recorded+reply.Rejected != len(b.Observations) {
			t.Errorf("recorded %d + rejected %d, want the batch's %d", reply.Recorded, reply.Rejected, len(b.Observations))
		}
		for id, o := range sink.got {
			if !fuzzKnown(id) || o.Prober != b.Prober || b.Prober == "" || o.At.After(fuzzNow) {
				t.Errorf("recorded %+v from batch of prober %q", o, b.Prober)
			}
		}
	})
}

// feedbackSink keeps the reports a node recorded.
type feedbackSink struct {
	mu  sync.Mutex
	got []measure.Report
}

func (s *feedbackSink) Record(_ context.Context, r measure.Report) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, r)
	return nil
}

// FuzzFeedback: any correctly signed body gets 200 or 400; a 200 records one report that
// passes checkReport and holds only known backends' loads.
func FuzzFeedback(f *testing.F) {
	for _, s := range []string{
		`{"proxy":"fra-1","region":"eu","rtts":[{"prefix":"81.2.69.0/24","rtt_ns":4000000,"samples":9}],"load":[{"id":"a/192.0.2.1","in_flight":17}]}`,
		`{"proxy":"fra-1","region":"eu","rtts":[{"prefix":"2001:db8:1::/48","rtt_ns":1}],"load":[{"id":"made-up","in_flight":1}]}`,
		`{"proxy":"fra-1","rtts":[{"prefix":"81.2.69.0/24","rtt_ns":1}]}`,
		`{"proxy":"fra-1","region":"eu","rtts":[{"prefix":"81.2.0.0/16","rtt_ns":1}]}`,
		`{"proxy":"fra-1","region":"eu","rtts":[{"prefix":"::ffff:81.2.69.0/120","rtt_ns":1}]}`,
		`{"proxy":"fra-1","region":"eu","rtts":[{"prefix":"not a prefix","rtt_ns":1}]}`,
		`{"proxy":"fra-1","load":[{"id":"","in_flight":-1}]}`,
		`{"proxy":"","region":"eu"}`,
		`{"proxy":"x","at":"not a time"}`,
		``, `{}`, `[]`, `{"proxy":"x"}{"proxy":"y"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sink := &feedbackSink{}
		h := http.Header{}
		sign(h, secret, fuzzNow, body)
		rec := send(t, fuzzReceiver().Feedback(sink), FeedbackPath, h, body)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			if len(sink.got) != 0 {
				t.Fatalf("400 after recording a report")
			}
			return
		default:
			t.Fatalf("signed body answered %d %s, want 200 or 400", rec.Code, rec.Body)
		}
		if len(sink.got) != 1 {
			t.Fatalf("200 with %d reports recorded, want 1", len(sink.got))
		}
		rep := sink.got[0]
		if err := checkReport(rep); err != nil {
			t.Errorf("recorded a report checkReport refuses: %v", err)
		}
		for _, l := range rep.Load {
			if !fuzzKnown(l.ID) {
				t.Errorf("recorded the load of unknown backend %q", l.ID)
			}
		}
	})
}

// FuzzSignatureHeaders: verify never panics and accepts only what an independent HMAC says is
// signed, with a 32-hex-digit nonce and a timestamp within the window; with sign set the
// signature is made right, and a well-formed request in the window must then be accepted.
func FuzzSignatureHeaders(f *testing.F) {
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	n := strings.Repeat("ab", nonceLen)
	f.Add(ts, n, "", []byte(`{"prober":"p1"}`), true)
	f.Add(ts, n, Sign(secret, fuzzNow.Unix(), n, nil), []byte(nil), false)
	f.Add(ts, n, Sign([]byte("guess"), fuzzNow.Unix(), n, nil), []byte(nil), false)
	f.Add("+"+ts, strings.ToUpper(n), "", []byte("x"), true)
	f.Add("0"+ts, n, "", []byte("x"), true)
	f.Add(strconv.FormatInt(fuzzNow.Unix()-61, 10), n, "", []byte("x"), true)
	f.Add("99999999999999999999", n, "", []byte("x"), true)
	f.Add("-9223372036854775808", n, "", []byte("x"), true)
	f.Add(ts, n[:31], "", []byte("x"), true)
	f.Add(ts, n[:30]+"zz", "", []byte("x"), true)
	f.Add(ts, "", "", []byte("x"), true)
	f.Add("", n, "abc", []byte("x"), false)
	f.Add(ts, n, "0", []byte("x"), false)
	f.Fuzz(func(t *testing.T, tsText, nonceText, sigText string, body []byte, signIt bool) {
		if signIt {
			sigText = hex.EncodeToString(oracle(secret, tsText, nonceText, body))
		}
		h := http.Header{}
		h.Set(HeaderTimestamp, tsText)
		h.Set(HeaderNonce, nonceText)
		h.Set(HeaderSignature, sigText)
		tsText, nonceText, sigText = h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature)

		at, got, err := verify(h, secret, fuzzNow, body)
		if _, _, werr := verify(h, []byte("not the secret"), fuzzNow, body); werr == nil {
			t.Fatalf("accepted with the wrong secret: ts %q nonce %q sig %q", tsText, nonceText, sigText)
		}
		sec, perr := strconv.ParseInt(tsText, 10, 64)
		raw, nerr := hex.DecodeString(nonceText)
		wellFormed := perr == nil && nerr == nil && len(raw) == nonceLen
		inWindow := wellFormed && sec >= fuzzNow.Unix()-int64(MaxSkew/time.Second) && sec <= fuzzNow.Unix()+int64(MaxSkew/time.Second)
		if err != nil {
			if signIt && inWindow && tsText != "" && sigText != "" {
				t.Fatalf("refused a well-formed, correctly signed request in the window: %v", err)
			}
			return
		}
		sig, serr := hex.DecodeString(sigText)
		if serr != nil || !hmac.Equal(sig, oracle(secret, tsText, nonceText, body)) {
			t.Fatalf("accepted signature %q that is not the HMAC of ts %q nonce %q", sigText, tsText, nonceText)
		}
		if !inWindow {
			t.Fatalf("accepted ts %q nonce %q: not well formed or out of the window", tsText, nonceText)
		}
		if at.Unix() != sec || string(got[:]) != string(raw) {
			t.Fatalf("verify returned %v %x, want %d %x", at, got, sec, raw)
		}
	})
}

// oracle is the signature as the package doc defines it, computed apart from Sign.
func oracle(key []byte, ts, nonce string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "\n" + nonce + "\n"))
	m.Write(body)
	return m.Sum(nil)
}

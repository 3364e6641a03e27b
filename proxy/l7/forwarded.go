package l7

import "strings"

// Forwarding headers added to every request sent to a backend. Existing X-Forwarded-For
// and Forwarded values are kept and this hop appended; X-Forwarded-Proto and
// X-Forwarded-Host are replaced.

// appendXFF appends the X-Forwarded-For value: prior (may be empty), then ip.
func appendXFF(b []byte, prior []byte, ip string) []byte {
	b = append(b, "X-Forwarded-For: "...)
	if len(prior) > 0 {
		b = append(b, prior...)
		b = append(b, ", "...)
	}
	b = append(b, ip...)
	return append(b, "\r\n"...)
}

// appendForwardedElem appends one RFC 7239 forwarded-element: for=IP;proto=P;host=H.
// IPv6 addresses are bracketed and quoted; a value that is not a token is quoted.
func appendForwardedElem(b []byte, ip, proto, host string) []byte {
	b = append(b, "for="...)
	if strings.IndexByte(ip, ':') >= 0 {
		b = append(b, `"[`...)
		b = append(b, ip...)
		b = append(b, `]"`...)
	} else {
		b = appendToken(b, ip)
	}
	b = append(b, ";proto="...)
	b = append(b, proto...)
	if host != "" {
		b = append(b, ";host="...)
		b = appendToken(b, host)
	}
	return b
}

// appendToken appends v as an RFC 7230 token, or as a quoted string when it is not one.
func appendToken(b []byte, v string) []byte {
	if isToken(v) {
		return append(b, v...)
	}
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, v[i])
	}
	return append(b, '"')
}

func isToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

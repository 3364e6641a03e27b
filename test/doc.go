// Package test holds Meridian's end-to-end tests: they build the real meridian binary, start it
// on loopback with configs from testdata/, and query it with the real dig and with miekg/dns.
package test

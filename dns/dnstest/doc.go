// Package dnstest is the vocabulary of Meridian's DNS tests: start a real server on loopback
// port 0, send it queries over UDP or TCP, and build expected records from zone-file text.
package dnstest

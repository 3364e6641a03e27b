// Package dnssec signs a zone's answers online, as they go out: the keys of one
// zone (a CSK, or KSKs and ZSKs, in BIND's key file format), a bounded cache of
// the signatures made per distinct RRset, and the compact denial of existence
// of RFC 9824 ("black lies"): a nonexistent name is answered as a name that
// exists with no data, proven by one NSEC record at the query name whose next
// name is the name's immediate successor (\000.qname) and whose type bitmap
// holds NXNAME. Nothing is precomputed, so no zone can be walked and a
// load-balanced answer, which differs per client, is signed like any other.
package dnssec

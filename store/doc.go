// Package store owns Meridian's data directory: for now the lock that keeps two processes from
// sharing one; the bbolt state store (health, events, overrides) will live here too.
package store

package config

import "net/netip"

// TargetID is the typed identity of one thing whose health Meridian keeps: an endpoint of a
// pool, or a backend listed in a [proxy.NAME] table (or one of its routes). Its String form is
// the key everywhere outside a process — the store, the probers' and proxies' wire formats,
// the API, `meridian drain` — and is only ever made here, never taken apart: code that needs
// to know what a target is keeps the TargetID.
type TargetID struct {
	Pool     string     // an endpoint of this pool …
	Endpoint netip.Addr // … at this address
	Proxy    string     // or a backend of this proxy listener …
	Backend  netip.AddrPort
}

// EndpointTarget is endpoint e of pool p.
func EndpointTarget(p Pool, e Endpoint) TargetID { return TargetID{Pool: p.Name, Endpoint: e.Addr} }

// BackendTarget is the explicit backend at addr of proxy listener name.
func BackendTarget(listener string, addr netip.AddrPort) TargetID {
	return TargetID{Proxy: listener, Backend: addr}
}

// IsBackend says whether t is a proxy listener's explicit backend (not a pool's endpoint).
func (t TargetID) IsBackend() bool { return t.Proxy != "" }

// String is "pool/address" for an endpoint and "proxy/NAME/host:port" for an explicit backend.
func (t TargetID) String() string {
	if t.IsBackend() {
		return "proxy/" + t.Proxy + "/" + t.Backend.String()
	}
	return t.Pool + "/" + t.Endpoint.String()
}

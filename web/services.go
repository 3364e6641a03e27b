package web

import (
	"net/http"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns"
)

// Services is what the API needs from the DNS side: the load-balanced names as served now,
// and the decision for a client, made by the same code as a query's.
type Services interface {
	Services() []dns.ServiceInfo
	Explain(qname string, qtype uint16, client netip.Addr, subnet netip.Prefix) (string, error)
}

func (a *api) registerServices(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/services", a.only("GET", a.services))
	mux.HandleFunc("/api/v1/services/{name}", a.only("GET", a.service))
	mux.HandleFunc("/api/v1/explain", a.only("GET", a.explain))
}

// services: GET /api/v1/services → {"services": [...]}.
func (a *api) services(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"services": a.svc.Services()})
}

// service: GET /api/v1/services/{name} (fully qualified or not, any letter case).
func (a *api) service(w http.ResponseWriter, r *http.Request) {
	name := mdns.Fqdn(strings.ToLower(r.PathValue("name")))
	for _, s := range a.svc.Services() {
		if s.Name == name {
			writeJSON(w, http.StatusOK, s)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no load-balanced name "+name)
}

// explain: GET /api/v1/explain?name=N[&type=A][&client=IP | &subnet=CIDR] → {"explanation": text}.
// On a node it consults the live health state, unlike `meridian explain` on a config file.
func (a *api) explain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		writeError(w, http.StatusBadRequest, "name is required")
		return
	}
	qtype := mdns.TypeA
	if t := q.Get("type"); t != "" {
		v, ok := mdns.StringToType[strings.ToUpper(t)]
		if !ok {
			writeError(w, http.StatusBadRequest, "type "+t+" is not a record type")
			return
		}
		qtype = v
	}
	var (
		client netip.Addr
		subnet netip.Prefix
		err    error
	)
	switch c, s := q.Get("client"), q.Get("subnet"); {
	case c != "" && s != "":
		writeError(w, http.StatusBadRequest, "give client or subnet, not both")
		return
	case c != "":
		if client, err = netip.ParseAddr(c); err != nil {
			writeError(w, http.StatusBadRequest, "client "+c+" is not an IP address")
			return
		}
	case s != "":
		if subnet, err = netip.ParsePrefix(s); err != nil {
			writeError(w, http.StatusBadRequest, "subnet "+s+" is not a CIDR prefix")
			return
		}
	default:
		writeError(w, http.StatusBadRequest, "client or subnet is required")
		return
	}
	out, err := a.svc.Explain(name, qtype, client, subnet)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"explanation": out})
}

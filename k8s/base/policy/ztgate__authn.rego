# Authentication: only callers that ztgate identified get through (401 otherwise), and only by a
# method the route accepts.
#
# Data (data.ztgate.config.authn):
#   methods   the methods accepted on every route: any of "api_key", "jwt", "mtls" (all three when
#             absent)
#   routes    per route, the methods it accepts instead, keyed by "<provider>/<operation>" (the most
#             specific) or "<provider>":
#               {"openai/embeddings": {"methods": ["mtls"]}, "anthropic": {"methods": ["jwt", "mtls"]}}
# A route that accepts no method (an empty list) accepts no caller: fail closed.
package ztgate.authn

import rego.v1

# Identified by a ztgate API key, a JWT that Envoy verified, or a client certificate.
authenticated if input.identity.authenticated == true

deny contains {
	"status": 401,
	"reason": "the caller is not authenticated: present a ztgate API key, a verified JWT or a client certificate",
	"rule": "authn.unauthenticated",
} if not authenticated

# The route as the policy names it: "<provider>/<operation>".
route := concat("/", [input.llm.provider, input.llm.operation]) if {
	is_string(input.llm.provider)
	is_string(input.llm.operation)
}

# The methods this route accepts: its own setting, else its provider's, else every route's.
# (Each value is checked before it is used: regorus's RVM does not fail `x := <undefined>`.)
methods := route_methods if {
	route_methods := data.ztgate.config.authn.routes[route].methods
	is_array(route_methods)
} else := provider_methods if {
	provider_methods := data.ztgate.config.authn.routes[input.llm.provider].methods
	is_array(provider_methods)
} else := all_methods if {
	all_methods := data.ztgate.config.authn.methods
	is_array(all_methods)
} else := ["api_key", "jwt", "mtls"]

# The route's name in reasons.
default route_name := "requests without a route"

route_name := sprintf("%s requests", [route]) if is_string(route)

deny contains {
	"status": 401,
	"reason": sprintf("%s need authentication by one of %v; the caller used %v", [route_name, methods, object.get(input.identity, "method", "none")]),
	"rule": "authn.method",
} if {
	authenticated
	not input.identity.method in methods
}

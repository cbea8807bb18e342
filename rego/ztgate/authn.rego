# Authentication: only callers that ztgate identified get through (401 otherwise).
package ztgate.authn

import rego.v1

# Identified by a ztgate API key, a JWT that Envoy verified, or a client certificate.
authenticated if input.identity.authenticated == true

deny contains {
	"status": 401,
	"reason": "the caller is not authenticated: present a ztgate API key, a verified JWT or a client certificate",
} if not authenticated

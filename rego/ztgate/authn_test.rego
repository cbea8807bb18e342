package ztgate.authn_test

import rego.v1

import data.ztgate.authn

test_authenticated_caller_passes if {
	count(authn.deny) == 0 with input as {"identity": {"authenticated": true, "subject": "alice"}}
}

test_unauthenticated_caller_denied_with_401 if {
	some d in authn.deny with input as {"identity": {"authenticated": false}}
	d.status == 401
	contains(d.reason, "not authenticated")
}

test_missing_identity_denied if {
	count(authn.deny) == 1 with input as {}
}

test_truthy_but_not_true_is_not_authenticated if {
	count(authn.deny) == 1 with input as {"identity": {"authenticated": "yes"}}
}

package ztgate.authn_test

import rego.v1

import data.ztgate.authn

config := {"authn": {
	"methods": ["api_key", "jwt", "mtls"],
	"routes": {
		"openai/embeddings": {"methods": ["mtls"]},
		"anthropic": {"methods": ["jwt", "mtls"]},
		"gemini/list_models": {"methods": []},
	},
}}

caller(method, provider, operation) := {
	"identity": {"authenticated": true, "method": method, "subject": "alice", "groups": []},
	"llm": {"provider": provider, "operation": operation, "model": "m"},
}

test_authenticated_caller_passes if {
	count(authn.deny) == 0 with input as {"identity": {"authenticated": true, "method": "api_key", "subject": "alice"}}
}

test_unauthenticated_caller_denied_with_401 if {
	some d in authn.deny with input as {"identity": {"authenticated": false}}
	d.status == 401
	d.rule == "authn.unauthenticated"
	contains(d.reason, "not authenticated")
}

test_missing_identity_denied if {
	count(authn.deny) == 1 with input as {}
}

test_truthy_but_not_true_is_not_authenticated if {
	count(authn.deny) == 1 with input as {"identity": {"authenticated": "yes"}}
}

test_every_method_accepted_by_default if {
	every method in ["api_key", "jwt", "mtls"] {
		count(authn.deny) == 0 with input as caller(method, "openai", "chat_completions") with data.ztgate.config as {}
	}
}

test_route_accepts_only_its_methods if {
	authn.deny == {{
		"status": 401,
		"reason": `openai/embeddings requests need authentication by one of ["mtls"]; the caller used api_key`,
		"rule": "authn.method",
	}} with input as caller("api_key", "openai", "embeddings")
		with data.ztgate.config as config
	count(authn.deny) == 0 with input as caller("mtls", "openai", "embeddings") with data.ztgate.config as config
	count(authn.deny) == 0 with input as caller("api_key", "openai", "chat_completions") with data.ztgate.config as config
}

test_provider_wide_route_settings if {
	count(authn.deny) == 1 with input as caller("api_key", "anthropic", "messages") with data.ztgate.config as config
	count(authn.deny) == 0 with input as caller("jwt", "anthropic", "messages") with data.ztgate.config as config
}

test_global_methods if {
	count(authn.deny) == 1 with input as caller("api_key", "openai", "chat_completions")
		with data.ztgate.config as {"authn": {"methods": ["jwt"]}}
}

test_route_with_no_method_accepts_nobody if {
	every method in ["api_key", "jwt", "mtls"] {
		count(authn.deny) == 1 with input as caller(method, "gemini", "list_models") with data.ztgate.config as config
	}
}

test_unauthenticated_caller_gets_one_reason if {
	authn.deny == {{
		"status": 401,
		"reason": "the caller is not authenticated: present a ztgate API key, a verified JWT or a client certificate",
		"rule": "authn.unauthenticated",
	}} with input as {"identity": {"authenticated": false, "method": ""}, "llm": caller("", "openai", "embeddings").llm}
		with data.ztgate.config as config
}

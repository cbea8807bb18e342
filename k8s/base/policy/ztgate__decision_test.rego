package ztgate.decision_test

import rego.v1

# These tests name data.ztgate.decision in full rather than `import data.ztgate`: regorus evaluates
# an imported package prefix as a whole document (every package under it, tests included).

config := {
	"tool_policy": "strip",
	"token_cap_mode": "deny",
	"groups": {
		"developers": {"models": ["gpt-4o*", "claude-*"], "tools": ["*"], "max_output_tokens": 8192},
		"interns": {"models": ["gpt-4o-mini"], "tools": [], "max_output_tokens": 1024},
	},
	"content": {"rules": [
		{"detector": "secrets", "action": "block"},
		{"detector": "pii", "types": ["email"], "action": "redact", "mode": "pseudonym"},
	]},
	"tools": {"constraints": {"send_email": {"to": {"domains": ["example.com"]}}}},
	"limits": {"groups": {"interns": [{"window": "day", "tokens": 100000, "per": "identity"}]}},
	"compliance": {"log_content": true, "no_content_logging_groups": ["interns"]},
}

request(groups, model, max_tokens, tools) := {
	"phase": "request",
	"identity": {"authenticated": true, "method": "api_key", "subject": "alice", "groups": groups},
	"llm": {
		"provider": "openai", "operation": "chat_completions", "model": model,
		"max_tokens": max_tokens, "tools": tools, "tool_calls": [],
	},
	"findings": [],
}

response(groups, findings, tool_calls) := object.union(request(groups, "gpt-4o", null, ["search"]), {
	"phase": "response",
	"findings": findings,
	"llm": {"tool_calls": tool_calls},
})

secret := {"detector": "secrets", "type": "github_pat", "severity": "critical", "score": 1}

email := {"detector": "pii", "type": "email", "severity": "medium", "score": 0.9}

test_allowed_request if {
	data.ztgate.decision == {
		"allowed": true,
		"http_status": 200,
		"reasons": [],
		"shadow_reasons": [],
		"tools_remove": [],
		"redactions": [],
		"max_output_tokens": null,
		"log_content": true,
		"limits": [],
		"budget_cutoff": false,
		"model": null,
	} with input as request(["developers"], "gpt-4o", 1000, ["search"])
		with data.ztgate.config as config
}

test_denied_model_gives_403_and_reason if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o", 100, [])
		with data.ztgate.config as config
	d.allowed == false
	d.http_status == 403
	d.reasons == [`model "gpt-4o" is not allowed for groups ["interns"]`]
}

test_unauthenticated_gives_401_and_only_the_authn_reason if {
	d := data.ztgate.decision with input as {"identity": {"authenticated": false, "groups": []}, "llm": request([], "gpt-4o", null, []).llm}
		with data.ztgate.config as config
	d.allowed == false
	d.http_status == 401
	count(d.reasons) == 1
	contains(d.reasons[0], "not authenticated")
}

test_reasons_are_sorted_and_complete if {
	d := data.ztgate.decision with input as request(["interns"], "o3", 5000, [])
		with data.ztgate.config as config
	d.reasons == [
		`max_tokens 5000 exceeds the cap of 1024 output tokens for groups ["interns"]`,
		`model "o3" is not allowed for groups ["interns"]`,
	]
}

test_tools_stripped_cap_written_and_limits_listed if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o-mini", null, ["shell", "search"])
		with data.ztgate.config as config
	d.allowed == true
	d.tools_remove == ["search", "shell"]
	d.max_output_tokens == 1024
	d.limits == [{"name": "group:interns:tokens/day", "scope": "identity", "key": "alice", "window": "day", "tokens": 100000}]
	d.log_content == false
}

test_denied_tool_in_deny_mode if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o-mini", 10, ["shell"])
		with data.ztgate.config as object.union(config, {"tool_policy": "deny"})
	d.allowed == false
	d.http_status == 403
	d.reasons == [`tool "shell" is not allowed for groups ["interns"]`]
}

test_status_401_outranks_others if {
	data.ztgate.http_status == 401 with data.ztgate.enforced as {{"status": 403, "reason": "a"}, {"status": 401, "reason": "b"}}
}

test_status_403_outranks_429 if {
	data.ztgate.http_status == 403 with data.ztgate.enforced as {{"status": 429, "reason": "a"}, {"status": 403, "reason": "b"}}
}

test_other_statuses_take_the_highest if {
	data.ztgate.http_status == 429 with data.ztgate.enforced as {{"status": 400, "reason": "a"}, {"status": 429, "reason": "b"}}
}

test_denied_decision_carries_no_rewrites if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o", null, ["shell"])
		with data.ztgate.config as config
	d.allowed == false
	d.tools_remove == []
	d.max_output_tokens == null
	d.limits == []
	d.redactions == []
}

test_list_models_allowed_without_model if {
	d := data.ztgate.decision with input as {
		"identity": {"authenticated": true, "method": "jwt", "groups": ["interns"]},
		"llm": {"provider": "openai", "operation": "list_models", "model": null, "max_tokens": null, "tools": []},
	}
		with data.ztgate.config as config
	d.allowed == true
}

test_shadow_rule_reports_instead_of_denying if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o", null, [])
		with data.ztgate.config as object.union(config, {"shadow_rules": ["models.not_allowed"]})
	d.allowed == true
	d.reasons == []
	d.shadow_reasons == [`model "gpt-4o" is not allowed for groups ["interns"]`]
	d.max_output_tokens == 1024
}

test_shadow_reasons_kept_beside_enforced_ones if {
	d := data.ztgate.decision with input as request(["interns"], "o3", 5000, [])
		with data.ztgate.config as object.union(config, {"shadow_rules": ["tokens.max_output_tokens"]})
	d.allowed == false
	d.reasons == [`model "o3" is not allowed for groups ["interns"]`]
	d.shadow_reasons == [`max_tokens 5000 exceeds the cap of 1024 output tokens for groups ["interns"]`]
}

test_shadowed_authentication_lets_the_other_rules_judge if {
	d := data.ztgate.decision with input as {"identity": {"authenticated": false, "groups": []}, "llm": request([], "gpt-4o", null, []).llm}
		with data.ztgate.config as object.union(config, {"shadow_rules": ["authn.unauthenticated"]})
	d.allowed == false
	d.http_status == 403
	d.reasons == [`model "gpt-4o" is not allowed for groups []`]
	count(d.shadow_reasons) == 1
}

test_content_block_and_redaction if {
	blocked := data.ztgate.decision with input as object.union(request(["developers"], "gpt-4o", null, []), {"findings": [secret]})
		with data.ztgate.config as config
	blocked.reasons == ["input blocked: github_pat (secrets) found in the response"]
	redacted := data.ztgate.decision with input as object.union(request(["developers"], "gpt-4o", null, []), {"findings": [email]})
		with data.ztgate.config as config
	redacted.allowed == true
	redacted.redactions == [{"detector": "pii", "type": "email", "mode": "pseudonym"}]
}

test_response_phase_judges_only_output_and_tool_calls if {
	# The interns may not use gpt-4o, nor the "search" tool, nor ask for more than 1024 tokens: none
	# of that is judged again on the response.
	d := data.ztgate.decision with input as object.union(response(["interns"], [email], []), {"llm": {"max_tokens": 5000}})
		with data.ztgate.config as object.union(config, {"tool_policy": "deny"})
	d.allowed == true
	d.redactions == [{"detector": "pii", "type": "email", "mode": "pseudonym"}]
	d.tools_remove == []
	d.max_output_tokens == null
	d.limits == []
}

test_response_phase_skips_authentication if {
	inp := object.union(response(["developers"], [], []), {"identity": {"authenticated": false}})
	data.ztgate.decision.allowed with input as inp with data.ztgate.config as config
}

test_response_phase_blocks_output_findings if {
	d := data.ztgate.decision with input as response(["developers"], [secret], [])
		with data.ztgate.config as config
	d.allowed == false
	d.reasons == ["output blocked: github_pat (secrets) found in the response"]
}

test_response_phase_judges_the_models_tool_calls if {
	call := {"name": "send_email", "arguments": {"to": "eve@evil.test"}, "id": "c1", "source": "response"}
	d := data.ztgate.decision with input as response(["developers"], [], [call])
		with data.ztgate.config as config
	d.allowed == false
	d.reasons == [`tool call "send_email": argument "to" holds an address at "evil.test", outside the allowed domains ["example.com"]`]
	stray := {"name": "shell", "arguments": {}, "id": "c2", "source": "response"}
	s := data.ztgate.decision with input as response(["interns"], [], [stray])
		with data.ztgate.config as config
	s.reasons == [`the model called tool "shell", which is not allowed for groups ["interns"]`]
}

test_malformed_limit_fails_closed_with_500 if {
	bad := object.union(config, {"limits": {"groups": {"developers": [{"window": "fortnight", "tokens": 5}]}}})
	d := data.ztgate.decision with input as request(["developers"], "gpt-4o", null, []) with data.ztgate.config as bad
	d.allowed == false
	d.http_status == 500
}

test_shipped_data_interns_denied_gpt_4o if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o", null, [])
	d.reasons == [`model "gpt-4o" is not allowed for groups ["interns"]`]
}

test_shipped_data_allows_a_developer if {
	d := data.ztgate.decision with input as request(["developers"], "gpt-4o", null, ["search"])
	d.allowed == true
	d.shadow_reasons == []
}

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
}

request(groups, model, max_tokens, tools) := {
	"identity": {"authenticated": true, "subject": "alice", "groups": groups},
	"llm": {
		"provider": "openai", "operation": "chat_completions", "model": model,
		"max_tokens": max_tokens, "tools": tools,
	},
}

test_allowed_request if {
	data.ztgate.decision == {
		"allowed": true,
		"http_status": 200,
		"reasons": [],
		"tools_remove": [],
		"redactions": [],
		"max_output_tokens": null,
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

test_tools_stripped_and_cap_written if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o-mini", null, ["shell", "search"])
		with data.ztgate.config as config
	d.allowed == true
	d.tools_remove == ["search", "shell"]
	d.max_output_tokens == 1024
}

test_denied_tool_in_deny_mode if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o-mini", 10, ["shell"])
		with data.ztgate.config as object.union(config, {"tool_policy": "deny"})
	d.allowed == false
	d.http_status == 403
	d.reasons == [`tool "shell" is not allowed for groups ["interns"]`]
}

test_status_401_outranks_others if {
	data.ztgate.http_status == 401 with data.ztgate.denials as {{"status": 403, "reason": "a"}, {"status": 401, "reason": "b"}}
}

test_status_403_outranks_429 if {
	data.ztgate.http_status == 403 with data.ztgate.denials as {{"status": 429, "reason": "a"}, {"status": 403, "reason": "b"}}
}

test_other_statuses_take_the_highest if {
	data.ztgate.http_status == 429 with data.ztgate.denials as {{"status": 400, "reason": "a"}, {"status": 429, "reason": "b"}}
}

test_denied_decision_carries_no_rewrites if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o", null, ["shell"])
		with data.ztgate.config as config
	d.allowed == false
	d.tools_remove == []
	d.max_output_tokens == null
}

test_list_models_allowed_without_model if {
	d := data.ztgate.decision with input as {
		"identity": {"authenticated": true, "groups": ["interns"]},
		"llm": {"provider": "openai", "operation": "list_models", "model": null, "max_tokens": null, "tools": []},
	}
		with data.ztgate.config as config
	d.allowed == true
}

test_shipped_data_interns_denied_gpt_4o if {
	d := data.ztgate.decision with input as request(["interns"], "gpt-4o", null, [])
	d.reasons == [`model "gpt-4o" is not allowed for groups ["interns"]`]
}

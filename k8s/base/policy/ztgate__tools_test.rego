package ztgate.tools_test

import rego.v1

import data.ztgate.tools

config(policy) := {
	"tool_policy": policy,
	"groups": {
		"developers": {"tools": ["*"]},
		"analysts": {"tools": ["search", "calculator", "db_*"]},
		"interns": {"tools": []},
	},
	"identities": {"dana": {"tools": ["send_email"]}},
}

request(groups, names) := {
	"identity": {"authenticated": true, "groups": groups},
	"llm": {"provider": "openai", "operation": "chat_completions", "model": "gpt-4o", "tools": names},
}

test_allowed_tools_pass if {
	inp := request(["analysts"], ["search", "calculator", "db_query"])
	count(tools.deny) == 0 with input as inp with data.ztgate.config as config("deny")
	count(tools.remove) == 0 with input as inp with data.ztgate.config as config("deny")
}

test_star_allows_any_tool if {
	count(tools.deny) == 0 with input as request(["developers"], ["shell", "browser"]) with data.ztgate.config as config("deny")
}

test_deny_mode_names_each_tool if {
	tools.deny == {
		{"status": 403, "reason": `tool "browser" is not allowed for groups ["analysts"]`, "rule": "tools.not_allowed"},
		{"status": 403, "reason": `tool "shell" is not allowed for groups ["analysts"]`, "rule": "tools.not_allowed"},
	} with input as request(["analysts"], ["search", "shell", "browser"])
		with data.ztgate.config as config("deny")
}

test_strip_mode_removes_instead_of_denying if {
	inp := request(["analysts"], ["search", "shell", "browser"])
	count(tools.deny) == 0 with input as inp with data.ztgate.config as config("strip")
	tools.remove == {"shell", "browser"} with input as inp with data.ztgate.config as config("strip")
}

test_empty_allow_list_strips_everything if {
	tools.remove == {"search"} with input as request(["interns"], ["search"]) with data.ztgate.config as config("strip")
}

test_unknown_policy_value_denies if {
	count(tools.deny) == 1 with input as request(["interns"], ["search"]) with data.ztgate.config as config("strp")
}

test_missing_policy_denies if {
	count(tools.deny) == 1 with input as request(["interns"], ["search"])
		with data.ztgate.config as {"groups": {"interns": {"tools": []}}}
}

test_any_group_may_allow if {
	count(tools.deny) == 0 with input as request(["interns", "analysts"], ["search"]) with data.ztgate.config as config("deny")
}

test_no_tools_offered if {
	count(tools.deny) == 0 with input as request(["interns"], []) with data.ztgate.config as config("deny")
}

test_wildcard_pattern_allows_prefix if {
	inp := request(["analysts"], ["db_query", "db_schema", "dbx"])
	tools.remove == {"dbx"} with input as inp with data.ztgate.config as config("strip")
}

test_many_tools_with_star if {
	names := [sprintf("tool_%d", [i]) | some i in numbers.range(1, 40)]
	count(tools.remove) == 0 with input as request(["developers"], names) with data.ztgate.config as config("strip")
}

test_many_tools_stripped if {
	names := [sprintf("tool_%d", [i]) | some i in numbers.range(1, 40)]
	count(tools.remove) == 40 with input as request(["interns"], names) with data.ztgate.config as config("strip")
}

test_non_llm_request_not_judged if {
	count(tools.deny) == 0 with input as {"identity": {"authenticated": true, "groups": []}, "llm": null}
		with data.ztgate.config as config("deny")
}

test_identity_allow_list_adds_to_the_groups if {
	inp := object.union(request(["analysts"], ["search", "send_email"]), {"identity": {"subject": "dana"}})
	count(tools.remove) == 0 with input as inp with data.ztgate.config as config("strip")
	tools.remove == {"send_email"} with input as request(["analysts"], ["search", "send_email"])
		with data.ztgate.config as config("strip")
}

response(groups, offered, calls) := {
	"phase": "response",
	"identity": {"authenticated": true, "subject": "alice", "groups": groups},
	"llm": {
		"provider": "openai", "operation": "chat_completions", "model": "gpt-4o", "tools": offered,
		"tool_calls": [{"name": name, "arguments": {}, "id": "c1", "source": source} | some [name, source] in calls],
	},
}

test_response_call_to_a_disallowed_tool_is_denied_even_in_strip_mode if {
	tools.deny == {{
		"status": 403,
		"reason": `the model called tool "shell", which is not allowed for groups ["analysts"]`,
		"rule": "tools.call_not_allowed",
	}} with input as response(["analysts"], ["search"], [["shell", "response"], ["search", "response"]])
		with data.ztgate.config as config("strip")
}

test_response_phase_does_not_judge_the_offered_tools_again if {
	inp := response(["analysts"], ["search", "shell"], [])
	count(tools.deny) == 0 with input as inp with data.ztgate.config as config("deny")
	count(tools.remove) == 0 with input as inp with data.ztgate.config as config("strip")
}

test_history_calls_are_not_judged_by_the_allow_list if {
	inp := object.union(response(["analysts"], [], [["shell", "request"]]), {"phase": "request"})
	count(tools.deny) == 0 with input as inp with data.ztgate.config as config("deny")
	count(tools.deny) == 0 with input as response(["analysts"], [], [["shell", "request"]])
		with data.ztgate.config as config("deny")
}

test_allowed_response_calls_pass if {
	count(tools.deny) == 0 with input as response(["developers"], [], [["shell", "response"]])
		with data.ztgate.config as config("deny")
	count(tools.deny) == 0 with input as response(["analysts"], [], [["db_query", "response"]])
		with data.ztgate.config as config("deny")
}

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
		{"status": 403, "reason": `tool "browser" is not allowed for groups ["analysts"]`},
		{"status": 403, "reason": `tool "shell" is not allowed for groups ["analysts"]`},
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

package ztgate.models_test

import rego.v1

import data.ztgate.models

config := {
	"groups": {
		"developers": {"models": ["gpt-4o*", "claude-*"], "models_deny": ["gpt-4o-realtime*"]},
		"interns": {"models": ["gpt-4o-mini"]},
		"analysts": {"models": ["gemini-2.0-flash*"]},
		"contractors": {"models": [], "models_deny": ["claude-*"]},
	},
	"identities": {
		"carol": {"models": ["o3*"], "models_deny": ["gpt-4o"]},
	},
	"models": {"deny": ["gpt-4o-2024-05-13", "gpt-4o-realtime-preview*"]},
}

request(groups, model) := {
	"identity": {"authenticated": true, "subject": "alice", "groups": groups},
	"llm": {"provider": "openai", "operation": "chat_completions", "model": model},
}

as_carol(groups, model) := object.union(request(groups, model), {"identity": {"subject": "carol"}})

test_exact_model_allowed if {
	count(models.deny) == 0 with input as request(["interns"], "gpt-4o-mini") with data.ztgate.config as config
}

test_model_not_in_list_denied_with_reason if {
	models.deny == {{
		"status": 403,
		"reason": `model "gpt-4o" is not allowed for groups ["interns"]`,
		"rule": "models.not_allowed",
	}} with input as request(["interns"], "gpt-4o")
		with data.ztgate.config as config
}

test_wildcard_allows_prefix if {
	count(models.deny) == 0 with input as request(["developers"], "gpt-4o-2024-08-06") with data.ztgate.config as config
}

test_wildcard_does_not_allow_other_prefix if {
	count(models.deny) == 1 with input as request(["developers"], "gpt-4.1") with data.ztgate.config as config
}

test_any_group_may_allow if {
	count(models.deny) == 0 with input as request(["interns", "analysts"], "gemini-2.0-flash-001")
		with data.ztgate.config as config
}

test_multiple_groups_none_allows if {
	some d in models.deny with input as request(["interns", "analysts"], "claude-3-opus")
		with data.ztgate.config as config
	d.reason == `model "claude-3-opus" is not allowed for groups ["interns", "analysts"]`
}

test_unknown_group_allows_nothing if {
	count(models.deny) == 1 with input as request(["nobody"], "gpt-4o-mini") with data.ztgate.config as config
}

test_no_groups_allows_nothing if {
	count(models.deny) == 1 with input as request([], "gpt-4o-mini") with data.ztgate.config as config
}

test_group_deny_list_beats_its_allow_list if {
	models.deny == {{
		"status": 403,
		"reason": `model "gpt-4o-realtime-preview" is denied by the deny-list of group "developers"`,
		"rule": "models.denied",
	}, {
		"status": 403,
		"reason": `model "gpt-4o-realtime-preview" is denied by the deny-list for everybody`,
		"rule": "models.denied",
	}} with input as request(["developers"], "gpt-4o-realtime-preview")
		with data.ztgate.config as config
}

test_deny_list_of_another_group_beats_an_allow_list if {
	some d in models.deny with input as request(["developers", "contractors"], "claude-sonnet-4-5")
		with data.ztgate.config as config
	d.reason == `model "claude-sonnet-4-5" is denied by the deny-list of group "contractors"`
	count(models.deny) == 1 with input as request(["developers", "contractors"], "claude-sonnet-4-5")
		with data.ztgate.config as config
}

test_global_deny_list_beats_every_allow_list if {
	count(models.deny) == 1 with input as request(["developers"], "gpt-4o-2024-05-13") with data.ztgate.config as config
	count(models.deny) == 0 with input as request(["developers"], "gpt-4o-2024-08-06") with data.ztgate.config as config
}

test_identity_allow_list if {
	count(models.deny) == 0 with input as as_carol(["interns"], "o3-mini") with data.ztgate.config as config
	count(models.deny) == 1 with input as request(["interns"], "o3-mini") with data.ztgate.config as config
}

test_identity_deny_list_beats_group_allow_list if {
	models.deny == {{
		"status": 403,
		"reason": `model "gpt-4o" is denied by the deny-list of "carol"`,
		"rule": "models.denied",
	}} with input as as_carol(["developers"], "gpt-4o")
		with data.ztgate.config as config
}

test_list_models_needs_no_model if {
	count(models.deny) == 0 with input as {
		"identity": {"authenticated": true, "groups": ["interns"]},
		"llm": {"provider": "openai", "operation": "list_models", "model": null},
	}
		with data.ztgate.config as config
}

test_missing_model_denied_with_400 if {
	some d in models.deny with input as request(["developers"], null) with data.ztgate.config as config
	d.status == 400
	d.rule == "models.unnamed"
	contains(d.reason, "names no model")
}

test_non_llm_request_not_judged if {
	count(models.deny) == 0 with input as {"identity": {"authenticated": true, "groups": []}, "llm": null}
		with data.ztgate.config as config
}

test_missing_groups_still_denied_with_a_reason if {
	models.deny == {{
		"status": 403,
		"reason": `model "gpt-4o-mini" is not allowed for groups []`,
		"rule": "models.not_allowed",
	}} with input as {"identity": {"authenticated": true}, "llm": request([], "gpt-4o-mini").llm}
		with data.ztgate.config as config
}

test_missing_config_allows_nothing if {
	count(models.deny) == 1 with input as request(["developers"], "gpt-4o") with data.ztgate.config as {}
}

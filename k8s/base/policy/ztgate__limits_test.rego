package ztgate.limits_test

import rego.v1

import data.ztgate.limits

config := {"limits": {
	"identity": [{"window": "minute", "requests": 60}],
	"groups": {
		"interns": [
			{"window": "day", "tokens": 200000, "per": "identity"},
			{"window": "month", "cost_usd": 250.5, "name": "interns-monthly-spend"},
		],
		"batch": [{"concurrent": 4}],
	},
	"identities": {"alice": [{"window": "hour", "tokens": 1000000}]},
	"models": {
		"o3": [{"window": "minute", "requests": 10}],
		"gpt-4o*": [{"window": "day", "cost_usd": 1000}],
	},
}}

request(subject, groups, model) := {
	"phase": "request",
	"identity": {"authenticated": true, "subject": subject, "groups": groups},
	"llm": {"provider": "openai", "operation": "chat_completions", "model": model},
}

test_limits_from_every_source if {
	limits.limits == {
		{"name": "default:requests/minute", "scope": "identity", "key": "alice", "window": "minute", "requests": 60},
		{"name": "group:interns:tokens/day", "scope": "identity", "key": "alice", "window": "day", "tokens": 200000},
		{"name": "interns-monthly-spend", "scope": "group", "key": "interns", "window": "month", "cost_usd": 250.5},
		{"name": "identity:alice:tokens/hour", "scope": "identity", "key": "alice", "window": "hour", "tokens": 1000000},
		{"name": "model:gpt-4o*:cost_usd/day", "scope": "model", "key": "gpt-4o*", "window": "day", "cost_usd": 1000},
	} with input as request("alice", ["interns"], "gpt-4o-mini")
		with data.ztgate.config as config
	count(limits.deny) == 0 with input as request("alice", ["interns"], "gpt-4o-mini") with data.ztgate.config as config
}

test_exact_model_key if {
	some limit in limits.limits with input as request("bob", [], "o3") with data.ztgate.config as config
	limit.scope == "model"
	limit == {"name": "model:o3:requests/minute", "scope": "model", "key": "o3", "window": "minute", "requests": 10}
}

test_concurrency_needs_no_window if {
	some limit in limits.limits with input as request("bob", ["batch"], "o4") with data.ztgate.config as config
	limit.scope == "group"
	limit == {"name": "group:batch:concurrent/minute", "scope": "group", "key": "batch", "window": "minute", "concurrent": 4}
}

test_anonymous_callers_get_no_identity_limits if {
	count(limits.limits) == 0 with input as {"identity": {"authenticated": false, "subject": "", "groups": []}, "llm": {"model": "o4"}}
		with data.ztgate.config as config
}

test_no_data_no_limits if {
	count(limits.limits) == 0 with input as request("alice", ["interns"], "gpt-4o") with data.ztgate.config as {}
}

test_malformed_entries_fail_closed if {
	bad := {"limits": {"groups": {"g": [
		{"window": "week", "tokens": 10},
		{"window": "day", "tokens": 10, "requests": 5},
		{"window": "day"},
		{"window": "day", "tokens": -1},
		{"window": "day", "tokens": 1.5},
		{"window": "day", "tokens": 10, "per": "team"},
	]}}}
	count(limits.deny) == 6 with input as request("alice", ["g"], "gpt-4o") with data.ztgate.config as bad
	count(limits.limits) == 0 with input as request("alice", ["g"], "gpt-4o") with data.ztgate.config as bad
	denials := limits.deny with input as request("alice", ["g"], "gpt-4o") with data.ztgate.config as bad
	every d in denials {
		d.status == 500
		d.rule == "limits.malformed"
	}
}

test_streams_are_cut_at_their_budget_only_when_asked_and_limited if {
	limits.budget_cutoff with input as request("alice", [], "gpt-4o") with data.ztgate.config as object.union(config, {"limits": object.union(config.limits, {"cut_streams": true})})
	not limits.budget_cutoff with input as request("alice", [], "gpt-4o") with data.ztgate.config as config
	not limits.budget_cutoff with input as request("alice", [], "gpt-4o") with data.ztgate.config as {"limits": {"cut_streams": true}}
}

downgrade_config := {"limits": {"downgrade": {"gpt-4o*": {"to": "gpt-4o-mini", "window": "day", "tokens_over": 50000}}}}

used(tokens) := object.union(request("alice", [], "gpt-4o"), {"usage": {"identity": {"day": {"tokens": tokens}}}})

test_a_heavy_user_is_downgraded_instead_of_refused if {
	limits.model_rewrite == "gpt-4o-mini" with input as used(50001) with data.ztgate.config as downgrade_config
	limits.model_rewrite == null with input as used(10) with data.ztgate.config as downgrade_config
	limits.model_rewrite == null with input as request("alice", [], "gpt-4o") with data.ztgate.config as downgrade_config
	# the cheaper model itself is not rewritten again
	limits.model_rewrite == null with input as object.union(used(90000), {"llm": {"model": "gpt-4o-mini"}}) with data.ztgate.config as downgrade_config
}

test_the_decision_carries_the_downgrade if {
	d := data.ztgate.decision with input as object.union(used(60000), {"identity": {"method": "api_key"}}) with data.ztgate.config as object.union(downgrade_config, {"groups": {}, "models": {"deny": []}, "identities": {"alice": {"models": ["gpt-4o*"]}}})
	d.model == "gpt-4o-mini"
}

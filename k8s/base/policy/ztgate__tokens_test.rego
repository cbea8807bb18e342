package ztgate.tokens_test

import rego.v1

import data.ztgate.tokens

config := {
	"groups": {
		"developers": {"max_output_tokens": 8192},
		"analysts": {"max_output_tokens": 2048},
		"interns": {"max_output_tokens": 1024},
		"unlimited": {},
	},
	"identities": {"build-bot": {"max_output_tokens": 100}, "researcher": {"max_output_tokens": 32000}},
}

clamp_config := object.union(config, {"token_cap_mode": "clamp"})

request(groups, max_tokens) := {
	"identity": {"authenticated": true, "groups": groups},
	"llm": {"provider": "openai", "operation": "chat_completions", "model": "gpt-4o", "max_tokens": max_tokens},
}

test_within_cap_allowed_and_untouched if {
	count(tokens.deny) == 0 with input as request(["analysts"], 1000) with data.ztgate.config as config
	not tokens.max_output_tokens with input as request(["analysts"], 1000) with data.ztgate.config as config
}

test_at_cap_allowed if {
	count(tokens.deny) == 0 with input as request(["analysts"], 2048) with data.ztgate.config as config
}

test_over_cap_denied_with_reason if {
	tokens.deny == {{
		"status": 403,
		"reason": `max_tokens 4000 exceeds the cap of 2048 output tokens for groups ["analysts"]`,
		"rule": "tokens.max_output_tokens",
	}} with input as request(["analysts"], 4000)
		with data.ztgate.config as config
}

test_unset_token_cap_mode_denies if {
	count(tokens.deny) == 1 with input as request(["interns"], 5000) with data.ztgate.config as {"groups": config.groups}
}

test_over_cap_clamped_in_clamp_mode if {
	count(tokens.deny) == 0 with input as request(["analysts"], 4000) with data.ztgate.config as clamp_config
	tokens.max_output_tokens == 2048 with input as request(["analysts"], 4000) with data.ztgate.config as clamp_config
}

test_no_max_tokens_gets_cap_written if {
	count(tokens.deny) == 0 with input as request(["interns"], null) with data.ztgate.config as config
	tokens.max_output_tokens == 1024 with input as request(["interns"], null) with data.ztgate.config as config
}

test_cap_is_max_across_groups if {
	tokens.max_output_tokens == 8192 with input as request(["interns", "developers"], null)
		with data.ztgate.config as config
	count(tokens.deny) == 0 with input as request(["interns", "developers"], 5000) with data.ztgate.config as config
}

test_group_without_cap_leaves_request_alone if {
	count(tokens.deny) == 0 with input as request(["unlimited"], 100000) with data.ztgate.config as config
	not tokens.max_output_tokens with input as request(["unlimited"], null) with data.ztgate.config as config
}

test_embeddings_not_capped if {
	inp := {
		"identity": {"authenticated": true, "groups": ["interns"]},
		"llm": {"provider": "openai", "operation": "embeddings", "model": "text-embedding-3-small", "max_tokens": null},
	}
	count(tokens.deny) == 0 with input as inp with data.ztgate.config as config
	not tokens.max_output_tokens with input as inp with data.ztgate.config as config
}

test_anthropic_messages_capped if {
	inp := {
		"identity": {"authenticated": true, "groups": ["analysts"]},
		"llm": {"provider": "anthropic", "operation": "messages", "model": "claude-3-5-haiku", "max_tokens": 4096},
	}
	count(tokens.deny) == 1 with input as inp with data.ztgate.config as config
}

test_clamp_mode_leaves_small_requests_alone if {
	not tokens.max_output_tokens with input as request(["analysts"], 100) with data.ztgate.config as clamp_config
}

as_subject(subject, groups, max_tokens) := object.union(request(groups, max_tokens), {"identity": {"subject": subject}})

test_identity_cap_replaces_the_groups_cap if {
	count(tokens.deny) == 1 with input as as_subject("build-bot", ["developers"], 500) with data.ztgate.config as config
	tokens.max_output_tokens == 100 with input as as_subject("build-bot", ["developers"], null) with data.ztgate.config as config
	count(tokens.deny) == 0 with input as as_subject("researcher", ["interns"], 20000) with data.ztgate.config as config
}

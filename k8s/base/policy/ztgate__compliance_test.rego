package ztgate.compliance_test

import rego.v1

import data.ztgate.compliance

config := {"compliance": {
	"provider_regions": {"openai": "us", "anthropic": "us", "gemini": "us", "azure_openai": "eu"},
	"groups": {
		"eu_staff": {"regions": ["eu"]},
		"global_staff": {"regions": ["eu", "us"]},
	},
	"log_content": true,
	"no_content_logging_groups": ["hr", "legal"],
}}

request(groups, provider) := {
	"phase": "request",
	"identity": {"authenticated": true, "subject": "alice", "groups": groups},
	"llm": {"provider": provider, "operation": "chat_completions", "model": "gpt-4o"},
}

test_group_restricted_to_a_region if {
	count(compliance.deny) == 0 with input as request(["eu_staff"], "azure_openai") with data.ztgate.config as config
	compliance.deny == {{
		"status": 403,
		"reason": `provider openai processes requests in region us; group "eu_staff" may only use ["eu"]`,
		"rule": "compliance.region",
	}} with input as request(["eu_staff"], "openai")
		with data.ztgate.config as config
}

test_unrestricted_groups_use_any_region if {
	count(compliance.deny) == 0 with input as request(["developers"], "openai") with data.ztgate.config as config
	count(compliance.deny) == 0 with input as request(["global_staff"], "gemini") with data.ztgate.config as config
}

test_restriction_applies_whatever_the_other_groups if {
	count(compliance.deny) == 1 with input as request(["global_staff", "eu_staff"], "anthropic") with data.ztgate.config as config
}

test_provider_without_a_region_fails_closed_for_restricted_groups if {
	some d in compliance.deny with input as request(["eu_staff"], "vllm") with data.ztgate.config as config
	contains(d.reason, "region unknown")
	count(compliance.deny) == 0 with input as request(["developers"], "vllm") with data.ztgate.config as config
}

test_content_logged_only_when_enabled if {
	compliance.log_content with input as request(["developers"], "openai") with data.ztgate.config as config
	not compliance.log_content with input as request(["developers"], "openai") with data.ztgate.config as {}
	not compliance.log_content with input as request(["developers"], "openai")
		with data.ztgate.config as {"compliance": {"log_content": "yes"}}
}

test_no_content_logging_for_listed_groups if {
	not compliance.log_content with input as request(["developers", "hr"], "openai") with data.ztgate.config as config
	not compliance.log_content with input as request(["legal"], "openai") with data.ztgate.config as config
}

test_anonymous_caller_content_follows_the_global_setting if {
	compliance.log_content with input as {"identity": {"authenticated": false, "groups": []}} with data.ztgate.config as config
}

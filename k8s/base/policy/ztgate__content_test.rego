package ztgate.content_test

import rego.v1

import data.ztgate.content

config := {"content": {
	"rules": [
		{"detector": "secrets", "direction": "output", "action": "redact", "mode": "mask"},
		{"detector": "secrets", "action": "block"},
		{"detector": "injection", "min_score": 0.5, "direction": "input", "action": "block"},
		{"detector": "smuggling", "min_severity": "high", "action": "block"},
		{"detector": "pii", "types": ["credit_card", "us_ssn"], "action": "redact", "mode": "mask"},
		{"detector": "pii", "types": ["email"], "action": "redact", "mode": "pseudonym"},
		{"detector": "exfil", "direction": "output", "action": "block"},
	],
	"groups": {"security": [{"detector": "secrets", "action": "allow"}]},
}}

finding(detector, type, severity, score) := {
	"detector": detector, "type": type, "severity": severity, "score": score,
	"location": {"message_index": 1, "role": "user", "part": "text"},
}

request(groups, findings) := {"phase": "request", "identity": {"authenticated": true, "groups": groups}, "findings": findings}

response(groups, findings) := {"phase": "response", "identity": {"authenticated": true, "groups": groups}, "findings": findings}

test_secret_in_prompt_is_blocked_with_type_and_place_but_no_value if {
	denials := content.deny with input as request(["developers"], [finding("secrets", "aws_access_key_id", "critical", 1)])
		with data.ztgate.config as config
	denials == {{
		"status": 403,
		"reason": "input blocked: aws_access_key_id (secrets) found in text of message 1 (user)",
		"rule": "content.block",
	}}
}

test_group_rule_comes_before_the_defaults if {
	count(content.deny) == 0 with input as request(["security"], [finding("secrets", "github_pat", "high", 1)])
		with data.ztgate.config as config
}

test_secret_in_output_is_masked_not_blocked if {
	inp := response(["developers"], [finding("secrets", "openai_api_key", "critical", 1)])
	count(content.deny) == 0 with input as inp with data.ztgate.config as config
	content.redactions == {{"detector": "secrets", "type": "openai_api_key", "mode": "mask"}} with input as inp
		with data.ztgate.config as config
}

test_injection_blocked_only_above_its_score if {
	count(content.deny) == 1 with input as request([], [finding("injection", "instruction_override", "high", 0.9)])
		with data.ztgate.config as config
	count(content.deny) == 0 with input as request([], [finding("injection", "injection_classifier", "medium", 0.3)])
		with data.ztgate.config as config
}

test_smuggling_blocked_from_its_severity if {
	count(content.deny) == 1 with input as request([], [finding("smuggling", "unicode_tags", "high", 1)])
		with data.ztgate.config as config
	count(content.deny) == 0 with input as request([], [finding("smuggling", "zero_width", "low", 1)])
		with data.ztgate.config as config
}

test_pii_redacted_by_type_and_mode if {
	inp := request(["developers"], [
		finding("pii", "email", "medium", 0.9),
		finding("pii", "credit_card", "high", 1),
		finding("pii", "ip_address", "low", 0.6),
	])
	content.redactions == {
		{"detector": "pii", "type": "email", "mode": "pseudonym"},
		{"detector": "pii", "type": "credit_card", "mode": "mask"},
	} with input as inp with data.ztgate.config as config
	count(content.deny) == 0 with input as inp with data.ztgate.config as config
}

test_output_only_rule_ignores_input if {
	count(content.deny) == 0 with input as request([], [finding("exfil", "markdown_image_exfil", "high", 1)])
		with data.ztgate.config as config
	count(content.deny) == 1 with input as response([], [{"detector": "exfil", "type": "markdown_image_exfil", "severity": "high", "score": 1}])
		with data.ztgate.config as config
}

test_no_rules_allows_everything if {
	count(content.deny) == 0 with input as request([], [finding("secrets", "private_key", "critical", 1)])
		with data.ztgate.config as {}
}

shadow_config := {"content": {"rules": [
	{"detector": "pii", "types": ["email"], "action": "block", "shadow": true},
	{"detector": "pii", "types": ["email"], "action": "redact", "mode": "pseudonym"},
]}}

test_shadow_rule_reports_and_decides_nothing if {
	inp := request(["developers"], [finding("pii", "email", "medium", 0.9)])
	content.deny == {{
		"status": 403,
		"reason": "input blocked: email (pii) found in text of message 1 (user)",
		"rule": "content.block",
		"shadow": true,
	}} with input as inp
		with data.ztgate.config as shadow_config
	content.redactions == {{"detector": "pii", "type": "email", "mode": "pseudonym"}} with input as inp
		with data.ztgate.config as shadow_config
}

test_shadow_rule_silent_when_it_does_not_apply if {
	count(content.deny) == 0 with input as request([], [finding("pii", "phone_number", "medium", 0.9)])
		with data.ztgate.config as shadow_config
}

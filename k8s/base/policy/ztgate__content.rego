# Content: what to do about what ztgate's detectors found (input.findings), as data.
#
# data.ztgate.config.content.rules is an ordered list; the first rule that matches a finding decides
# it. A group's own rules (data.ztgate.config.content.groups[g]) come before the defaults, so a group
# can be stricter or more lenient. A rule matches on:
#   detector      "pii" | "secrets" | "injection" | "smuggling" | "topics" | "exfil" (required)
#   types         finding types it covers (all when absent)
#   min_severity  "low" | "medium" | "high" | "critical" (low when absent)
#   min_score     0..1 (0 when absent)
#   direction     "input" (prompts, tool results), "output" (model text) or "both" (when absent)
# and says:
#   action        "block" (deny, naming the finding's type and place, never its value),
#                 "redact" (with mode "mask" | "hash" | "pseudonym"; pseudonyms are restored in
#                 the response, so the user sees real values and the provider never does), "allow".
#   shadow        true: the rule decides nothing; when it would block a finding, that block is
#                 reported in decision.shadow_reasons (to trial a rule on live traffic first)
# A finding no rule matches is allowed. input.phase "request" scans input, "response" scans output.
# Sensitive topics (detector "topics") have their own lists per group: see topics.rego.
package ztgate.content

import rego.v1

import data.ztgate.lib

severity_rank := {"low": 1, "medium": 2, "high": 3, "critical": 4}

# Which text this phase's findings are in: "input" for a request, "output" for a response.
default direction := "input"

direction := "output" if input.phase == "response"

default other_direction := "output"

other_direction := "input" if input.phase == "response"

group_rules := [rule |
	some group in input.identity.groups
	some rule in data.ztgate.config.content.groups[group]
]

all_rules := array.concat(group_rules, object.get(data.ztgate.config, ["content", "rules"], []))

# The rules that can decide this phase's findings, in order: shadow rules only report, and rules
# for the other direction do not apply. Filtered once, however many findings there are.
rules := [rule |
	some rule in all_rules
	not rule.shadow
	not rule.direction == other_direction
]

applies(rule, finding) if {
	rule.detector == finding.detector
	not excluded_type(rule, finding)
	not below_severity(rule, finding)
	not finding.score < rule.min_score
}

below_severity(rule, finding) if severity_rank[finding.severity] < severity_rank[rule.min_severity]

excluded_type(rule, finding) if {
	rule.types
	not finding.type in rule.types
}

# The rule that decides each finding (by its index in input.findings): the first that applies.
decided[i] := rules[min(matching)] if {
	some i, finding in input.findings
	matching := {j |
		some j, rule in rules
		rule.detector == finding.detector # before the call: most rules are for other detectors
		applies(rule, finding)
	}
	count(matching) > 0
}

deny contains {
	"status": 403,
	"reason": sprintf("%s blocked: %s (%s) found in %s", [direction, finding.type, finding.detector, lib.where(finding)]),
	"rule": "content.block",
} if {
	some i, finding in input.findings
	decided[i].action == "block"
}

# What a shadow rule would have blocked.
deny contains {
	"status": 403,
	"reason": sprintf("%s blocked: %s (%s) found in %s", [direction, finding.type, finding.detector, lib.where(finding)]),
	"rule": "content.block",
	"shadow": true,
} if {
	some finding in input.findings
	some rule in all_rules
	rule.shadow == true
	rule.detector == finding.detector
	rule.action == "block"
	not rule.direction == other_direction
	applies(rule, finding)
}

redactions contains {"detector": finding.detector, "type": finding.type, "mode": object.get(decided[i], "mode", "mask")} if {
	some i, finding in input.findings
	decided[i].action == "redact"
}

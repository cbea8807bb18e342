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
# A finding no rule matches is allowed. input.phase "request" scans input, "response" scans output.
package ztgate.content

import rego.v1

severity_rank := {"low": 1, "medium": 2, "high": 3, "critical": 4}

direction := "output" if input.phase == "response"

default direction := "input"

group_rules := [rule |
	some group in input.identity.groups
	some rule in object.get(data.ztgate.config, ["content", "groups", group], [])
]

rules := array.concat(group_rules, object.get(data.ztgate.config, ["content", "rules"], []))

applies(rule, finding) if {
	rule.detector == finding.detector
	object.get(rule, "direction", "both") in {direction, "both"}
	not excluded_type(rule, finding)
	severity_rank[finding.severity] >= severity_rank[object.get(rule, "min_severity", "low")]
	finding.score >= object.get(rule, "min_score", 0)
}

excluded_type(rule, finding) if {
	rule.types
	not finding.type in rule.types
}

# The rule that decides a finding: the first that applies.
decides(finding) := rules[min(matching)] if {
	matching := {i | some i, rule in rules; applies(rule, finding)}
	count(matching) > 0
}

where(finding) := sprintf("%s of message %d (%s)", [finding.location.part, finding.location.message_index, finding.location.role]) if {
	finding.location
} else := "the response"

deny contains {"status": 403, "reason": reason} if {
	some finding in input.findings
	decides(finding).action == "block"
	reason := sprintf("%s blocked: %s (%s) found in %s", [direction, finding.type, finding.detector, where(finding)])
}

redactions contains {"detector": finding.detector, "type": finding.type, "mode": object.get(rule, "mode", "mask")} if {
	some finding in input.findings
	rule := decides(finding)
	rule.action == "redact"
}

# Helpers shared by the concern packages.
#
# A note on speed: the embedded engine (regorus) pays about a microsecond for every builtin call,
# rule reference and data lookup, and the decision runs on every request. The concern packages
# therefore read input and data directly in rule bodies, look data up by key (a group, a subject, a
# tool, a topic) instead of scanning lists, and use the helpers below mostly in the heads of
# denials, which are evaluated only when something is denied.
package ztgate.lib

import rego.v1

# The caller's groups, for messages; [] when the input has none, so a message is never undefined
# (an undefined message would silently drop the denial).
default groups := []

groups := input.identity.groups if is_array(input.identity.groups)

# The caller's subject, for messages and per-identity data ("" for an anonymous caller).
default subject := ""

subject := input.identity.subject if is_string(input.identity.subject)

# True when the policy decides the model's output (input.phase "response"); a request otherwise.
response if input.phase == "response"

# Which text a finding was found in: "input" (prompts, tool results) or "output" (model text).
default direction := "input"

direction := "output" if response

# Where a finding sits, for reasons: never the matched value. A top-level system prompt (Anthropic
# "system", Gemini "systemInstruction", Responses "instructions") has message_index -1.
where(finding) := sprintf("%s of the system prompt", [finding.location.part]) if {
	finding.location.message_index == -1
} else := sprintf("%s of message %d (%s)", [finding.location.part, finding.location.message_index, finding.location.role]) if {
	finding.location
} else := "the response"

# True when name matches one of the patterns: an exact name, or a pattern ending in "*" that
# matches every name starting with what comes before it ("gpt-4o*", "db_*"; "*" alone matches all).
matches(name, patterns) if name in patterns

matches(name, patterns) if {
	is_string(name)
	some pattern in patterns
	endswith(pattern, "*")
	startswith(name, trim_suffix(pattern, "*"))
}

# Tools: each group has an allow-list of tool (function) names in data.ztgate.config.groups[g].tools
# ("*" allows any tool; a trailing "*" is a wildcard, as for models). Tools offered to the model that
# none of the caller's groups allows are, per data.ztgate.config.tool_policy, either denied with a
# reason naming each ("deny", the default) or removed from the request ("strip").
package ztgate.tools

import rego.v1

import data.ztgate.lib

# "deny" unless the data says "strip": an unknown value fails closed.
default action := "deny"

action := "strip" if data.ztgate.config.tool_policy == "strip"

# Every tool name or pattern the caller's groups allow.
patterns := {pattern |
	some group in input.identity.groups
	some pattern in data.ztgate.config.groups[group].tools
}

# What comes before the "*" of each wildcard pattern.
prefixes := {prefix |
	some pattern in patterns
	prefix := trim_suffix(pattern, "*")
	prefix != pattern
}

offered := {name | some name in input.llm.tools}

# Offered tools the caller may not use. Agents offer dozens of tools, so this works on sets and
# skips the per-tool prefix check when it cannot change the answer.
disallowed := set() if {
	"*" in patterns
} else := offered - patterns if {
	count(prefixes) == 0
} else := {name |
	some name in offered - patterns
	not strings.any_prefix_match(name, prefixes)
}

deny contains {
	"status": 403,
	"reason": sprintf("tool %q is not allowed for groups %v", [name, lib.groups]),
} if {
	action == "deny"
	some name in disallowed
}

# Tools the gateway removes from the request.
default remove := set()

remove := disallowed if action == "strip"

# Tools: which tools (functions) a caller may offer to the model, and which the model may call.
#
#   data.ztgate.config.groups[g].tools      a group's allow-list of tool names
#   data.ztgate.config.identities[s].tools  one caller's own allow-list
#   data.ztgate.config.tool_policy          "deny" (the default) or "strip"
#
# "*" allows any tool; a trailing "*" is a wildcard, as for models. A caller may use a tool that any
# of their groups, or their own entry, allows. In a request, offered tools that nothing allows are,
# per tool_policy, either denied with a reason naming each ("deny") or removed from the request
# ("strip"). In a response (input.phase "response"), a call the model made to a tool that nothing
# allows is denied, whatever tool_policy says: the client must never run it. Argument constraints
# on tool calls are in tool_args.rego.
package ztgate.tools

import rego.v1

import data.ztgate.lib

# "deny" unless the data says "strip": an unknown value fails closed.
default action := "deny"

action := "strip" if data.ztgate.config.tool_policy == "strip"

# Every tool name or pattern the caller's groups allow, and their own entry.
group_patterns := {pattern |
	some group in input.identity.groups
	some pattern in data.ztgate.config.groups[group].tools
}

patterns := group_patterns | {pattern | some pattern in own} if {
	own := data.ztgate.config.identities[input.identity.subject].tools
	is_array(own) # checked before use: regorus's RVM does not fail `x := <undefined>`
} else := group_patterns

# What comes before the "*" of each wildcard pattern.
prefixes := {prefix |
	some pattern in patterns
	prefix := trim_suffix(pattern, "*")
	prefix != pattern
}

# The names among `names` that the caller may not use. Agents offer dozens of tools, so this works
# on sets and skips the per-tool prefix check when it cannot change the answer.
not_allowed(names) := set() if {
	"*" in patterns
} else := names - patterns if {
	count(prefixes) == 0
} else := {name |
	some name in names - patterns
	not strings.any_prefix_match(name, prefixes)
}

# Request: the tools offered to the model that the caller may not use.
disallowed := not_allowed({name | some name in input.llm.tools}) if not input.phase == "response"

deny contains {
	"status": 403,
	"reason": sprintf("tool %q is not allowed for groups %v", [name, lib.groups]),
	"rule": "tools.not_allowed",
} if {
	action == "deny"
	some name in disallowed
}

# Tools the gateway removes from the request.
default remove := set()

remove := disallowed if action == "strip"

# Response: calls the model made (input.llm.tool_calls with source "response") to tools the caller
# may not use.
called := {call.name |
	some call in input.llm.tool_calls
	call.source == "response"
}

deny contains {
	"status": 403,
	"reason": sprintf("the model called tool %q, which is not allowed for groups %v", [name, lib.groups]),
	"rule": "tools.call_not_allowed",
} if {
	input.phase == "response"
	some name in not_allowed(called)
}

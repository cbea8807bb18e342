# Tool arguments: constraints on the arguments of tool calls, as data.
#
# input.llm.tool_calls lists the tool calls of the exchange: {"name", "arguments" (an object, or null
# when the arguments are not valid JSON), "id", "source"}. A request judges the calls in the
# assistant history the client sent (source "request"); a response judges the calls the model made
# (source "response", input.phase "response").
#
# data.ztgate.config.tools.constraints[tool][argument] holds the checks for one argument; an
# argument is a top-level key of the arguments or a dotted path into nested objects
# ("recipient.address"). Every check must hold:
#   required    true: the argument must be present (and not null)
#   domains     e-mail domains the argument's addresses may use ("example.com"; "*.example.com" also
#               allows its subdomains). The argument is an address, "Name <address>", a list of
#               them, or several separated by "," or ";".
#   values      the values the argument may take (for a list: every item)
#   max_length  the most characters a string may have (for a list: every item)
#   max_items   the most items a list may have
#   pattern     a regular expression (RE2) every string must match; anchor it (^...$) to match
#               the whole value
# Checks other than required apply only when the argument is present. A call whose arguments are
# not valid JSON is denied when its tool has constraints (they cannot be checked), and so is a check
# this file does not know (a typo in the data must not silently allow).
package ztgate.tool_args

import rego.v1

# Which calls this phase judges.
default source := "request"

source := "response" if input.phase == "response"

known_checks := {"required", "domains", "values", "max_length", "max_items", "pattern"}

deny contains {
	"status": 403,
	"reason": sprintf("tool call %q: argument %q %s", [call.name, argument, problem]),
	"rule": "tool_args.constraint",
} if {
	some call in input.llm.tool_calls
	call.source == source
	checks := data.ztgate.config.tools.constraints[call.name] # a lookup: unconstrained tools cost nothing
	is_object(checks) # checked before use: regorus's RVM does not fail `x := <undefined>`
	is_object(call.arguments)
	some argument, check in checks
	some problem in problems(object.get(call.arguments, split(argument, "."), null), check)
}

deny contains {
	"status": 403,
	"reason": sprintf("tool call %q: the arguments are not a JSON object, so the tool's constraints cannot be checked", [call.name]),
	"rule": "tool_args.invalid_arguments",
} if {
	some call in input.llm.tool_calls
	call.source == source
	data.ztgate.config.tools.constraints[call.name]
	not is_object(call.arguments)
}

# What is wrong with one argument's value under one argument's checks (empty when nothing is).
problems(value, check) := (((((required(value, check) | domains(value, check)) | values(value, check)) | max_length(value, check)) | max_items(value, check)) | pattern(value, check)) | unknown(check)

# A value as a list of items: a list is its items, anything else one item.
items(value) := value if {
	is_array(value)
} else := [value]

required(value, check) := {"is required"} if {
	check.required == true
	value == null
} else := set()

domains(value, check) := {problem |
	value != null
	allowed := check.domains
	is_array(allowed)
	some item in items(value)
	some problem in address_problems(item, allowed)
}

address_problems(item, allowed) := {sprintf("holds %v, which is not an e-mail address", [item])} if {
	not is_string(item)
} else := {problem |
	some address in regex.split(`[,;]`, item)
	trim_space(address) != ""
	problem := address_problem(trim_space(address), allowed)
}

address_problem(address, allowed) := sprintf("holds %q, which is not an e-mail address", [address]) if {
	not contains(address, "@")
} else := sprintf("holds an address at %q, outside the allowed domains %v", [domain, allowed]) if {
	parts := split(address, "@")
	domain := lower(trim_space(trim_suffix(parts[count(parts) - 1], ">")))
	not domain_allowed(domain, allowed)
}

domain_allowed(domain, allowed) if {
	some entry in allowed
	lower(entry) == domain
}

domain_allowed(domain, allowed) if {
	some entry in allowed
	startswith(entry, "*.")
	endswith(domain, lower(trim_prefix(entry, "*")))
}

values(value, check) := {sprintf("may not be %v (allowed: %v)", [item, check.values]) |
	value != null
	is_array(check.values)
	some item in items(value)
	not item in check.values
}

max_length(value, check) := {sprintf("is longer than %v characters", [check.max_length]) |
	value != null
	is_number(check.max_length)
	some item in items(value)
	is_string(item)
	count(item) > check.max_length
}

max_items(value, check) := {sprintf("has more than %v items", [check.max_items]) |
	is_array(value)
	is_number(check.max_items)
	count(value) > check.max_items
}

pattern(value, check) := {sprintf("does not match %q", [check.pattern]) |
	value != null
	is_string(check.pattern)
	some item in items(value)
	not matches_pattern(item, check.pattern)
}

matches_pattern(item, pattern) if {
	is_string(item)
	regex.match(pattern, item)
}

unknown(check) := {sprintf("has an unknown check %q in the policy data", [name]) |
	some name, _ in check
	not name in known_checks
}

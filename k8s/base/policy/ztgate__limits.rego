# Limits: budgets over time (tokens, requests, cost, concurrency) as data. The policy states the
# numbers that apply to a request in decision.limits; counting and enforcing them is the usage
# stage's job (not yet implemented: today nothing enforces them).
#
#   data.ztgate.config.limits.identity           entries for every authenticated caller, each
#                                                counted on their own (scope "identity")
#   data.ztgate.config.limits.groups[g]          entries for group g: shared by the whole group
#                                                (scope "group"), or with "per": "identity" one
#                                                budget per member (scope "identity")
#   data.ztgate.config.limits.identities[s]      entries for one caller (scope "identity")
#   data.ztgate.config.limits.models[m]          entries for a model, shared by every caller (scope
#                                                "model"); m may end in "*" to cover a family, which
#                                                then shares the budget (the key is m as written)
#
# An entry: {"window": "minute" | "hour" | "day" | "month", exactly one of "tokens", "requests",
# "cost_usd", "concurrent" (a positive number), and optionally "name" and (groups only) "per"}. For
# "concurrent" (requests in flight) the window is not used and may be left out. An entry that is not
# well formed denies every request it would apply to (500): a typo must not lift a limit silently.
#
# decision.limits lists {"name", "scope", "key", "window", <metric>: n}; "key" is what the budget is
# counted for: the subject, the group or the model (pattern).
package ztgate.limits

import data.ztgate.lib
import rego.v1

windows := {"minute", "hour", "day", "month"}

metrics := {"tokens", "requests", "cost_usd", "concurrent"}

# [declared at, scope, key, entry] for every entry that applies to this request.
# (Values are checked before use: regorus's RVM does not fail `x := <undefined>`.)
entries contains ["default", "identity", input.identity.subject, entry] if {
	input.identity.authenticated == true
	is_string(input.identity.subject)
	some entry in data.ztgate.config.limits.identity
}

entries contains [sprintf("group:%s", [group]), scope, key, entry] if {
	some group in input.identity.groups
	some entry in data.ztgate.config.limits.groups[group]
	[scope, key] := group_scope(entry, group)
}

entries contains [sprintf("identity:%s", [input.identity.subject]), "identity", input.identity.subject, entry] if {
	some entry in data.ztgate.config.limits.identities[input.identity.subject]
}

entries contains [sprintf("model:%s", [input.llm.model]), "model", input.llm.model, entry] if {
	some entry in data.ztgate.config.limits.models[input.llm.model]
}

entries contains [sprintf("model:%s", [pattern]), "model", pattern, entry] if {
	model := input.llm.model
	is_string(model)
	some pattern, model_entries in data.ztgate.config.limits.models
	endswith(pattern, "*")
	startswith(model, trim_suffix(pattern, "*"))
	some entry in model_entries
}

group_scope(entry, group) := ["identity", input.identity.subject] if {
	entry.per == "identity"
	is_string(input.identity.subject)
} else := ["group", group] if {
	object.get(entry, "per", "group") == "group"
}

# The one metric an entry names; counts (all but cost_usd) are whole numbers.
metric(entry) := name if {
	named := [m | some m in metrics; object.get(entry, m, null) != null]
	count(named) == 1
	name := named[0]
	is_number(entry[name])
	entry[name] > 0
	whole_if_count(name, entry[name])
}

whole_if_count("cost_usd", _) := true

whole_if_count(name, value) if {
	name != "cost_usd"
	round(value) == value
}

window(entry) := entry.window if {
	entry.window in windows
} else := "minute" if {
	metric(entry) == "concurrent"
	not entry.window
}

limits contains limit if {
	some [declared, scope, key, entry] in entries
	name := metric(entry)
	is_string(name)
	period := window(entry)
	is_string(period)
	limit := {
		"name": object.get(entry, "name", sprintf("%s:%s/%s", [declared, name, period])),
		"scope": scope,
		"key": key,
		"window": period,
		name: entry[name],
	}
}

deny contains {
	"status": 500,
	"reason": sprintf("policy data: the limit %v of %s is not well formed (it needs a window among %v and exactly one positive number among %v)", [entry, declared, windows, metrics]),
	"rule": "limits.malformed",
} if {
	some [declared, _, _, entry] in entries
	not well_formed(entry)
}

deny contains {
	"status": 500,
	"reason": sprintf(`policy data: the limit %v of %s has "per" %v; use "group" or "identity"`, [entry, group, entry.per]),
	"rule": "limits.malformed",
} if {
	some group in input.identity.groups
	some entry in data.ztgate.config.limits.groups[group]
	not object.get(entry, "per", "group") in {"group", "identity"}
}

well_formed(entry) if {
	is_string(metric(entry))
	is_string(window(entry))
}

# data.ztgate.config.limits.cut_streams: true ends a streamed answer once it passes the output tokens
# reserved for it (the request's max_tokens, the caller's cap, or ztgate's default reserve), with the
# provider's own error event, when any limit applies to the request.
default budget_cutoff := false

budget_cutoff if {
	data.ztgate.config.limits.cut_streams == true
	count(limits) > 0
}

# data.ztgate.config.limits.downgrade[model pattern] = {"to": model, "window": w, "tokens_over": n}:
# once the caller has used more than n tokens in window w (input.usage, the counters ztgate keeps),
# requests for a matching model go to the cheaper one instead of being refused later by a budget.
downgrades := sort([rule.to |
	some pattern, rule in data.ztgate.config.limits.downgrade
	lib.matches(input.llm.model, [pattern])
	is_string(rule.to)
	rule.to != input.llm.model
	is_number(rule.tokens_over)
	is_string(rule.window)
	used := object.get(input, ["usage", "identity", rule.window, "tokens"], 0)
	is_number(used)
	used > rule.tokens_over
])

default model_rewrite := null

model_rewrite := downgrades[0] if count(downgrades) > 0

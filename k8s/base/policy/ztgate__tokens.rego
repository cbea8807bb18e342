# Output tokens: a cap per request on how many tokens the model may write.
#
#   data.ztgate.config.groups[g].max_output_tokens      a group's cap; a caller gets the largest
#                                                       among their groups
#   data.ztgate.config.identities[s].max_output_tokens  one caller's own cap, which replaces the
#                                                       groups' (higher or lower)
#   data.ztgate.config.token_cap_mode                   "deny" (the default) or "clamp"
#
# A request that asks for more than the cap is denied, or clamped to the cap in "clamp" mode. A
# request that says nothing gets the cap written into it by the gateway (decision.max_output_tokens).
# Budgets over time (tokens, requests, cost per minute/hour/day/month) are limits: see limits.rego.
package ztgate.tokens

import rego.v1

import data.ztgate.lib

# "deny" (the default) or "clamp".
default mode := "deny"

mode := data.ztgate.config.token_cap_mode

# Operations whose output a max-tokens field bounds.
capped_operations := {"chat_completions", "responses", "messages", "generate_content"}

# The caller's cap, for operations whose output a max-tokens field bounds; undefined when neither
# their own entry nor any of their groups sets one.
cap := identity_cap if {
	input.llm.operation in capped_operations
	identity_cap := data.ztgate.config.identities[input.identity.subject].max_output_tokens
	is_number(identity_cap)
} else := max(caps) if {
	input.llm.operation in capped_operations
	caps := {group_cap |
		some group in input.identity.groups
		group_cap := data.ztgate.config.groups[group].max_output_tokens
		is_number(group_cap)
	}
	count(caps) > 0
}

deny contains {
	"status": 403,
	"reason": sprintf(
		"max_tokens %v exceeds the cap of %v output tokens for groups %v",
		[input.llm.max_tokens, cap, lib.groups],
	),
	"rule": "tokens.max_output_tokens",
} if {
	is_number(input.llm.max_tokens)
	input.llm.max_tokens > cap
	mode != "clamp"
}

# The cap the gateway writes into the request: when it asks for nothing, or (clamp) for too much.
max_output_tokens := cap if {
	not is_number(input.llm.max_tokens)
} else := cap if {
	mode == "clamp"
	input.llm.max_tokens > cap
}

# Output tokens: a group may cap output tokens (data.ztgate.config.groups[g].max_output_tokens);
# the caller's cap is the largest among their groups. A request that asks for more is denied, or
# clamped to the cap when data.ztgate.config.token_cap_mode is "clamp". A request that says
# nothing gets the cap written into it by the gateway (decision.max_output_tokens).
package ztgate.tokens

import rego.v1

import data.ztgate.lib

# "deny" (the default) or "clamp".
default mode := "deny"

mode := data.ztgate.config.token_cap_mode

# The caller's cap, for operations whose output a max-tokens field bounds; undefined when none of
# their groups sets one.
cap := max(caps) if {
	input.llm.operation in {"chat_completions", "responses", "messages", "generate_content"}
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

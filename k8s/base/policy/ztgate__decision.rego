# The decision ztgate enforces (data.ztgate.decision), assembled from the concern packages.
#
# Each concern package contributes `deny`, a set of {"status": <HTTP status>, "reason": <text>,
# "rule": <rule id>} objects, optionally with "shadow": true; to add a concern, write such a package
# and add its deny set below. A shadow denial is not enforced: its reason goes to
# `shadow_reasons`, so a rule can be trialled on live traffic. Listing a rule id in
# data.ztgate.config.shadow_rules makes every denial of that rule a shadow one.
#
# A request (input.phase "request") is judged by every concern; a response (input.phase
# "response": model output and the tool calls the model made) only by the content, topic and
# tool-call concerns, since the request itself was already allowed.
#
# An allowed decision carries the request changes (tools to remove, an output-token cap, redactions)
# and the limits that apply; a denied one carries every enforced reason, sorted, and one HTTP status.
package ztgate

import rego.v1

response_phase if input.phase == "response"

shadowed(denial) if denial.shadow == true

shadowed(denial) if denial.rule in data.ztgate.config.shadow_rules

authn_enforced := {denial |
	some denial in data.ztgate.authn.deny
	not shadowed(denial)
}

# Concerns that judge a request.
request_denials := ((((((((data.ztgate.authn.deny | data.ztgate.access.deny) | data.ztgate.models.deny) | data.ztgate.tokens.deny) | data.ztgate.limits.deny) | data.ztgate.tools.deny) | data.ztgate.tool_args.deny) | data.ztgate.content.deny) | data.ztgate.topics.deny) | data.ztgate.compliance.deny

# Concerns that judge a response.
response_denials := ((data.ztgate.content.deny | data.ztgate.topics.deny) | data.ztgate.tools.deny) | data.ztgate.tool_args.deny

# Authentication comes first: judging an anonymous caller's model or tools is moot.
denials := authn_enforced if {
	not response_phase
	count(authn_enforced) > 0
} else := response_denials if {
	response_phase
} else := request_denials

enforced := {denial |
	some denial in denials
	not shadowed(denial)
}

shadow_reasons := sort({denial.reason |
	some denial in denials
	shadowed(denial)
})

statuses := {denial.status | some denial in enforced}

# 401 first (an unknown caller cannot be authorised), then 403 (retrying will not help), then the
# highest status another rule gives (for example 429).
default http_status := 403

http_status := 401 if {
	401 in statuses
} else := 403 if {
	403 in statuses
} else := max(statuses) if {
	count(statuses) > 0
}

# Request changes and limits belong to the request phase.
default tools_remove := []

tools_remove := sort(data.ztgate.tools.remove) if not response_phase

default max_output_tokens := null

max_output_tokens := cap if {
	not response_phase
	cap := data.ztgate.tokens.max_output_tokens
	is_number(cap) # checked before use: regorus's RVM does not fail `x := <undefined>`
}

# (not `limits`: that name is the package data.ztgate.limits)
default request_limits := []

request_limits := sort(data.ztgate.limits.limits) if not response_phase

default budget_cutoff := false

budget_cutoff := data.ztgate.limits.budget_cutoff if not response_phase

default model := null

model := rewrite if {
	not response_phase
	rewrite := data.ztgate.limits.model_rewrite
	is_string(rewrite) # checked before use: regorus's RVM does not fail `x := <undefined>`
}

decision := {
	"allowed": true,
	"http_status": 200,
	"reasons": [],
	"shadow_reasons": shadow_reasons,
	"tools_remove": tools_remove,
	"max_output_tokens": max_output_tokens,
	"redactions": sort(data.ztgate.content.redactions),
	"log_content": data.ztgate.compliance.log_content,
	"limits": request_limits,
	"budget_cutoff": budget_cutoff,
	"model": model,
} if {
	count(enforced) == 0
} else := {
	"allowed": false,
	"http_status": http_status,
	"reasons": sort({denial.reason | some denial in enforced}),
	"shadow_reasons": shadow_reasons,
	"tools_remove": [],
	"max_output_tokens": null,
	"redactions": [],
	"log_content": data.ztgate.compliance.log_content,
	"limits": [],
	"budget_cutoff": false,
	"model": null,
}

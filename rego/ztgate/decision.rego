# The decision ztgate enforces (data.ztgate.decision), assembled from the concern packages.
#
# Each concern package contributes `deny`, a set of {"status": <HTTP status>, "reason": <text>}
# objects; to add a concern, write such a package and add its deny set to `denials` below.
# An allowed decision carries the request changes (tools to remove, an output-token cap); a denied
# one carries every reason, sorted, and one HTTP status.
package ztgate

import rego.v1

# Authentication comes first: judging an anonymous caller's model or tools is moot.
denials := data.ztgate.authn.deny if {
	count(data.ztgate.authn.deny) > 0
} else := ((data.ztgate.models.deny | data.ztgate.tokens.deny) | data.ztgate.tools.deny) | data.ztgate.content.deny

statuses := {denial.status | some denial in denials}

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

default max_output_tokens := null

max_output_tokens := data.ztgate.tokens.max_output_tokens

decision := {
	"allowed": true,
	"http_status": 200,
	"reasons": [],
	"tools_remove": sort(data.ztgate.tools.remove),
	"max_output_tokens": max_output_tokens,
	"redactions": sort(data.ztgate.content.redactions),
} if {
	count(denials) == 0
} else := {
	"allowed": false,
	"http_status": http_status,
	"reasons": sort({denial.reason | some denial in denials}),
	"tools_remove": [],
	"max_output_tokens": null,
	"redactions": [],
}

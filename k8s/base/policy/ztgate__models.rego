# Models: who may use which model, as data.
#
#   data.ztgate.config.groups[g].models           the group's allow-list
#   data.ztgate.config.groups[g].models_deny      the group's deny-list
#   data.ztgate.config.identities[s].models       one caller's own allow-list (s: input.identity.subject)
#   data.ztgate.config.identities[s].models_deny  one caller's own deny-list
#   data.ztgate.config.models.deny                a deny-list for everybody
#
# A name ending in "*" matches every model that starts with what comes before it ("gpt-4o*" matches
# "gpt-4o-mini"). A caller may use a model that any of their groups, or their own entry, allows;
# an unknown group allows nothing. Deny-lists beat allow-lists: a model on any deny-list that applies
# to the caller (everybody's, any of their groups', their own) is denied whatever allows it.
# Requests that name no model by design (list_models) are not judged.
package ztgate.models

import rego.v1

import data.ztgate.lib

allowed if {
	some group in input.identity.groups
	input.llm.model in data.ztgate.config.groups[group].models
}

allowed if {
	model := input.llm.model
	is_string(model)
	some group in input.identity.groups
	some pattern in data.ztgate.config.groups[group].models
	prefix := trim_suffix(pattern, "*")
	prefix != pattern # a wildcard pattern
	startswith(model, prefix)
}

allowed if {
	patterns := data.ztgate.config.identities[input.identity.subject].models
	is_array(patterns) # checked before use: regorus's RVM does not fail `x := <undefined>`
	matches(input.llm.model, patterns)
}

# Which deny-lists name the model, for reasons.
denied_by contains "the deny-list for everybody" if {
	patterns := data.ztgate.config.models.deny
	is_array(patterns)
	patterns[0] # skip the call for an empty list
	matches(input.llm.model, patterns)
}

denied_by contains sprintf("the deny-list of group %q", [group]) if {
	some group in input.identity.groups
	patterns := data.ztgate.config.groups[group].models_deny
	is_array(patterns)
	matches(input.llm.model, patterns)
}

denied_by contains sprintf("the deny-list of %q", [input.identity.subject]) if {
	patterns := data.ztgate.config.identities[input.identity.subject].models_deny
	is_array(patterns)
	matches(input.llm.model, patterns)
}

deny contains {
	"status": 403,
	"reason": sprintf("model %q is not allowed for groups %v", [input.llm.model, lib.groups]),
	"rule": "models.not_allowed",
} if {
	is_string(input.llm.model)
	input.llm.operation != "list_models"
	not allowed
}

deny contains {
	"status": 403,
	"reason": sprintf("model %q is denied by %s", [input.llm.model, list]),
	"rule": "models.denied",
} if {
	is_string(input.llm.model)
	input.llm.operation != "list_models"
	some list in denied_by
}

# A request whose model is unknown cannot be checked against the allow-list: fail closed.
deny contains {
	"status": 400,
	"reason": sprintf("the %v request names no model, so the model allow-list cannot be checked", [input.llm.operation]),
	"rule": "models.unnamed",
} if {
	is_object(input.llm)
	input.llm.operation != "list_models"
	not is_string(input.llm.model)
}

# True when the model matches one of the patterns (lib.matches, kept local: a call into another
# package costs more on the hot path).
matches(model, patterns) if model in patterns

matches(model, patterns) if {
	is_string(model)
	some pattern in patterns
	endswith(pattern, "*")
	startswith(model, trim_suffix(pattern, "*"))
}

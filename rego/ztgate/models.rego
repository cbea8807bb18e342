# Models: each group has an allow-list of model names in data.ztgate.config.groups[g].models;
# a name ending in "*" allows every model that starts with what comes before it ("gpt-4o*"
# allows "gpt-4o-mini"). A caller may use a model that any of their groups allows; an unknown
# group allows nothing. Requests that name no model by design (list_models) are not judged.
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

deny contains {
	"status": 403,
	"reason": sprintf("model %q is not allowed for groups %v", [input.llm.model, lib.groups]),
} if {
	is_string(input.llm.model)
	input.llm.operation != "list_models"
	not allowed
}

# A request whose model is unknown cannot be checked against the allow-list: fail closed.
deny contains {
	"status": 400,
	"reason": sprintf("the %v request names no model, so the model allow-list cannot be checked", [input.llm.operation]),
} if {
	is_object(input.llm)
	input.llm.operation != "list_models"
	not is_string(input.llm.model)
}

# Compliance: where a group's requests may be processed, and whether prompts may be logged.
#
#   data.ztgate.config.compliance.provider_regions          provider -> region its traffic is
#                                                           processed in ("openai": "us",
#                                                           "azure_openai": "eu", ...)
#   data.ztgate.config.compliance.groups[g].regions         the regions members of g may use: a
#                                                           provider in another region, or in none
#                                                           that the data names, is denied (403)
#   data.ztgate.config.compliance.log_content               true: the audit line may carry prompt
#                                                           and output text (false when absent)
#   data.ztgate.config.compliance.no_content_logging_groups groups whose prompts are never logged,
#                                                           whatever log_content says
#
# A restriction attached to a group applies to every member, whatever their other groups: a caller
# in two restricted groups may use only the regions both allow.
package ztgate.compliance

import rego.v1

# The region of the request's provider, "unknown" when the data names none.
region := object.get(object.get(data.ztgate.config, ["compliance", "provider_regions"], {}), input.llm.provider, "unknown")

deny contains {
	"status": 403,
	"reason": sprintf("provider %v processes requests in region %v; group %q may only use %v", [input.llm.provider, region, group, regions]),
	"rule": "compliance.region",
} if {
	is_string(input.llm.provider)
	some group in input.identity.groups
	regions := data.ztgate.config.compliance.groups[group].regions
	is_array(regions) # checked before use: regorus's RVM does not fail `x := <undefined>`
	not region in regions
}

# Whether the audit line may carry prompt and output text (decision.log_content).
default log_content := false

log_content if {
	data.ztgate.config.compliance.log_content == true
	not content_logging_forbidden
}

content_logging_forbidden if {
	some group in input.identity.groups
	group in data.ztgate.config.compliance.no_content_logging_groups
}

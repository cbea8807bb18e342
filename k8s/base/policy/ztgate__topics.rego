# Sensitive topics: which of the topics ztgate's topics detector finds are blocked, for whom.
#
# The detector's phrase lists live under data.ztgate.config.detect.topics (one list per topic; the
# topic's name is the finding's type). Which topics are blocked is policy data too:
#   data.ztgate.config.topics.block              topic -> where it is blocked for everybody:
#                                                "input" (prompts, tool results), "output" (model
#                                                text) or "both"
#   data.ztgate.config.topics.groups[g].block    the same, added for members of group g
#   data.ztgate.config.topics.groups[g].allow    topics members of g may discuss: exempt from every
#                                                block above
# A blocked topic denies the request (403), or cuts the answer when found in the output, naming the
# topic and where it was found, never the text.
package ztgate.topics

import rego.v1

import data.ztgate.lib

blocked(topic) if data.ztgate.config.topics.block[topic] in {lib.direction, "both"}

blocked(topic) if {
	some group in input.identity.groups
	data.ztgate.config.topics.groups[group].block[topic] in {lib.direction, "both"}
}

exempt(topic) if {
	some group in input.identity.groups
	topic in data.ztgate.config.topics.groups[group].allow
}

deny contains {
	"status": 403,
	"reason": sprintf("%s blocked: sensitive topic %s found in %s", [lib.direction, finding.type, lib.where(finding)]),
	"rule": "topics.block",
} if {
	some finding in input.findings
	finding.detector == "topics"
	blocked(finding.type)
	not exempt(finding.type)
}

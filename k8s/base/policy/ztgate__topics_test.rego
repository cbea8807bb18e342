package ztgate.topics_test

import rego.v1

import data.ztgate.topics

config := {"topics": {
	"block": {"weapons": "input", "self_harm": "both", "project_names": "output"},
	"groups": {
		"interns": {"block": {"legal_advice": "both", "medical_advice": "input"}},
		"clinicians": {"allow": ["medical_advice", "self_harm"]},
	},
}}

topic(name) := {
	"detector": "topics", "type": name, "severity": "high", "score": 0.9,
	"location": {"message_index": 0, "role": "user", "part": "text"},
}

exchange(phase, groups, findings) := {
	"phase": phase,
	"identity": {"authenticated": true, "subject": "alice", "groups": groups},
	"findings": findings,
}

test_blocked_topic_in_a_prompt if {
	topics.deny == {{
		"status": 403,
		"reason": "input blocked: sensitive topic weapons found in text of message 0 (user)",
		"rule": "topics.block",
	}} with input as exchange("request", ["developers"], [topic("weapons")])
		with data.ztgate.config as config
}

test_direction_of_each_block if {
	count(topics.deny) == 0 with input as exchange("response", [], [topic("weapons")]) with data.ztgate.config as config
	count(topics.deny) == 1 with input as exchange("response", [], [topic("self_harm")]) with data.ztgate.config as config
	count(topics.deny) == 0 with input as exchange("request", [], [topic("project_names")]) with data.ztgate.config as config
	some d in topics.deny with input as exchange("response", [], [{"detector": "topics", "type": "project_names", "severity": "medium", "score": 0.9}])
		with data.ztgate.config as config
	d.reason == "output blocked: sensitive topic project_names found in the response"
}

test_group_adds_its_own_blocks if {
	count(topics.deny) == 1 with input as exchange("request", ["interns"], [topic("legal_advice")]) with data.ztgate.config as config
	count(topics.deny) == 0 with input as exchange("request", ["developers"], [topic("legal_advice")]) with data.ztgate.config as config
	count(topics.deny) == 0 with input as exchange("response", ["interns"], [topic("medical_advice")]) with data.ztgate.config as config
}

test_group_allow_exempts_from_every_block if {
	count(topics.deny) == 0 with input as exchange("request", ["clinicians"], [topic("self_harm")]) with data.ztgate.config as config
	count(topics.deny) == 0 with input as exchange("request", ["interns", "clinicians"], [topic("medical_advice")])
		with data.ztgate.config as config
	count(topics.deny) == 1 with input as exchange("request", ["clinicians"], [topic("weapons")]) with data.ztgate.config as config
}

test_other_detectors_are_not_topics if {
	count(topics.deny) == 0 with input as exchange("request", [], [object.union(topic("weapons"), {"detector": "pii"})])
		with data.ztgate.config as config
}

test_no_data_blocks_nothing if {
	count(topics.deny) == 0 with input as exchange("request", ["interns"], [topic("weapons")]) with data.ztgate.config as {}
}

package ztgate.lib_test

import rego.v1

import data.ztgate.lib

test_groups_of_authenticated_caller if {
	lib.groups == ["a", "b"] with input as {"identity": {"authenticated": true, "groups": ["a", "b"]}}
}

test_groups_empty_without_identity if {
	lib.groups == [] with input as {}
}

test_groups_empty_when_not_a_list if {
	lib.groups == [] with input as {"identity": {"groups": "admins"}}
}

test_subject if {
	lib.subject == "alice" with input as {"identity": {"subject": "alice"}}
	lib.subject == "" with input as {}
}

test_direction_follows_the_phase if {
	lib.direction == "input" with input as {"phase": "request"}
	lib.direction == "output" with input as {"phase": "response"}
	lib.direction == "input" with input as {}
	lib.response with input as {"phase": "response"}
	not lib.response with input as {"phase": "request"}
}

test_where_names_the_part_or_the_response if {
	lib.where({"location": {"part": "text", "message_index": 2, "role": "user"}}) == "text of message 2 (user)"
	lib.where({"detector": "pii"}) == "the response"
	lib.where({"location": {"part": "text", "message_index": -1, "role": "system"}}) == "text of the system prompt"
}

test_matches_exact_and_wildcards if {
	lib.matches("gpt-4o", ["gpt-4o"])
	lib.matches("gpt-4o-mini", ["o3", "gpt-4o*"])
	lib.matches("anything", ["*"])
	not lib.matches("gpt-4.1", ["gpt-4o*"])
	not lib.matches("gpt-4o", [])
	not lib.matches(null, ["*"])
}

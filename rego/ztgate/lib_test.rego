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

package ztgate.access_test

import rego.v1

import data.ztgate.access

config := {"access": {
	"timezone": "Europe/Berlin",
	"groups": {
		"contractors": {
			"networks": ["10.20.0.0/16", "2001:db8::/32"],
			"hours": [{"days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], "from": "08:00", "to": "18:00"}],
		},
		"night_ops": {"hours": [{"days": ["Friday"], "from": "22:00", "to": "06:00", "timezone": "UTC"}]},
		"office": {"networks": ["192.168.0.0/16"]},
	},
	"identities": {"kiosk": {"networks": ["192.168.7.7/32"]}},
}}

# 2026-03-04 was a Wednesday. Berlin is UTC+1 in March (before the switch to summer time).
wednesday_10_berlin := time.parse_rfc3339_ns("2026-03-04T09:00:00Z")

wednesday_19_berlin := time.parse_rfc3339_ns("2026-03-04T18:00:00Z")

saturday_10_berlin := time.parse_rfc3339_ns("2026-03-07T09:00:00Z")

friday_23_utc := time.parse_rfc3339_ns("2026-03-06T23:00:00Z")

saturday_03_utc := time.parse_rfc3339_ns("2026-03-07T03:00:00Z")

saturday_23_utc := time.parse_rfc3339_ns("2026-03-07T23:00:00Z")

sunday_03_utc := time.parse_rfc3339_ns("2026-03-08T03:00:00Z")

request(subject, groups, address) := {
	"phase": "request",
	"attributes": {"source": {"address": {"socketAddress": {"address": address, "portValue": 50000}}}},
	"identity": {"authenticated": true, "subject": subject, "groups": groups},
}

test_unrestricted_caller_passes_from_anywhere if {
	count(access.deny) == 0 with input as request("alice", ["developers"], "203.0.113.9") with data.ztgate.config as config
}

test_group_network if {
	count(access.deny) == 0 with input as request("carl", ["contractors"], "10.20.3.4")
		with data.ztgate.config as config
		with time.now_ns as wednesday_10_berlin
	count(access.deny) == 0 with input as request("carl", ["contractors"], "2001:db8::7")
		with data.ztgate.config as config
		with time.now_ns as wednesday_10_berlin
	access.deny == {{
		"status": 403,
		"reason": `group "contractors" may only call from ["10.20.0.0/16", "2001:db8::/32"], not from 203.0.113.9`,
		"rule": "access.network",
	}} with input as request("carl", ["contractors"], "203.0.113.9")
		with data.ztgate.config as config
		with time.now_ns as wednesday_10_berlin
}

test_every_restriction_must_hold if {
	count(access.deny) == 1 with input as request("olga", ["office", "developers"], "10.20.3.4") with data.ztgate.config as config
	count(access.deny) == 1 with input as request("kiosk", ["office"], "192.168.1.1") with data.ztgate.config as config
	count(access.deny) == 0 with input as request("kiosk", ["office"], "192.168.7.7") with data.ztgate.config as config
}

test_unknown_address_is_denied_when_restricted if {
	some d in access.deny with input as request("olga", ["office"], "") with data.ztgate.config as config
	d.reason == `group "office" may only call from ["192.168.0.0/16"], not from an unknown address`
	count(access.deny) == 1 with input as {"identity": {"authenticated": true, "subject": "olga", "groups": ["office"]}}
		with data.ztgate.config as config
}

test_network_for_every_caller if {
	count(access.deny) == 1 with input as request("alice", [], "203.0.113.9")
		with data.ztgate.config as {"access": {"everyone": {"networks": ["10.0.0.0/8"]}}}
	count(access.deny) == 0 with input as request("alice", [], "10.1.1.1")
		with data.ztgate.config as {"access": {"everyone": {"networks": ["10.0.0.0/8"]}}}
}

test_business_hours_in_the_configured_timezone if {
	count(access.deny) == 0 with input as request("carl", ["contractors"], "10.20.3.4")
		with data.ztgate.config as config
		with time.now_ns as wednesday_10_berlin
	some d in access.deny with input as request("carl", ["contractors"], "10.20.3.4")
		with data.ztgate.config as config
		with time.now_ns as wednesday_19_berlin
	d.rule == "access.hours"
	d.reason == `group "contractors" may only call Monday, Tuesday, Wednesday, Thursday, Friday 08:00-18:00 Europe/Berlin`
	count(access.deny) == 1 with input as request("carl", ["contractors"], "10.20.3.4")
		with data.ztgate.config as config
		with time.now_ns as saturday_10_berlin
}

test_overnight_window_belongs_to_the_day_it_starts if {
	count(access.deny) == 0 with input as request("nina", ["night_ops"], "10.0.0.1")
		with data.ztgate.config as config
		with time.now_ns as friday_23_utc
	count(access.deny) == 0 with input as request("nina", ["night_ops"], "10.0.0.1")
		with data.ztgate.config as config
		with time.now_ns as saturday_03_utc
	count(access.deny) == 1 with input as request("nina", ["night_ops"], "10.0.0.1")
		with data.ztgate.config as config
		with time.now_ns as saturday_23_utc
	count(access.deny) == 1 with input as request("nina", ["night_ops"], "10.0.0.1")
		with data.ztgate.config as config
		with time.now_ns as sunday_03_utc
}

test_hours_for_every_caller_without_days if {
	cfg := {"access": {"everyone": {"hours": [{"from": "06:00", "to": "22:00"}]}}}
	count(access.deny) == 0 with input as request("alice", [], "10.0.0.1") with data.ztgate.config as cfg
		with time.now_ns as saturday_10_berlin
	some d in access.deny with input as request("alice", [], "10.0.0.1") with data.ztgate.config as cfg
		with time.now_ns as saturday_23_utc
	d.reason == "every caller may only call every day 06:00-22:00 UTC"
}

test_empty_network_list_admits_nobody if {
	count(access.deny) == 1 with input as request("alice", ["locked"], "10.0.0.1")
		with data.ztgate.config as {"access": {"groups": {"locked": {"networks": []}}}}
}

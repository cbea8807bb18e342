package ztgate.tool_args_test

import rego.v1

import data.ztgate.tool_args

config := {"tools": {"constraints": {
	"send_email": {
		"to": {"required": true, "domains": ["example.com", "*.example.org"]},
		"cc": {"domains": ["example.com"], "max_items": 3},
		"subject": {"max_length": 20},
	},
	"set_priority": {"level": {"values": ["low", "normal"]}},
	"read_file": {"path": {"pattern": `^/srv/shared/[^.]`}},
	"lookup": {"query.table": {"values": ["orders"]}},
	"typo_tool": {"to": {"domain": ["example.com"]}},
}}}

call(name, arguments, source) := {"name": name, "arguments": arguments, "id": "call_1", "source": source}

request(calls) := {
	"phase": "request",
	"identity": {"authenticated": true, "subject": "alice", "groups": ["developers"]},
	"llm": {"provider": "openai", "operation": "chat_completions", "model": "gpt-4o", "tools": [], "tool_calls": calls},
}

response(calls) := object.union(request(calls), {"phase": "response"})

test_recipient_inside_the_allowed_domain_passes if {
	count(tool_args.deny) == 0 with input as response([call("send_email", {"to": "bob@example.com", "subject": "hi"}, "response")])
		with data.ztgate.config as config
}

test_recipient_outside_the_domain_is_denied if {
	tool_args.deny == {{
		"status": 403,
		"reason": `tool call "send_email": argument "to" holds an address at "evil.test", outside the allowed domains ["example.com", "*.example.org"]`,
		"rule": "tool_args.constraint",
	}} with input as response([call("send_email", {"to": "mallory@evil.test"}, "response")])
		with data.ztgate.config as config
}

test_every_address_of_a_list_or_separated_string_is_checked if {
	count(tool_args.deny) == 1 with input as response([call("send_email", {"to": ["bob@example.com", "eve@evil.test"]}, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 1 with input as response([call("send_email", {"to": "bob@example.com; Eve <eve@evil.test>"}, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 0 with input as response([call("send_email", {"to": "Bob <BOB@Example.COM>, ann@mail.example.org"}, "response")])
		with data.ztgate.config as config
}

test_subdomain_wildcard_does_not_allow_lookalikes if {
	count(tool_args.deny) == 1 with input as response([call("send_email", {"to": "x@example.org.evil.test"}, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 1 with input as response([call("send_email", {"to": "x@notexample.org"}, "response")])
		with data.ztgate.config as config
}

test_not_an_address if {
	some d in tool_args.deny with input as response([call("send_email", {"to": "bob"}, "response")])
		with data.ztgate.config as config
	d.reason == `tool call "send_email": argument "to" holds "bob", which is not an e-mail address`
	count(tool_args.deny) == 1 with input as response([call("send_email", {"to": [42]}, "response")])
		with data.ztgate.config as config
}

test_required_argument if {
	some d in tool_args.deny with input as response([call("send_email", {"subject": "hi"}, "response")])
		with data.ztgate.config as config
	d.reason == `tool call "send_email": argument "to" is required`
}

test_max_items_and_max_length if {
	inp := response([call("send_email", {
		"to": "bob@example.com",
		"cc": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
		"subject": "a subject that is far too long",
	}, "response")])
	{d.reason | some d in tool_args.deny} == {
		`tool call "send_email": argument "cc" has more than 3 items`,
		`tool call "send_email": argument "subject" is longer than 20 characters`,
	} with input as inp
		with data.ztgate.config as config
}

test_allowed_values if {
	count(tool_args.deny) == 0 with input as response([call("set_priority", {"level": "low"}, "response")])
		with data.ztgate.config as config
	some d in tool_args.deny with input as response([call("set_priority", {"level": "urgent"}, "response")])
		with data.ztgate.config as config
	d.reason == `tool call "set_priority": argument "level" may not be urgent (allowed: ["low", "normal"])`
}

test_pattern if {
	count(tool_args.deny) == 0 with input as response([call("read_file", {"path": "/srv/shared/report.txt"}, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 1 with input as response([call("read_file", {"path": "/etc/passwd"}, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 1 with input as response([call("read_file", {"path": 7}, "response")])
		with data.ztgate.config as config
}

test_dotted_argument_path if {
	count(tool_args.deny) == 0 with input as response([call("lookup", {"query": {"table": "orders"}}, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 1 with input as response([call("lookup", {"query": {"table": "users"}}, "response")])
		with data.ztgate.config as config
}

test_arguments_that_are_not_json_are_denied_for_constrained_tools if {
	tool_args.deny == {{
		"status": 403,
		"reason": `tool call "send_email": the arguments are not a JSON object, so the tool's constraints cannot be checked`,
		"rule": "tool_args.invalid_arguments",
	}} with input as response([call("send_email", null, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 0 with input as response([call("search", null, "response")])
		with data.ztgate.config as config
}

test_unknown_check_fails_closed if {
	some d in tool_args.deny with input as response([call("typo_tool", {"to": "bob@example.com"}, "response")])
		with data.ztgate.config as config
	d.reason == `tool call "typo_tool": argument "to" has an unknown check "domain" in the policy data`
}

test_each_phase_judges_its_own_calls if {
	history := call("send_email", {"to": "eve@evil.test"}, "request")
	count(tool_args.deny) == 1 with input as request([history]) with data.ztgate.config as config
	count(tool_args.deny) == 0 with input as response([history]) with data.ztgate.config as config
	produced := call("send_email", {"to": "eve@evil.test"}, "response")
	count(tool_args.deny) == 0 with input as request([produced]) with data.ztgate.config as config
}

test_unconstrained_tools_and_missing_tool_calls if {
	count(tool_args.deny) == 0 with input as response([call("search", {"q": "x"}, "response")])
		with data.ztgate.config as config
	count(tool_args.deny) == 0 with input as {"phase": "request", "llm": {"tools": []}} with data.ztgate.config as config
	count(tool_args.deny) == 0 with input as response([call("send_email", {"to": "eve@evil.test"}, "response")])
		with data.ztgate.config as {}
}

package ztgate.data_test

# The shipped data (rego/ztgate/config/data.json) is well formed: a typo in data must fail here,
# not lift a restriction silently in production. These tests read data.ztgate.config as loaded.

import rego.v1

import data.ztgate.config

methods := {"api_key", "jwt", "mtls"}

test_groups_grant_lists if {
	every name, group in config.groups {
		is_string(name)
		every key, value in group {
			key in {"models", "models_deny", "tools", "max_output_tokens"}
			valid_grant(key, value)
		}
	}
	every _, entry in object.get(config, "identities", {}) {
		every key, value in entry {
			key in {"models", "models_deny", "tools", "max_output_tokens"}
			valid_grant(key, value)
		}
	}
}

valid_grant("max_output_tokens", value) if {
	is_number(value)
	value > 0
}

valid_grant(key, value) if {
	key != "max_output_tokens"
	is_array(value)
	every item in value {
		is_string(item)
	}
}

test_modes if {
	object.get(config, "tool_policy", "deny") in {"deny", "strip"}
	object.get(config, "token_cap_mode", "deny") in {"deny", "clamp"}
}

test_authn_methods if {
	every method in object.get(config, ["authn", "methods"], []) {
		method in methods
	}
	every _, route in object.get(config, ["authn", "routes"], {}) {
		every method in route.methods {
			method in methods
		}
	}
}

test_tool_constraints_use_known_checks if {
	every _, arguments in object.get(config, ["tools", "constraints"], {}) {
		every _, checks in arguments {
			every name, _ in checks {
				name in data.ztgate.tool_args.known_checks
			}
		}
	}
}

test_topic_directions if {
	directions := {"input", "output", "both"}
	every _, direction in object.get(config, ["topics", "block"], {}) {
		direction in directions
	}
	every _, group in object.get(config, ["topics", "groups"], {}) {
		every _, direction in object.get(group, "block", {}) {
			direction in directions
		}
	}
}

test_limits_are_well_formed if {
	entries := array.concat(
		array.concat(object.get(config, ["limits", "identity"], []), [e | some es in object.get(config, ["limits", "groups"], {}); some e in es]),
		array.concat([e | some es in object.get(config, ["limits", "identities"], {}); some e in es], [e | some es in object.get(config, ["limits", "models"], {}); some e in es]),
	)
	every entry in entries {
		data.ztgate.limits.well_formed(entry)
		object.get(entry, "per", "group") in {"group", "identity"}
	}
}

access_restrictions := array.concat(
	[r | some r in object.get(config, ["access", "groups"], {})],
	array.concat([r | some r in object.get(config, ["access", "identities"], {})], [r | r := config.access.everyone]),
)

test_access_restrictions_parse if {
	every restriction in access_restrictions {
		every key, _ in restriction {
			key in {"networks", "hours"}
		}
		every window in object.get(restriction, "hours", []) {
			data.ztgate.access.minutes(window.from) >= 0
			data.ztgate.access.minutes(window.to) <= 1440
			every day in object.get(window, "days", []) {
				day in {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
			}
		}
		every cidr in object.get(restriction, "networks", []) {
			net.cidr_is_valid(cidr)
		}
	}
}

test_content_rules if {
	every rule in object.get(config, ["content", "rules"], []) {
		rule.action in {"block", "redact", "allow"}
		rule.detector in {"pii", "secrets", "injection", "smuggling", "topics", "exfil"}
	}
}

test_shadow_rules_are_a_list if {
	is_array(object.get(config, "shadow_rules", []))
}

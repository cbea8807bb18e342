# Access conditions: where callers may call from, and when.
#
# A restriction is an object with "networks" and/or "hours"; each one that applies to the caller
# must hold (a group's restriction binds every member, whatever their other groups):
#   data.ztgate.config.access.everyone          applies to every caller
#   data.ztgate.config.access.groups[g]         applies to members of group g
#   data.ztgate.config.access.identities[s]     applies to one caller (s: input.identity.subject)
#   data.ztgate.config.access.timezone          the timezone of windows that name none ("UTC")
# where
#   networks  CIDRs the caller must come from ("10.20.0.0/16", "2001:db8::/32"); an empty list
#             admits nobody
#   hours     windows, any of which admits the call:
#             {"days": ["Monday", ..., "Friday"], "from": "08:00", "to": "18:00", "timezone": "Europe/Berlin"}
#             days: full English names (every day when absent); from/to: "HH:MM", to exclusive,
#             "24:00" for midnight; a window whose "to" is before its "from" runs overnight
#             (22:00-06:00) and its days name the day it starts on; timezone: an IANA name.
#
# The caller's address is input.attributes.source.address.socketAddress.address, the peer Envoy
# saw (behind a load balancer, configure Envoy's original-address handling, or this is the
# balancer's address). A restricted caller whose address is unknown is denied.
package ztgate.access

import rego.v1

address := input.attributes.source.address.socketAddress.address

# The address for reasons.
default address_name := "an unknown address"

address_name := address if {
	is_string(address)
	address != ""
}

# [who, restriction] for every restriction that applies to the caller.
# (Each value is checked before it is used: regorus's RVM does not fail `x := <undefined>`.)
restrictions contains ["every caller", restriction] if {
	restriction := data.ztgate.config.access.everyone
	is_object(restriction)
}

restrictions contains [sprintf("group %q", [group]), restriction] if {
	some group in input.identity.groups
	restriction := data.ztgate.config.access.groups[group]
	is_object(restriction)
}

restrictions contains [sprintf("%q", [input.identity.subject]), restriction] if {
	restriction := data.ztgate.config.access.identities[input.identity.subject]
	is_object(restriction)
}

from_any(cidrs) if {
	is_string(address)
	address != ""
	some cidr in cidrs
	net.cidr_contains(cidr, address)
}

deny contains {
	"status": 403,
	"reason": sprintf("%s may only call from %v, not from %v", [who, cidrs, address_name]),
	"rule": "access.network",
} if {
	some [who, restriction] in restrictions
	cidrs := restriction.networks
	is_array(cidrs)
	not from_any(cidrs)
}

deny contains {
	"status": 403,
	"reason": sprintf("%s may only call %s", [who, concat(" or ", [describe(window) | some window in windows])]),
	"rule": "access.hours",
} if {
	some [who, restriction] in restrictions
	windows := restriction.hours
	is_array(windows)
	not admitted(windows, time.now_ns())
}

admitted(windows, now) if {
	some window in windows
	within_window(window, now)
}

# A window for reasons: "Monday, Friday 08:00-18:00 Europe/Berlin".
describe(window) := sprintf("%s %v-%v %v", [concat(", ", window.days), window.from, window.to, object.get(window, "timezone", timezone)]) if {
	is_array(window.days)
} else := sprintf("every day %v-%v %v", [window.from, window.to, object.get(window, "timezone", timezone)])

default timezone := "UTC"

timezone := data.ztgate.config.access.timezone

day_ns := ((24 * 60) * 60) * 1000000000

# Whether the instant `now` (ns since the epoch) falls within one window.
within_window(window, now) if {
	[minute, start, end, tz] := clock(window, now)
	start <= end
	minute >= start
	minute < end
	day_allowed(window, time.weekday([now, tz]))
}

within_window(window, now) if {
	[minute, start, end, tz] := clock(window, now)
	start > end # overnight, before midnight: the day it started on is today
	minute >= start
	day_allowed(window, time.weekday([now, tz]))
}

within_window(window, now) if {
	[minute, start, end, tz] := clock(window, now)
	start > end # overnight, after midnight: the day it started on is yesterday
	minute < end
	day_allowed(window, time.weekday([now - day_ns, tz]))
}

# [minutes since local midnight, window start, window end, timezone].
clock(window, now) := [(hms[0] * 60) + hms[1], minutes(window.from), minutes(window.to), tz] if {
	is_string(window.from)
	is_string(window.to)
	tz := object.get(window, "timezone", timezone)
	hms := time.clock([now, tz])
}

day_allowed(window, _) if not window.days

day_allowed(window, day) if day in window.days

# "HH:MM" as minutes since midnight.
minutes(text) := (number(parts[0]) * 60) + number(parts[1]) if {
	parts := split(text, ":")
}

# A decimal number that may have leading zeros ("08"), which to_number does not take everywhere.
number(digits) := 0 if {
	trim_left(digits, "0") == ""
} else := to_number(trim_left(digits, "0"))

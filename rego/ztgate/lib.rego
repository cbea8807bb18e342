# Helpers shared by the concern packages.
#
# A note on speed: the embedded engine (regorus) pays about a microsecond for every builtin call,
# rule reference and data lookup, and the decision runs on every request. The concern packages
# therefore read input and data directly in rule bodies and use the helpers below only in the
# heads of denials, which are evaluated only when something is denied.
package ztgate.lib

import rego.v1

# The caller's groups, for messages; [] when the input has none, so a message is never undefined
# (an undefined message would silently drop the denial).
default groups := []

groups := input.identity.groups if is_array(input.identity.groups)

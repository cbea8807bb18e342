# Each rule of safe.rego refuses a manifest that breaks it: a minimal good gateway (which passes),
# then one bad change at a time. Run: ztgate policy test k8s/policy (tests/k8s runs them too).
package k8s.safe_test

import rego.v1

import data.k8s.safe

security := {
	"allowPrivilegeEscalation": false,
	"readOnlyRootFilesystem": true,
	"runAsNonRoot": true,
	"capabilities": {"drop": ["ALL"]},
	"seccompProfile": {"type": "RuntimeDefault"},
}

resources := {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}

envoy := {
	"name": "envoy",
	"image": "registry.example.com/ztgate:0.1.0",
	"ports": [{"name": "http", "containerPort": 8080}, {"name": "envoy-ready", "containerPort": 9904}],
	"readinessProbe": {"httpGet": {"path": "/ready", "port": "envoy-ready"}},
	"livenessProbe": {"httpGet": {"path": "/ready", "port": "envoy-ready"}},
	"lifecycle": {"preStop": {"exec": {"command": ["python3", "-c", "drain"]}}},
	"resources": resources,
	"securityContext": security,
	"volumeMounts": [{"name": "envoy-config", "mountPath": "/etc/envoy", "readOnly": true}],
}

ztgate := {
	"name": "ztgate",
	"image": "registry.example.com/ztgate:0.1.0",
	"ports": [{"name": "extproc", "containerPort": 50051}],
	"readinessProbe": {"grpc": {"port": 50051}},
	"livenessProbe": {"grpc": {"port": 50051}},
	"lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
	"resources": resources,
	"securityContext": security,
	"volumeMounts": [
		{"name": "policy", "mountPath": "/etc/ztgate/policy", "readOnly": true},
		{"name": "credentials", "mountPath": "/etc/ztgate/credentials", "readOnly": true},
	],
}

volumes := [
	{"name": "policy", "configMap": {"name": "ztgate-policy"}},
	{"name": "credentials", "secret": {"secretName": "ztgate-credentials"}},
	{"name": "envoy-config", "configMap": {"name": "ztgate-envoy"}},
]

gateway_labels := {"app.kubernetes.io/name": "gw", "ztgate/gateway": "true"}

deployment(containers, pod_extra) := {
	"kind": "Deployment",
	"metadata": {"name": "gw", "namespace": "ns"},
	"spec": {"template": {
		"metadata": {"labels": gateway_labels},
		"spec": object.union(
			{
				"automountServiceAccountToken": false,
				"terminationGracePeriodSeconds": 45,
				"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
				"containers": containers,
				"volumes": volumes,
			},
			pod_extra,
		),
	}},
}

netpol(name, spec) := {
	"kind": "NetworkPolicy",
	"metadata": {"name": name, "namespace": "ns"},
	"spec": object.union({"podSelector": {"matchLabels": {"ztgate/gateway": "true"}}}, spec),
}

ingress_policy := netpol("in", {"policyTypes": ["Ingress"], "ingress": [{"ports": [{"protocol": "TCP", "port": 8080}]}]})

egress_policy := netpol("out", {"policyTypes": ["Egress"], "egress": [
	{"ports": [{"protocol": "UDP", "port": 53}]},
	{"ports": [{"protocol": "TCP", "port": 443}]},
]})

service(target) := {
	"kind": "Service",
	"metadata": {"name": "gw", "namespace": "ns"},
	"spec": {"selector": {"app.kubernetes.io/name": "gw"}, "ports": [{"port": 8080, "targetPort": target}]},
}

settings := {
	"admin": {"host": "127.0.0.1", "port": 9901},
	"control": {"host": "127.0.0.1", "port": 9903},
	"extproc": {"grace_period_s": 20},
	"policy": {"dir": "/etc/ztgate/policy"},
	"providers": {"openai": {
		"enabled": true,
		"upstream": "https://api.openai.com",
		"credential_env": "",
		"credential_file": "/etc/ztgate/credentials/openai",
	}},
}

manifest(objects, ztgate_settings, admin_address) := {
	"objects": objects,
	"envoy": [{"name": "ztgate-envoy/envoy.yaml", "config": {"admin": {"address": {"socket_address": {"address": admin_address, "port_value": 9901}}}}}],
	"ztgate": [{"pod": "Deployment/gw", "settings": ztgate_settings}],
}

good := manifest([deployment([envoy, ztgate], {}), ingress_policy, egress_policy, service("http")], settings, "127.0.0.1")

with_containers(containers) := manifest([deployment(containers, {}), ingress_policy, egress_policy], settings, "127.0.0.1")

with_pod(extra) := manifest([deployment([envoy, ztgate], extra), ingress_policy, egress_policy], settings, "127.0.0.1")

with_objects(objects) := manifest(array.concat([deployment([envoy, ztgate], {})], objects), settings, "127.0.0.1")

denied(manifest_input, fragment) if {
	some message in safe.deny with input as manifest_input
	contains(message, fragment)
}

test_good_gateway_passes if {
	count(safe.deny) == 0 with input as good
}

test_writable_root_filesystem if {
	bad := object.union(envoy, {"securityContext": {"readOnlyRootFilesystem": false}})
	denied(with_containers([bad, ztgate]), "container envoy: readOnlyRootFilesystem must be true")
}

test_privilege_escalation if {
	bad := object.union(ztgate, {"securityContext": {"allowPrivilegeEscalation": true}})
	denied(with_containers([envoy, bad]), "container ztgate: allowPrivilegeEscalation must be false")
}

test_capabilities_not_dropped if {
	bad := object.union(ztgate, {"securityContext": {"capabilities": {"drop": []}}})
	denied(with_containers([envoy, bad]), "container ztgate: capabilities must drop ALL")
}

test_root_user if {
	bad := object.union(ztgate, {"securityContext": {"runAsNonRoot": false}})
	denied(with_containers([envoy, bad]), "container ztgate: runAsNonRoot must be true")
}

test_no_seccomp_profile if {
	bad := object.union(envoy, {"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	denied(with_containers([bad, ztgate]), "container envoy: seccompProfile must be RuntimeDefault")
}

test_no_memory_limit if {
	bad := object.union(object.remove(ztgate, ["resources"]), {"resources": {"requests": resources.requests, "limits": {"cpu": "1"}}})
	denied(with_containers([envoy, bad]), "container ztgate: resources.limits.memory must be set")
}

test_no_liveness_probe if {
	bad := object.remove(ztgate, ["livenessProbe"])
	denied(with_containers([envoy, bad]), "container ztgate: a livenessProbe must be set")
}

test_latest_image if {
	bad := object.union(envoy, {"image": "envoyproxy/envoy:latest"})
	denied(with_containers([bad, ztgate]), "must name a version")
}

test_policy_mounted_with_subpath if {
	bad := object.union(ztgate, {"volumeMounts": [
		{"name": "policy", "mountPath": "/etc/ztgate/policy", "subPath": "ztgate"},
		{"name": "credentials", "mountPath": "/etc/ztgate/credentials"},
	]})
	denied(with_containers([envoy, bad]), "volume policy is mounted with subPath")
	denied(with_containers([envoy, bad]), "policy dir /etc/ztgate/policy must be a ConfigMap volume")
}

test_host_network if {
	denied(with_pod({"hostNetwork": true}), "hostNetwork must not be true")
}

test_service_account_token if {
	denied(with_pod({"automountServiceAccountToken": true}), "automountServiceAccountToken must be false")
}

test_grace_period_shorter_than_the_drain if {
	denied(with_pod({"terminationGracePeriodSeconds": 10}), "terminationGracePeriodSeconds 10")
}

test_no_prestop if {
	bad := object.remove(envoy, ["lifecycle"])
	denied(with_containers([bad, ztgate]), "envoy needs a preStop hook")
}

test_ztgate_probe_not_grpc_on_extproc if {
	bad := object.union(ztgate, {"readinessProbe": {"grpc": {"port": 9902}}})
	denied(with_containers([envoy, bad]), "ztgate's readinessProbe must be a gRPC probe on the ext_proc port")
}

test_envoy_probe_on_admin if {
	bad := object.union(envoy, {
		"readinessProbe": {"httpGet": {"path": "/ready", "port": 9901}},
		"ports": [{"name": "admin", "containerPort": 9901}],
	})
	denied(with_containers([bad, ztgate]), "Envoy's readinessProbe must GET /ready on a port other than the admin's")
	denied(with_containers([bad, ztgate]), "declares Envoy's admin port 9901")
}

test_envoy_admin_on_every_interface if {
	denied(manifest(good.objects, settings, "0.0.0.0"), "the admin interface must listen on 127.0.0.1")
}

test_control_api_exposed if {
	bad := object.union(settings, {"control": {"host": "0.0.0.0"}})
	denied(manifest(good.objects, bad, "127.0.0.1"), "admin gRPC API (control) must listen on 127.0.0.1")
}

test_provider_credential_from_environment if {
	bad := object.union(settings, {"providers": {"openai": {"credential_env": "OPENAI_API_KEY", "credential_file": ""}}})
	denied(manifest(good.objects, bad, "127.0.0.1"), "provider openai must take its credential from a file (a mounted Secret), not an environment variable")
	denied(manifest(good.objects, bad, "127.0.0.1"), "not nothing")
}

test_provider_credential_file_not_on_a_secret if {
	bad := object.union(settings, {"providers": {"openai": {"credential_file": "/etc/ztgate/policy/openai"}}})
	denied(manifest(good.objects, bad, "127.0.0.1"), "is not on a Secret volume")
}

test_credentials_secret_in_environment if {
	bad := object.union(envoy, {"env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "ztgate-credentials", "key": "openai"}}}]})
	denied(with_containers([bad, ztgate]), "the credentials Secret ztgate-credentials must not reach the environment")
}

test_credentials_secret_mounted_into_envoy if {
	bad := object.union(envoy, {"volumeMounts": [{"name": "credentials", "mountPath": "/secrets"}]})
	denied(with_containers([bad, ztgate]), "is mounted into envoy")
}

test_service_exposes_extproc if {
	denied(with_objects([ingress_policy, egress_policy, service("extproc")]), "reaches Deployment/gw's private port 50051")
}

test_network_policy_admits_extproc if {
	admits := netpol("in", {"policyTypes": ["Ingress"], "ingress": [{"ports": [{"protocol": "TCP", "port": 50051}]}]})
	denied(with_objects([admits, egress_policy]), "admits Deployment/gw's private port 50051")
}

test_network_policy_admits_every_port if {
	admits := netpol("in", {"policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]})
	denied(with_objects([admits, egress_policy]), "an ingress rule without ports admits every port")
}

test_egress_to_another_port if {
	database := netpol("db", {"policyTypes": ["Egress"], "egress": [{"ports": [{"protocol": "TCP", "port": 5432}]}]})
	denied(with_objects([ingress_policy, egress_policy, database]), "egress to port 5432")
}

test_egress_unrestricted if {
	denied(with_objects([ingress_policy]), "no NetworkPolicy restricts its Egress")
}

test_policy_of_another_namespace_does_not_count if {
	elsewhere := object.union(egress_policy, {"metadata": {"namespace": "other"}})
	denied(with_objects([ingress_policy, elsewhere]), "no NetworkPolicy restricts its Egress")
}

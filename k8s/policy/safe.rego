# Safe by default: what every rendering of k8s/ must satisfy. tests/k8s/test_k8s_safety.py evaluates
# data.k8s.safe.deny over every overlay's rendered objects (with regorus, as ztgate evaluates its own
# policy); safe_test.rego shows each rule refusing a bad manifest (`ztgate policy test k8s/policy`).
#
# input:
#   objects: the rendered Kubernetes objects (kubectl kustomize)
#   envoy:   [{"name": "<ConfigMap>/<key>", "config": <Envoy bootstrap>}] from the rendered ConfigMaps
#   ztgate:  [{"pod": "<Kind>/<name>", "settings": <ztgate's loaded settings>}] per gateway pod: the
#            config file from its ConfigMap with the ztgate container's environment applied
package k8s.safe

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

# The pod templates of every workload: name, namespace, labels, spec.
pods contains pod if {
	some obj in input.objects
	obj.kind in workload_kinds
	pod := {
		"name": sprintf("%s/%s", [obj.kind, obj.metadata.name]),
		"namespace": object.get(obj.metadata, "namespace", ""),
		"labels": object.get(obj.spec.template, ["metadata", "labels"], {}),
		"spec": obj.spec.template.spec,
	}
}

pods contains pod if {
	some obj in input.objects
	obj.kind == "Pod"
	pod := {
		"name": sprintf("Pod/%s", [obj.metadata.name]),
		"namespace": object.get(obj.metadata, "namespace", ""),
		"labels": object.get(obj.metadata, "labels", {}),
		"spec": obj.spec,
	}
}

containers contains {"pod": pod, "container": c, "init": false} if {
	some pod in pods
	some c in object.get(pod.spec, "containers", [])
}

containers contains {"pod": pod, "container": c, "init": true} if {
	some pod in pods
	some c in object.get(pod.spec, "initContainers", [])
}

gateway_pods contains pod if {
	some pod in pods
	object.get(pod.labels, "ztgate/gateway", "") == "true"
}

where(entry) := sprintf("%s container %s", [entry.pod.name, entry.container.name])

sc(entry) := object.get(entry.container, "securityContext", {})

pod_sc(entry) := object.get(entry.pod.spec, "securityContext", {})

# --- every container -------------------------------------------------------------------------------

deny contains sprintf("%s: allowPrivilegeEscalation must be false", [where(e)]) if {
	some e in containers
	object.get(sc(e), "allowPrivilegeEscalation", true) != false
}

deny contains sprintf("%s: readOnlyRootFilesystem must be true", [where(e)]) if {
	some e in containers
	object.get(sc(e), "readOnlyRootFilesystem", false) != true
}

deny contains sprintf("%s: capabilities must drop ALL", [where(e)]) if {
	some e in containers
	not "ALL" in object.get(sc(e), ["capabilities", "drop"], [])
}

deny contains sprintf("%s: must add no capabilities", [where(e)]) if {
	some e in containers
	count(object.get(sc(e), ["capabilities", "add"], [])) > 0
}

deny contains sprintf("%s: must not be privileged", [where(e)]) if {
	some e in containers
	object.get(sc(e), "privileged", false) != false
}

deny contains sprintf("%s: runAsNonRoot must be true (container or pod)", [where(e)]) if {
	some e in containers
	object.get(sc(e), "runAsNonRoot", object.get(pod_sc(e), "runAsNonRoot", false)) != true
}

deny contains sprintf("%s: must not run as user 0", [where(e)]) if {
	some e in containers
	object.get(sc(e), "runAsUser", object.get(pod_sc(e), "runAsUser", -1)) == 0
}

deny contains sprintf("%s: seccompProfile must be RuntimeDefault (container or pod)", [where(e)]) if {
	some e in containers
	profile := object.get(sc(e), ["seccompProfile", "type"], object.get(pod_sc(e), ["seccompProfile", "type"], ""))
	not profile in {"RuntimeDefault", "Localhost"}
}

deny contains sprintf("%s: resources.%s.%s must be set", [where(e), kind, resource]) if {
	some e in containers
	some kind in ["requests", "limits"]
	some resource in ["cpu", "memory"]
	object.get(e.container, ["resources", kind, resource], null) == null
}

deny contains sprintf("%s: a %s must be set", [where(e), probe]) if {
	some e in containers
	not e.init
	some probe in ["livenessProbe", "readinessProbe"]
	object.get(e.container, probe, null) == null
}

deny contains sprintf("%s: image %q must name a version (a tag other than latest, or a digest)", [where(e), image]) if {
	some e in containers
	image := e.container.image
	not contains(image, "@")
	not versioned_tag(image)
}

versioned_tag(image) if {
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	not endswith(last, ":latest")
}

# subPath mounts never see ConfigMap or Secret updates: policy hot reload and credential rotation need
# the whole volume.
deny contains sprintf("%s: volume %s is mounted with subPath, which never sees updates", [where(e), m.name]) if {
	some e in containers
	some m in object.get(e.container, "volumeMounts", [])
	object.get(m, "subPath", "") != ""
}

# --- every pod -------------------------------------------------------------------------------------

deny contains sprintf("%s: %s must not be true", [pod.name, field]) if {
	some pod in pods
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	object.get(pod.spec, field, false) == true
}

deny contains sprintf("%s: hostPath volume %s", [pod.name, v.name]) if {
	some pod in pods
	some v in object.get(pod.spec, "volumes", [])
	v.hostPath
}

deny contains sprintf("%s: automountServiceAccountToken must be false (no pod here calls the Kubernetes API)", [pod.name]) if {
	some pod in pods
	object.get(pod.spec, "automountServiceAccountToken", true) != false
}

# Every pod is selected by a NetworkPolicy for ingress and one for egress (so both default to deny).
deny contains sprintf("%s: no NetworkPolicy restricts its %s", [pod.name, policy_type]) if {
	some pod in pods
	some policy_type in ["Ingress", "Egress"]
	not restricted(pod, policy_type)
}

restricted(pod, policy_type) if {
	some np in network_policies
	selects(np, pod)
	policy_type in object.get(np.spec, "policyTypes", ["Ingress"])
}

network_policies contains obj if {
	some obj in input.objects
	obj.kind == "NetworkPolicy"
}

selects(np, pod) if {
	object.get(np.metadata, "namespace", "") == pod.namespace
	object.get(np.spec.podSelector, "matchExpressions", []) == []
	every key, value in object.get(np.spec.podSelector, "matchLabels", {}) {
		object.get(pod.labels, key, null) == value
	}
}

# --- the gateway pods (Envoy + ztgate) -------------------------------------------------------------

gateway_container(pod, name) := c if {
	some c in pod.spec.containers
	c.name == name
}

deny contains sprintf("%s: a gateway pod needs the %s container", [pod.name, name]) if {
	some pod in gateway_pods
	some name in ["envoy", "ztgate"]
	not gateway_container(pod, name)
}

named_port(c, name) := p.containerPort if {
	some p in object.get(c, "ports", [])
	p.name == name
}

probe_port(c, port) := named_port(c, port) if is_string(port)

probe_port(_, port) := port if is_number(port)

# ztgate: gRPC health on the ext_proc port (the grpc probe type).
deny contains sprintf("%s: ztgate's %s must be a gRPC probe on the ext_proc port", [pod.name, probe]) if {
	some pod in gateway_pods
	c := gateway_container(pod, "ztgate")
	some probe in ["livenessProbe", "readinessProbe"]
	object.get(c, [probe, "grpc", "port"], null) != named_port(c, "extproc")
}

# Envoy: an HTTP probe of /ready on its readiness listener, never on the admin port.
deny contains sprintf("%s: Envoy's readinessProbe must GET /ready on a port other than the admin's", [pod.name]) if {
	some pod in gateway_pods
	c := gateway_container(pod, "envoy")
	not envoy_ready_probe(pod, c)
}

envoy_ready_probe(pod, c) if {
	get := c.readinessProbe.httpGet
	get.path == "/ready"
	port := probe_port(c, get.port)
	not port in admin_ports(pod)
}

admin_ports(pod) := {s.settings.admin.port | some s in input.ztgate; s.pod == pod.name}

deny contains sprintf("%s container %s: declares Envoy's admin port %d", [pod.name, c.name, p.containerPort]) if {
	some pod in gateway_pods
	some c in pod.spec.containers
	some p in object.get(c, "ports", [])
	p.containerPort in admin_ports(pod)
}

# Draining: both containers have a preStop hook, and the grace period covers ztgate's.
deny contains sprintf("%s: %s needs a preStop hook (draining)", [pod.name, name]) if {
	some pod in gateway_pods
	some name in ["envoy", "ztgate"]
	c := gateway_container(pod, name)
	not c.lifecycle.preStop
}

deny contains sprintf("%s: terminationGracePeriodSeconds %d is shorter than ztgate's grace period %v s plus its preStop", [pod.name, grace, needed]) if {
	some pod in gateway_pods
	some s in input.ztgate
	s.pod == pod.name
	grace := object.get(pod.spec, "terminationGracePeriodSeconds", 30)
	c := gateway_container(pod, "ztgate")
	needed := s.settings.extproc.grace_period_s + object.get(c, ["lifecycle", "preStop", "sleep", "seconds"], 0)
	grace < needed
}

# The policy directory is a ConfigMap volume mounted whole (hot reload).
deny contains sprintf("%s: ztgate's policy dir %s must be a ConfigMap volume mounted without subPath", [pod.name, s.settings.policy.dir]) if {
	some pod in gateway_pods
	some s in input.ztgate
	s.pod == pod.name
	c := gateway_container(pod, "ztgate")
	not configmap_mount(pod, c, s.settings.policy.dir)
}

configmap_mount(pod, c, path) if {
	some m in c.volumeMounts
	m.mountPath == path
	object.get(m, "subPath", "") == ""
	some v in pod.spec.volumes
	v.name == m.name
	v.configMap
}

# --- provider credentials: from Secrets, as files, in ztgate only -----------------------------------

credential_secrets contains v.secret.secretName if {
	some pod in gateway_pods
	c := gateway_container(pod, "ztgate")
	some m in c.volumeMounts
	some v in pod.spec.volumes
	v.name == m.name
	v.secret
	some s in input.ztgate
	s.pod == pod.name
	some provider in s.settings.providers
	provider.enabled
	startswith(provider.credential_file, concat("", [trim_suffix(m.mountPath, "/"), "/"]))
}

deny contains sprintf("%s: provider %s must take its credential from a file (a mounted Secret), not %s", [s.pod, name, why]) if {
	some s in input.ztgate
	some name, provider in s.settings.providers
	provider.enabled
	provider.upstream != ""
	some why in credential_problems(provider)
}

credential_problems(p) := {why |
	some why, bad in {"an environment variable": p.credential_env != "", "nothing": p.credential_file == ""}
	bad
}

deny contains sprintf("%s: provider %s's credential file %s is not on a Secret volume of the ztgate container", [s.pod, name, provider.credential_file]) if {
	some s in input.ztgate
	some name, provider in s.settings.providers
	provider.enabled
	provider.credential_file != ""
	not on_secret_volume(s.pod, provider.credential_file)
}

on_secret_volume(pod_name, file) if {
	some pod in gateway_pods
	pod.name == pod_name
	c := gateway_container(pod, "ztgate")
	some m in c.volumeMounts
	startswith(file, concat("", [trim_suffix(m.mountPath, "/"), "/"]))
	some v in pod.spec.volumes
	v.name == m.name
	v.secret
}

deny contains sprintf("%s: the credentials Secret %s is mounted into %s (ztgate's only)", [where(e), secret, e.container.name]) if {
	some e in containers
	e.container.name != "ztgate"
	some m in object.get(e.container, "volumeMounts", [])
	some v in e.pod.spec.volumes
	v.name == m.name
	secret := v.secret.secretName
	secret in credential_secrets
}

deny contains sprintf("%s: the credentials Secret %s must not reach the environment", [where(e), secret]) if {
	some e in containers
	some secret in env_secrets(e.container)
	secret in credential_secrets
}

env_secrets(c) := {env.valueFrom.secretKeyRef.name | some env in object.get(c, "env", [])} | {
	from.secretRef.name | some from in object.get(c, "envFrom", [])
}

# --- Envoy's admin, ztgate's ports ---------------------------------------------------------------

deny contains sprintf("Envoy config %s: the admin interface must listen on 127.0.0.1, not %s", [e.name, address]) if {
	some e in input.envoy
	address := e.config.admin.address.socket_address.address
	address != "127.0.0.1"
}

deny contains sprintf("%s: ztgate's admin gRPC API (control) must listen on 127.0.0.1 or be off", [s.pod]) if {
	some s in input.ztgate
	s.settings.control.port != 0
	s.settings.control.host != "127.0.0.1"
}

# Ports no Service may reach: ztgate's ext_proc and Envoy's admin.
private_ports(pod) := {p | some p in admin_ports(pod)} | {named_port(gateway_container(pod, "ztgate"), "extproc")}

deny contains sprintf("Service/%s: port %v reaches %s's private port %v (ext_proc or Envoy admin)", [svc.metadata.name, port.port, pod.name, target]) if {
	some svc in input.objects
	svc.kind == "Service"
	some pod in gateway_pods
	object.get(svc.metadata, "namespace", "") == pod.namespace
	every key, value in object.get(svc.spec, "selector", {"-": "-"}) {
		object.get(pod.labels, key, null) == value
	}
	some port in svc.spec.ports
	target := service_target(pod, object.get(port, "targetPort", port.port))
	target in private_ports(pod)
}

service_target(pod, port) := port if is_number(port)

service_target(pod, port) := named if {
	is_string(port)
	some c in pod.spec.containers
	named := named_port(c, port)
}

# NetworkPolicies selecting a gateway pod: ingress rules name their ports, never a private one.
deny contains sprintf("NetworkPolicy/%s: an ingress rule without ports admits every port of %s, ext_proc included", [np.metadata.name, pod.name]) if {
	some np in network_policies
	some pod in gateway_pods
	selects(np, pod)
	some rule in object.get(np.spec, "ingress", [])
	count(object.get(rule, "ports", [])) == 0
}

deny contains sprintf("NetworkPolicy/%s: admits %s's private port %v", [np.metadata.name, pod.name, port.port]) if {
	some np in network_policies
	some pod in gateway_pods
	selects(np, pod)
	some rule in object.get(np.spec, "ingress", [])
	some port in object.get(rule, "ports", [])
	service_target(pod, port.port) in private_ports(pod)
}

# Egress only to DNS, the providers (443), the OTLP collector, Redis and OPA.
allowed_egress_ports := {53, 443, 4317, 6379, 8181}

deny contains sprintf("NetworkPolicy/%s: an egress rule without ports lets %s reach any port", [np.metadata.name, pod.name]) if {
	some np in network_policies
	some pod in gateway_pods
	selects(np, pod)
	some rule in object.get(np.spec, "egress", [])
	count(object.get(rule, "ports", [])) == 0
}

deny contains sprintf("NetworkPolicy/%s: egress to port %v from %s is not one of DNS, HTTPS, OTLP, Redis, OPA", [np.metadata.name, port.port, pod.name]) if {
	some np in network_policies
	some pod in gateway_pods
	selects(np, pod)
	some rule in object.get(np.spec, "egress", [])
	some port in object.get(rule, "ports", [])
	not port.port in allowed_egress_ports
}

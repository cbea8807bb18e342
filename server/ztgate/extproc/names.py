"""Names ztgate and its Envoy configuration must agree on (envoy_config renders them, extproc reads them)."""

METADATA_NAMESPACE = "ztgate"  # the dynamic metadata ztgate writes (routing gate, access log fields)
JWT_NAMESPACE = "envoy.filters.http.jwt_authn"  # where jwt_authn puts the verified payload
JWT_PAYLOAD_KEY = "jwt_payload"
# The response header that names the policy decision (its id in the decision log and the audit line).
DECISION_ID_HEADER = "x-ztgate-decision-id"
DECISION_ID_KEY = "decision_id"  # its dynamic metadata key, which Envoy's route copies into the header

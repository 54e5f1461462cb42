{{/* The release's name prefix of every object. */}}
{{- define "sextant.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sextant.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "sextant.labels" -}}
app.kubernetes.io/part-of: sextant
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector of one service's pods; call with (dict "root" $ "name" $name). */}}
{{- define "sextant.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The environment of a service's container (and of the migrations Job with name
"migrations"): what `sextant serve` reads. Call with (dict "root" $ "name" $name). */}}
{{- define "sextant.env" -}}
{{- $v := .root.Values -}}
{{- $full := include "sextant.fullname" .root -}}
- name: SEXTANT_BUS
  value: kafka
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ $v.kafka.bootstrapServers | quote }}
- name: SEXTANT_KAFKA_PARTITIONS
  value: {{ $v.kafka.partitions | quote }}
- name: SEXTANT_KAFKA_REPLICATION_FACTOR
  value: {{ $v.kafka.replicationFactor | quote }}
- name: SEXTANT_KAFKA_CREATE_TOPICS
  value: {{ $v.kafka.createTopics | quote }}
- name: SEXTANT_KAFKA_ENABLE_IDEMPOTENCE
  value: {{ $v.kafka.enableIdempotence | quote }}
- name: SEXTANT_KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol | quote }}
{{- if $v.kafka.sasl.mechanism }}
- name: SEXTANT_KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.sasl.mechanism | quote }}
- name: SEXTANT_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $v.kafka.sasl.existingSecret | quote }}, key: {{ $v.kafka.sasl.usernameKey | quote }}}
- name: SEXTANT_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $v.kafka.sasl.existingSecret | quote }}, key: {{ $v.kafka.sasl.passwordKey | quote }}}
{{- end }}
{{- if $v.kafka.tls.caSecret }}
- name: SEXTANT_KAFKA_SSL_CAFILE
  value: /etc/sextant/kafka-ca/{{ $v.kafka.tls.caKey }}
{{- end }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $v.database.existingSecret | quote }}, key: {{ $v.database.urlKey | quote }}}
- name: SEXTANT_APP_ROLE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $v.database.existingSecret | quote }}, key: {{ $v.database.appRolePasswordKey | quote }}}
- name: SEXTANT_DB_POOL_SIZE
  value: {{ $v.database.poolSize | quote }}
- name: SEXTANT_MIGRATE_ON_START
  value: {{ not $v.migrations.enabled | quote }}
{{- if $v.s3.endpointUrl }}
- name: S3_ENDPOINT_URL
  value: {{ $v.s3.endpointUrl | quote }}
{{- end }}
- name: SEXTANT_S3_BUCKET
  value: {{ $v.s3.bucket | quote }}
- name: SEXTANT_S3_REGION
  value: {{ $v.s3.region | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ $v.s3.region | quote }}
{{- if $v.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ $v.s3.existingSecret | quote }}, key: {{ $v.s3.accessKeyIdKey | quote }}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $v.s3.existingSecret | quote }}, key: {{ $v.s3.secretAccessKeyKey | quote }}}
{{- end }}
- name: SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY
  valueFrom:
    secretKeyRef: {name: {{ $v.internalToken.existingSecret | quote }}, key: {{ $v.internalToken.publicKeyKey | quote }}}
{{- if eq .name "gateway" }}
- name: SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY
  valueFrom:
    secretKeyRef: {name: {{ $v.internalToken.existingSecret | quote }}, key: {{ $v.internalToken.privateKeyKey | quote }}}
- name: SEXTANT_GATEWAY_SERVICE_URLS
  value: {{ include "sextant.serviceUrls" (dict "root" .root "except" "gateway") | quote }}
- name: SEXTANT_GATEWAY_REPLICAS
  value: {{ include "sextant.replicas" (dict "svc" $v.services.gateway) | quote }}
- name: SEXTANT_GATEWAY_SECRET_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $v.gatewaySecrets.existingSecret | quote }}, key: {{ $v.gatewaySecrets.secretKeysKey | quote }}}
{{- end }}
{{- if eq .name "reports" }}
{{- /* reports reads the other services (the gateway included) on behalf of whoever asked
  for a report, with internal tokens it mints: it holds the signing key too. */}}
- name: SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY
  valueFrom:
    secretKeyRef: {name: {{ $v.internalToken.existingSecret | quote }}, key: {{ $v.internalToken.privateKeyKey | quote }}}
- name: SEXTANT_REPORTS_SERVICE_URLS
  value: {{ include "sextant.serviceUrls" (dict "root" .root "except" "reports") | quote }}
{{- end }}
{{- if eq .name "ingest" }}
- name: SEXTANT_INGEST_SECRET_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $v.ingest.existingSecret | quote }}, key: {{ $v.ingest.secretKeysKey | quote }}}
{{- end }}
{{- range $key, $value := $v.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- with (get $v.services .name) }}
{{- range $key, $value := .env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The gateway's map of the services behind it, by their Service names (a JSON object). */}}
{{- define "sextant.serviceUrls" -}}
{{- $full := include "sextant.fullname" .root -}}
{{- $urls := dict -}}
{{- range $name, $svc := .root.Values.services -}}
{{- if ne $name $.except -}}
{{- $_ := set $urls $name (printf "http://%s-%s:8000" $full $name) -}}
{{- end -}}
{{- end -}}
{{- toJson $urls -}}
{{- end -}}

{{/* The replica count a service runs at: the autoscaler's floor when it is on. */}}
{{- define "sextant.replicas" -}}
{{- if .svc.autoscaling.enabled -}}{{ .svc.autoscaling.minReplicas }}{{- else -}}{{ .svc.replicas }}{{- end -}}
{{- end -}}

{{- define "sextant.podSpecCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "sextant.volumes" -}}
- name: tmp
  emptyDir: {sizeLimit: {{ .Values.tmpSizeLimit }}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: {secretName: {{ .Values.kafka.tls.caSecret | quote }}}
{{- end }}
{{- end -}}

{{- define "sextant.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/sextant/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

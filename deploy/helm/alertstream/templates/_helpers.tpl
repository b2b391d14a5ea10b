{{- define "alertstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alertstream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<suffix>", kept within the 63 characters a Service or label value may have. */}}
{{- define "alertstream.nameFor" -}}
{{- printf "%s-%s" (include "alertstream.fullname" .root) .suffix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alertstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "alertstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: alertstream
{{- end -}}

{{/* The selector of one process's pods. Kept as it was in 0.1.0: a Deployment's selector cannot change. */}}
{{- define "alertstream.selectorLabels" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "alertstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "alertstream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The hooks run before the release's ServiceAccount exists, so a chart-made one is a hook of its own. */}}
{{- define "alertstream.hookServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- include "alertstream.nameFor" (dict "root" . "suffix" "hooks") -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "alertstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "alertstream.checksums" -}}
checksum/config: {{ .Values.config | sha256sum }}
{{- end -}}

{{/*
Every process of the release, described once: Deployments, Services, PodDisruptionBudgets,
autoscalers, monitors and the helm test all range over this list. The consumer groups are the
ones the code uses (streams/worker.py app id, consumers/deliver.py group_id, consumers/store.py
store_group); lagTopics are the topics whose lag means work waiting (not the retry tiers, whose
records wait for their not-before time on purpose).
*/}}
{{- define "alertstream.processes" -}}
{{- $prefix := .Values.topicPrefix -}}
items:
  - component: worker
    args: ["worker"]
    replicas: {{ .Values.worker.replicas | toJson }}
    metricsPort: {{ .Values.worker.metricsPort | toJson }}
    resources: {{ .Values.worker.resources | toJson }}
    autoscaling: {{ .Values.worker.autoscaling | toJson }}
    database: false
    secret: ""
    consumerGroup: {{ printf "alertstream-worker-%s" (trimAll "." $prefix | default "default") | toJson }}
    lagTopics: {{ list (printf "%sevents.metric" $prefix) (printf "%sevents.drift" $prefix) | toJson }}
{{- range $channel, $spec := .Values.deliver.channels }}
{{- if $spec.enabled }}
  - component: {{ printf "deliver-%s" $channel | toJson }}
    args: {{ list "deliver" $channel | toJson }}
    replicas: {{ $spec.replicas | toJson }}
    metricsPort: {{ $spec.metricsPort | toJson }}
    resources: {{ $spec.resources | default $.Values.deliver.resources | toJson }}
    autoscaling: {{ mergeOverwrite (deepCopy $.Values.deliver.autoscaling) ($spec.autoscaling | default dict) | toJson }}
    database: true
    secret: {{ $spec.existingSecret | default $.Values.receiverSecrets.existingSecret | toJson }}
    consumerGroup: {{ printf "%salertstream-deliver-%s" $prefix $channel | toJson }}
    lagTopics: {{ list (printf "%salerts" $prefix) | toJson }}
{{- end }}
{{- end }}
  - component: store
    args: ["store"]
    replicas: {{ .Values.store.replicas | toJson }}
    metricsPort: {{ .Values.store.metricsPort | toJson }}
    resources: {{ .Values.store.resources | toJson }}
    autoscaling: {{ .Values.store.autoscaling | toJson }}
    database: true
    secret: ""
    consumerGroup: {{ printf "%salertstream-store" $prefix | toJson }}
    lagTopics: {{ list (printf "%salerts" $prefix) (printf "%salerts.deliveries" $prefix) | toJson }}
{{- if .Values.api.enabled }}
  {{- /* not a consumer: no group, no lag topics (its autoscaler is the CPU HPA); its port is the API's */}}
  - component: api
    args: ["api"]
    replicas: {{ .Values.api.replicas | toJson }}
    metricsPort: {{ .Values.api.port | toJson }}
    portEnv: ALERTSTREAM_API_PORT
    resources: {{ .Values.api.resources | toJson }}
    autoscaling: {{ .Values.api.autoscaling | toJson }}
    database: true
    secret: ""
    consumerGroup: ""
    lagTopics: []
{{- end }}
{{- end -}}

{{/* The environment a process reads (names fixed in CONTRACT.md); the database URL only where it is used. */}}
{{- define "alertstream.env" -}}
{{- $root := .root -}}
- name: ALERTSTREAM_KAFKA_BOOTSTRAP
  value: {{ $root.Values.kafka.bootstrap | quote }}
{{- if .database }}
- name: ALERTSTREAM_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.database.existingSecret }}
      key: {{ $root.Values.database.key }}
{{- end }}
- name: ALERTSTREAM_CONFIG
  value: /etc/alertstream/config.yaml
- name: ALERTSTREAM_TOPIC_PREFIX
  value: {{ $root.Values.topicPrefix | quote }}
{{- with $root.Values.schemaRegistryUrl }}
- name: ALERTSTREAM_SCHEMA_REGISTRY_URL
  value: {{ . | quote }}
{{- end }}
{{- with .metricsPort }}
- name: {{ $.portEnv | default "ALERTSTREAM_METRICS_PORT" }}
  value: {{ . | int | quote }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "alertstream.envFrom" -}}
{{- $root := .root -}}
{{- if .secret }}
- secretRef:
    name: {{ .secret }}
    optional: {{ $root.Values.receiverSecrets.optional }}
{{- end }}
{{- with $root.Values.envFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* What every pod of the chart shares: identity, security, scheduling constraints. */}}
{{- define "alertstream.podCommon" -}}
{{- $root := .root -}}
serviceAccountName: {{ .serviceAccountName }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* One alertstream container: the image, its args, the environment, a read-only root with /tmp writable. */}}
{{- define "alertstream.container" -}}
{{- $root := .root -}}
name: {{ .name }}
image: {{ include "alertstream.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
args:
  {{- toYaml .args | nindent 2 }}
{{- /* Faust creates its data directory (<app id>-data) in the working directory: the writable /tmp. */}}
workingDir: /tmp
env:
  {{- include "alertstream.env" . | nindent 2 }}
{{- with (include "alertstream.envFrom" . | trim) }}
envFrom:
  {{- . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml .resources | nindent 2 }}
securityContext:
  {{- toYaml $root.Values.securityContext | nindent 2 }}
volumeMounts:
  - {name: config, mountPath: /etc/alertstream, readOnly: true}
  - {name: tmp, mountPath: /tmp}
  {{- with $root.Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{- define "alertstream.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpSizeLimit }}
{{- with .root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The pod spec of one long-running process (an item of alertstream.processes). */}}
{{- define "alertstream.processPodSpec" -}}
{{- $root := .root -}}
{{- $p := .process -}}
{{- include "alertstream.podCommon" (dict "root" $root "serviceAccountName" (include "alertstream.serviceAccountName" $root)) }}
terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
containers:
  - {{ include "alertstream.container" (dict "root" $root "name" $p.component "args" $p.args "metricsPort" $p.metricsPort "portEnv" ($p.portEnv | default "") "resources" $p.resources "database" $p.database "secret" $p.secret) | nindent 4 | trim }}
    ports:
      - name: metrics
        containerPort: {{ $p.metricsPort | int }}
        protocol: TCP
    {{- /* /healthz and /readyz are served beside /metrics, on the process's metrics port. */}}
    startupProbe:
      httpGet: {path: /healthz, port: metrics}
      {{- toYaml $root.Values.probes.startup | nindent 6 }}
    livenessProbe:
      httpGet: {path: /healthz, port: metrics}
      {{- toYaml $root.Values.probes.liveness | nindent 6 }}
    readinessProbe:
      httpGet: {path: /readyz, port: metrics}
      {{- toYaml $root.Values.probes.readiness | nindent 6 }}
volumes:
  {{- include "alertstream.volumes" (dict "root" $root "configMap" (include "alertstream.nameFor" (dict "root" $root "suffix" "config"))) | nindent 2 }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $root.Values.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range $key := $root.Values.topologySpread.topologyKeys }}
  - maxSkew: {{ $root.Values.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "alertstream.selectorLabels" (dict "root" $root "component" $p.component) | nindent 8 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The autoscaler engine in force: KEDA when asked, or when "auto" and the cluster has its CRD. */}}
{{- define "alertstream.autoscalingEngine" -}}
{{- $engine := .Values.autoscaling.engine -}}
{{- if eq $engine "auto" -}}
{{- ternary "keda" "hpa" (.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject") -}}
{{- else -}}
{{- $engine -}}
{{- end -}}
{{- end -}}

{{- define "alertstream.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alertstream.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "alertstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "alertstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "alertstream.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end -}}

{{/* The environment every alertstream process reads (names fixed in CONTRACT.md). */}}
{{- define "alertstream.env" -}}
- name: ALERTSTREAM_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: ALERTSTREAM_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.key }}
- name: ALERTSTREAM_CONFIG
  value: /etc/alertstream/config.yaml
- name: ALERTSTREAM_TOPIC_PREFIX
  value: {{ .Values.topicPrefix | quote }}
{{- with .Values.schemaRegistryUrl }}
- name: ALERTSTREAM_SCHEMA_REGISTRY_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* A pod spec for one alertstream process: args, metrics port, resources. */}}
{{- define "alertstream.podSpec" -}}
{{- $root := .root -}}
terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
containers:
  - name: {{ .component }}
    image: {{ include "alertstream.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      {{- include "alertstream.env" $root | nindent 6 }}
      - name: ALERTSTREAM_METRICS_PORT
        value: {{ .metricsPort | quote }}
    {{- if $root.Values.secretEnvFrom }}
    envFrom:
      - secretRef:
          name: {{ $root.Values.secretEnvFrom }}
          optional: true
    {{- end }}
    ports:
      - name: metrics
        containerPort: {{ .metricsPort }}
    readinessProbe:
      httpGet: {path: /metrics, port: metrics}
      periodSeconds: 10
    livenessProbe:
      httpGet: {path: /metrics, port: metrics}
      periodSeconds: 20
      failureThreshold: 6
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    volumeMounts:
      - {name: config, mountPath: /etc/alertstream, readOnly: true}
      - {name: tmp, mountPath: /tmp}
volumes:
  - name: config
    configMap:
      name: {{ include "alertstream.fullname" $root }}-config
  - name: tmp
    emptyDir: {}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

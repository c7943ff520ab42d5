{{/* Names and labels shared by every template. */}}

{{- define "tufbox.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tufbox.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tufbox.labels" -}}
{{ include "tufbox.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* SQLite keeps everything in one file on one volume: one replica, nothing else. */}}
{{- define "tufbox.checkReplicas" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) -}}
{{- fail "replicaCount > 1 needs PostgreSQL: set database.existingSecret (SQLite serves one replica)" -}}
{{- end -}}
{{- if and .Values.redis.existingSecret (not .Values.database.existingSecret) -}}
{{- fail "redis.existingSecret is for several replicas on PostgreSQL: set database.existingSecret too" -}}
{{- end -}}
{{- end -}}

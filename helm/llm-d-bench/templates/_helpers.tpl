{{/* Names, labels, the image and the security settings shared by every object. */}}

{{- define "llm-d-bench.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object name; short enough for "-controller" and friends. */}}
{{- define "llm-d-bench.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "llm-d-bench.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "worker"). */}}
{{- define "llm-d-bench.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-d-bench.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "llm-d-bench.labels" -}}
{{ include "llm-d-bench.selectorLabels" . }}
helm.sh/chart: {{ include "llm-d-bench.chart" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: llm-d-bench
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "llm-d-bench.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- $tag := default .Chart.AppVersion $image.tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: \"latest\" is refused; name one build (the chart's appVersion by default)" -}}
{{- end -}}
{{- printf "%s:%s" $image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "llm-d-bench.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "llm-d-bench.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "llm-d-bench.controllerName" -}}
{{- printf "%s-controller" (include "llm-d-bench.fullname" .) -}}
{{- end -}}

{{/* The controller Service's in-cluster name, as workers and the test dial it. */}}
{{- define "llm-d-bench.controllerHost" -}}
{{- printf "%s.%s.svc" (include "llm-d-bench.controllerName" .) .Release.Namespace -}}
{{- end -}}

{{- define "llm-d-bench.simName" -}}
{{- printf "%s-sim" (include "llm-d-bench.fullname" .) -}}
{{- end -}}

{{- define "llm-d-bench.simHost" -}}
{{- printf "%s.%s.svc" (include "llm-d-bench.simName" .) .Release.Namespace -}}
{{- end -}}

{{- define "llm-d-bench.tokenSecretName" -}}
{{- default (printf "%s-token" (include "llm-d-bench.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "llm-d-bench.tokenSecretKey" -}}
{{- if .Values.auth.existingSecret -}}{{ .Values.auth.existingSecretKey }}{{- else -}}token{{- end -}}
{{- end -}}

{{- define "llm-d-bench.tlsSecretName" -}}
{{- if eq .Values.tls.source "secret" -}}
{{- required "tls.existingSecret is required when tls.source is secret" .Values.tls.existingSecret -}}
{{- else -}}
{{- printf "%s-tls" (include "llm-d-bench.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The names the controller's certificate must carry. */}}
{{- define "llm-d-bench.controllerDnsNames" -}}
{{- $name := include "llm-d-bench.controllerName" . -}}
{{- $names := list $name (printf "%s.%s" $name .Release.Namespace) (printf "%s.%s.svc" $name .Release.Namespace) (printf "%s.%s.svc.cluster.local" $name .Release.Namespace) "localhost" -}}
{{- concat $names .Values.tls.extraDnsNames | toJson -}}
{{- end -}}

{{/* Changes to these roll the pods that read them. */}}
{{- define "llm-d-bench.secretChecksums" -}}
{{- if not .Values.auth.existingSecret }}
checksum/token: {{ include (print .Template.BasePath "/secret-token.yaml") . | sha256sum }}
{{- end }}
{{- if eq .Values.tls.source "generate" }}
checksum/tls: {{ include (print .Template.BasePath "/secret-tls.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{- define "llm-d-bench.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "llm-d-bench.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The scheduling fields of a pod spec from a values block (nodeSelector, ...). */}}
{{- define "llm-d-bench.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

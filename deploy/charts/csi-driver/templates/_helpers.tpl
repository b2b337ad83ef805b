{{/* Names and labels: upstream's, so `helm upgrade` from upstream's chart keeps every object. */}}
{{- define "cert-manager-csi-driver.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cert-manager-csi-driver.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cert-manager-csi-driver.labels" -}}
app.kubernetes.io/name: {{ include "cert-manager-csi-driver.name" . }}
helm.sh/chart: {{ include "cert-manager-csi-driver.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
An image reference from an image block: (list <block> <imageRegistry> <imageNamespace> <default tag>).
`repository` (with `registry` prefixed) wins over imageRegistry/imageNamespace/name; a digest wins over
a tag; without either, `_defaultReference` (":tag" or "@digest"), else ":<default tag>".
*/}}
{{- define "certcsi.imageRef" -}}
{{- $image := index . 0 -}}
{{- $repository := "" -}}
{{- if $image.repository -}}
{{- $repository = $image.repository -}}
{{- if $image.registry }}{{ $repository = printf "%s/%s" $image.registry $image.repository }}{{ end -}}
{{- else -}}
{{- $repository = compact (list (index . 1) (index . 2) $image.name) | join "/" -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else if $image.tag -}}
{{- printf "%s:%s" $repository $image.tag -}}
{{- else if $image._defaultReference -}}
{{- printf "%s%s" $repository $image._defaultReference -}}
{{- else -}}
{{- printf "%s:%s" $repository (index . 3) -}}
{{- end -}}
{{- end -}}

{{/*
certcsi's own image from an image block (list <block> <root context>). Upstream's Go images cannot run
certcsi; a reference naming one (from an upstream values file) becomes certcsi's default image.
*/}}
{{- define "certcsi.image" -}}
{{- $image := index . 0 -}}
{{- $root := index . 1 -}}
{{- $ref := include "certcsi.imageRef" (list $image $root.Values.imageRegistry $root.Values.imageNamespace $root.Chart.AppVersion) -}}
{{- if include "certcsi.isUpstreamImage" $ref -}}
{{- printf "ghcr.io/certcsi/certcsi:%s" $root.Chart.AppVersion -}}
{{- else -}}
{{- $ref -}}
{{- end -}}
{{- end -}}

{{- define "certcsi.isUpstreamImage" -}}
{{- $name := regexReplaceAll "[:@].*$" (regexReplaceAll "^.*/" . "") "" -}}
{{- if has $name (list "cert-manager-csi-driver" "cert-manager-csi-driver-spiffe" "cert-manager-csi-driver-spiffe-approver") -}}
true
{{- end -}}
{{- end -}}

{{/* Whether to grant `use` of the SecurityContextConstraints: true, or "detect" on OpenShift. */}}
{{- define "certcsi.openshiftSCC" -}}
{{- $enabled := .Values.openshift.securityContextConstraint.enabled -}}
{{- if or (eq (toString $enabled) "true") (and (eq (toString $enabled) "detect") (.Capabilities.APIVersions.Has "security.openshift.io/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/* Names and labels: upstream's, so `helm upgrade` from upstream's chart keeps every object. */}}
{{- define "cert-manager-csi-driver-spiffe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cert-manager-csi-driver-spiffe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cert-manager-csi-driver-spiffe.labels" -}}
app.kubernetes.io/name: {{ include "cert-manager-csi-driver-spiffe.name" . }}
helm.sh/chart: {{ include "cert-manager-csi-driver-spiffe.chart" . }}
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

{{/*
The image block of a component ("driver" or "approver"): earlier releases' `image` block wins field by
field over driverImage / approverImage, as upstream's chart does.
*/}}
{{- define "certcsi.componentImage" -}}
{{- $component := index . 0 -}}
{{- $root := index . 1 -}}
{{- $new := index $root.Values (printf "%sImage" $component) | default dict -}}
{{- $old := $root.Values.image | default dict -}}
{{- $merged := dict "name" $new.name "registry" ($old.registry | default $new.registry) "pullPolicy" ($old.pullPolicy | default $new.pullPolicy) "tag" ($old.tag | default $new.tag) -}}
{{- $_ := set $merged "repository" ((get ($old.repository | default dict) $component) | default $new.repository) -}}
{{- $_ := set $merged "digest" ((get ($old.digest | default dict) $component) | default $new.digest) -}}
{{- toYaml $merged -}}
{{- end -}}

{{- define "cert-manager-csi-driver-spiffe.autoApprove" -}}
{{- if or .Values.app.approver.autoApproveNonSPIFFE .Values.app.approver.autoApproveNonSpiffe -}}
true
{{- end -}}
{{- end -}}

{{/* Flags driver and approver share: the issuer and the runtime issuance ConfigMap. */}}
{{- define "cert-manager-csi-driver-spiffe.issuerArgs" -}}
- --issuer-name={{ .Values.app.issuer.name }}
- --issuer-kind={{ .Values.app.issuer.kind }}
- --issuer-group={{ .Values.app.issuer.group }}
- --trust-domain={{ .Values.app.trustDomain }}
{{- end -}}

{{- define "cert-manager-csi-driver-spiffe.runtimeConfigArgs" -}}
- "--runtime-issuance-config-map-name={{ .Values.app.runtimeIssuanceConfigMap }}"
- "--runtime-issuance-config-map-namespace={{ .Release.Namespace }}"
{{- end -}}

{{/*
The `signers` names the approver may approve for, quoted and comma-separated; empty means every signer:
signerName when set; any signer when requests of every issuer are decided (autoApproveNonSPIFFE) or the
issuer changes at runtime; else the issuer's own signer (every namespace's, for a namespaced issuer).
*/}}
{{- define "cert-manager-csi-driver-spiffe.signerNames" -}}
{{- $issuer := .Values.app.issuer -}}
{{- if .Values.app.approver.signerName -}}
{{- .Values.app.approver.signerName | quote -}}
{{- else if not (or (include "cert-manager-csi-driver-spiffe.autoApprove" .) .Values.app.runtimeIssuanceConfigMap) -}}
{{- $plural := printf "%ss" (lower $issuer.kind) -}}
{{- if hasSuffix "ClusterIssuer" $issuer.kind -}}
{{- printf "%s.%s/%s" $plural $issuer.group $issuer.name | quote -}}
{{- else -}}
{{- printf "%s.%s/*" $plural $issuer.group | quote -}}
{{- end -}}
{{- end -}}
{{- end -}}

"""Manifests a user applies with kubectl: an install-shaped set (namespace, RBAC, CSIDriver, DaemonSet,
Deployment, Service) and a CustomResourceDefinition of their own with a custom resource."""

from __future__ import annotations

NAMESPACE = "shop"

INSTALL = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: driver
  namespace: {NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: shop-driver
rules:
  - apiGroups: ["cert-manager.io"]
    resources: ["certificaterequests"]
    verbs: ["create", "list", "watch", "delete"]
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: shop-driver
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: shop-driver
subjects:
  - kind: ServiceAccount
    name: driver
    namespace: {NAMESPACE}
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: shop.example.io
spec:
  podInfoOnMount: true
  volumeLifecycleModes: [Ephemeral]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: driver
  namespace: {NAMESPACE}
spec:
  selector:
    matchLabels: {{app: driver}}
  template:
    metadata:
      labels: {{app: driver}}
    spec:
      serviceAccountName: driver
      containers:
        - name: driver
          image: example.io/driver:1.0
          args: ["--node-id=$(NODE_ID)"]
          env:
            - name: NODE_ID
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: approver
  namespace: {NAMESPACE}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: approver}}
  template:
    metadata:
      labels: {{app: approver}}
    spec:
      containers:
        - name: approver
          image: example.io/approver:1.0
          ports:
            - containerPort: 9402
              name: metrics
---
apiVersion: v1
kind: Service
metadata:
  name: approver
  namespace: {NAMESPACE}
spec:
  selector: {{app: approver}}
  ports:
    - name: metrics
      port: 9402
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
    singular: widget
    shortNames: [wd]
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources:
        status: {}
      additionalPrinterColumns:
        - name: Size
          type: integer
          jsonPath: .spec.size
        - name: Color
          type: string
          jsonPath: .spec.color
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size:
                  type: integer
                  minimum: 1
                color:
                  type: string
                  default: blue
            status:
              type: object
              properties:
                ready:
                  type: boolean
"""

WIDGET = f"""
apiVersion: example.com/v1
kind: Widget
metadata:
  name: big
  namespace: {NAMESPACE}
spec:
  size: 3
"""

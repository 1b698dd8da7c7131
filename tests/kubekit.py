"""The incident's manifests, shared by the manifest tests and the e2e replay: billing mounts a CA
bundle ConfigMap (SSL_CERT_FILE points into it) and calls the Service orders-api, whose pods serve a
kubernetes.io/tls Secret."""
from __future__ import annotations

import base64
import textwrap


def incident_manifests(client_ca: bytes, leaf, served: bytes, secret_ca: bytes,
                       client_image: str = "billing:incident-not-built") -> str:
    """`client_ca`: billing's mounted bundle; `served`: the Secret's tls.crt (leaf first); `secret_ca`: its ca.crt."""
    ca = textwrap.indent(client_ca.decode().strip(), "    ")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: billing-ca
  namespace: payments
data:
  ca.crt: |
{ca}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: billing
  namespace: payments
spec:
  selector:
    matchLabels: {{app: billing}}
  template:
    metadata:
      labels: {{app: billing}}
    spec:
      containers:
      - name: billing
        image: {client_image}
        env:
        - name: ORDERS_URL
          value: https://orders-api:8443
        - name: SSL_CERT_FILE
          value: /etc/billing-ca/ca.crt
        volumeMounts:
        - name: ca
          mountPath: /etc/billing-ca
      volumes:
      - name: ca
        configMap:
          name: billing-ca
---
apiVersion: v1
kind: Service
metadata:
  name: orders-api
  namespace: payments
spec:
  selector: {{app: orders-api}}
  ports:
  - port: 8443
---
apiVersion: v1
kind: Secret
metadata:
  name: orders-api-tls
  namespace: payments
type: kubernetes.io/tls
data:
  tls.crt: {b64(served)}
  tls.key: {b64(leaf.key_pem)}
  ca.crt: {b64(secret_ca)}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
  namespace: payments
spec:
  selector:
    matchLabels: {{app: orders-api}}
  template:
    metadata:
      labels: {{app: orders-api}}
    spec:
      containers:
      - name: orders-api
        image: orders-api:1.0
        volumeMounts:
        - name: tls
          mountPath: /etc/orders-api/tls
      volumes:
      - name: tls
        secret:
          secretName: orders-api-tls
"""

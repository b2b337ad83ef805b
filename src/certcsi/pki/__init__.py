"""Key, CSR, certificate and keystore handling for certcsi, built on `cryptography`.

Modules: `keys` (generate, encode, load private keys), `usages` (cert-manager usage strings to
X.509 extensions and back), `subject` (subject names), `csr` (certificate signing requests),
`certs` (reading issued chains), `pkcs12` (Java-compatible keystores) and `signing` (a small CA,
used by the sandbox's cert-manager stand-in and by tests).
"""

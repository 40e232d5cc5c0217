/* tlscert.h -- a self-signed certificate for a fresh installation.
 *
 * theked creates one on first start when no certificate is configured,
 * so TLS works (with a warning in clients) before the operator installs
 * a real one. */
#ifndef THEKE_TLSCERT_H
#define THEKE_TLSCERT_H

#include <stddef.h>

/* Generates an EC P-256 key and a self-signed X.509 v3 certificate for
 * domain, valid for ten years, with CN=domain and subjectAltName
 * DNS:domain and DNS:*.domain (IP:domain when it is an address). Writes
 * PEM files, the key with mode 0600 and the certificate with 0644, each
 * through a temporary file renamed into place, so a crash never leaves
 * half a file. Returns 0, or -ERR_INVAL (unusable domain), -ERR_IO or
 * -ERR_TLS with a one-line reason in err (size errsz). */
int tlscert_make_selfsigned(const char *domain, const char *cert_path,
                            const char *key_path, char *err, size_t errsz);

#endif

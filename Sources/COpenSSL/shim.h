#ifndef BGCTL_COPENSSL_SHIM_H
#define BGCTL_COPENSSL_SHIM_H

// Only libcrypto: bgctl reads and checks certificate files; nginx does the TLS.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

// A passphrase callback that has none to give. Without it, PEM_read_bio_PrivateKey falls back to
// OpenSSL's default callback, which prompts on the terminal for an encrypted key.
static inline int bgctl_no_passphrase(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer; (void)size; (void)rwflag; (void)userdata;
    return -1;
}

static inline EVP_PKEY *bgctl_read_private_key(BIO *bio) {
    return PEM_read_bio_PrivateKey(bio, NULL, bgctl_no_passphrase, NULL);
}

static inline X509 *bgctl_read_certificate(BIO *bio) {
    return PEM_read_bio_X509(bio, NULL, bgctl_no_passphrase, NULL);
}

#endif

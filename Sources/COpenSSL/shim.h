#ifndef BGCTL_COPENSSL_SHIM_H
#define BGCTL_COPENSSL_SHIM_H

// Only libcrypto: bgctl reads and checks certificate files; nginx does the TLS.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

// The digest a certificate is signed with, when it is one browsers and CAs no longer trust (MD2, MD4,
// MD5, SHA-1); NULL for any other, or for a signature without a separate digest (Ed25519, RSA-PSS).
static inline const char *bgctl_weak_signature_digest(const X509 *cert) {
    int digest = NID_undef, key = NID_undef;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest, &key)) return NULL;
    switch (digest) {
    case NID_sha1: return "SHA-1";
    case NID_md5: return "MD5";
    case NID_md5_sha1: return "MD5-SHA1";
    case NID_md4: return "MD4";
    case NID_md2: return "MD2";
    default: return NULL;
    }
}

// The key's size in bits when it is an RSA key (PKCS#1 or PSS); 0 for any other kind.
static inline int bgctl_rsa_bits(const EVP_PKEY *key) {
    int type = EVP_PKEY_get_base_id(key);
    return type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS ? EVP_PKEY_get_bits(key) : 0;
}

// 1 when `issuer`'s subject and key identifier are those `subject` names as its issuer.
static inline int bgctl_issued(X509 *issuer, X509 *subject) {
    return X509_check_issued(issuer, subject) == X509_V_OK;
}

#endif

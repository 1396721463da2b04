#ifndef BGCTL_CCURL_SHIM_H
#define BGCTL_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt is variadic, which Swift cannot call: one typed wrapper per argument kind.
static inline CURLcode bgctl_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode bgctl_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode bgctl_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*bgctl_curl_write_fn)(char *data, size_t size, size_t count, void *userdata);

static inline CURLcode bgctl_curl_setopt_write_function(CURL *handle, CURLoption option, bgctl_curl_write_fn fn) {
    return curl_easy_setopt(handle, option, fn);
}

typedef int (*bgctl_curl_xferinfo_fn)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

// Called about once a second while a transfer is idle: how a stream that sends nothing is stopped.
static inline CURLcode bgctl_curl_setopt_xferinfo_function(CURL *handle, bgctl_curl_xferinfo_fn fn) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, fn);
}

static inline CURLcode bgctl_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

// The peer's certificate chain as libcurl read it (CURLOPT_CERTINFO): one list of "Name:value" per certificate.
static inline CURLcode bgctl_curl_getinfo_certinfo(CURL *handle, struct curl_certinfo **value) {
    return curl_easy_getinfo(handle, CURLINFO_CERTINFO, value);
}

#endif

#ifndef REEL_CCURL_SHIM_H
#define REEL_CCURL_SHIM_H
// libcurl (Debian: libcurl4-openssl-dev). curl_easy_setopt and curl_easy_getinfo are variadic, which Swift
// cannot call: these typed wrappers are the only way Reel sets options or reads info.
#include <curl/curl.h>

static inline CURLcode reel_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode reel_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode reel_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode reel_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode reel_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode reel_curl_setopt_write_callback(CURL *handle, CURLoption option,
                                                       size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(handle, option, callback);
}
static inline CURLcode reel_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode reel_curl_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode reel_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode reel_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode reel_curl_setopt_xferinfo_callback(CURL *handle,
                                                         int (*callback)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t)) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}
// Certificates and keys given as data (kubeconfig `*-data`): libcurl copies the bytes.
static inline CURLcode reel_curl_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = length;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(handle, option, &blob);
}
// Every connection libcurl opens (redirects included) goes through this callback first: Reel checks the address
// it is about to connect to against the sources policy.
typedef curl_socket_t (*reel_opensocket_callback)(void *, curlsocktype, struct curl_sockaddr *);
static inline CURLcode reel_curl_setopt_opensocket(CURL *handle, reel_opensocket_callback callback, void *data) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, callback);
    return rc != CURLE_OK ? rc : curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, data);
}
// The IP address of a connection libcurl is about to open: 4 or 16 bytes into `out` (0 for another family).
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
static inline int reel_curl_sockaddr_ip(const struct curl_sockaddr *address, unsigned char out[16]) {
    if (address->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&address->addr;
        memcpy(out, &in->sin_addr, 4);
        return 4;
    }
    if (address->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&address->addr;
        memcpy(out, &in6->sin6_addr, 16);
        return 16;
    }
    return 0;
}
static inline curl_socket_t reel_curl_socket_bad(void) { return CURL_SOCKET_BAD; }
// CURLVERSION_NOW is a macro naming the newest version-info layout this header knows.
static inline curl_version_info_data *reel_curl_version_info(void) { return curl_version_info(CURLVERSION_NOW); }
#endif

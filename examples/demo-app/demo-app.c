/*
 * bgctl's demo app: a small HTTP/1.1 server for tests, benchmarks and the README demo.
 *
 *   GET /, GET /version     200 with X-App-Pool and X-Release-Id (from APP_POOL, RELEASE_ID)
 *   GET /healthz            200 "ok" (in every chaos mode: a bad release still looks healthy)
 *   POST /chaos/start?mode=error|timeout|slow, POST /chaos/stop
 *   CHAOS_MODE=error|timeout|slow at start: a bad release from its first request
 *   demo-app --healthcheck  exit 0 when GET /healthz on this container answers 200 (HEALTHCHECK)
 *   demo-app task [--lines N] [--sleep S] [--exit C] [--child]
 *                           a one-off command (a migration in tests): N lines of output, S seconds of
 *                           work (with --child in a forked child too), then exit C
 *   demo-app worker [--crash-after S]
 *                           a background worker: runs until SIGTERM (then exits 0), or exits 1 after S s
 *
 * One thread per connection, keep-alive, request bodies read and discarded. SIGTERM stops
 * accepting, lets requests in flight finish (at most 5 s), then exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum chaos { CHAOS_NONE, CHAOS_ERROR, CHAOS_TIMEOUT, CHAOS_SLOW };

static atomic_int chaos_mode = CHAOS_NONE;
static atomic_int in_flight = 0;
static atomic_int stopping = 0;
static const char *pool = "unknown";
static const char *release_id = "unknown";
static int listen_fd = -1;

static enum chaos parse_mode(const char *text) {
    if (text == NULL) return CHAOS_NONE;
    if (strncmp(text, "error", 5) == 0) return CHAOS_ERROR;
    if (strncmp(text, "timeout", 7) == 0) return CHAOS_TIMEOUT;
    if (strncmp(text, "slow", 4) == 0) return CHAOS_SLOW;
    return CHAOS_NONE;
}

static const char *mode_name(int mode) {
    switch (mode) {
    case CHAOS_ERROR: return "error";
    case CHAOS_TIMEOUT: return "timeout";
    case CHAOS_SLOW: return "slow";
    default: return "none";
    }
}

static int write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Head and body in one send: a pool frozen by `docker pause` (the hung-pool tests) then holds a
   response whole or not at all, as a real app does not promise but a test needs to tell apart. */
static int respond(int fd, int status, const char *reason, const char *body, int keep_alive) {
    char message[1536];
    int n = snprintf(message, sizeof message,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "X-App-Pool: %s\r\nX-Release-Id: %s\r\nConnection: %s\r\n\r\n%s",
                     status, reason, strlen(body), pool, release_id, keep_alive ? "keep-alive" : "close", body);
    if (n < 0 || (size_t)n >= sizeof message) return -1;
    return write_all(fd, message, (size_t)n);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Handles one parsed request; returns 0 to keep the connection, -1 to close it. */
static int handle(int fd, const char *method, const char *target, int keep_alive) {
    char body[512];
    char path[256];
    const char *query = strchr(target, '?');
    size_t path_len = query ? (size_t)(query - target) : strlen(target);
    if (path_len >= sizeof path) path_len = sizeof path - 1;
    memcpy(path, target, path_len);
    path[path_len] = '\0';

    if (strcmp(path, "/healthz") == 0) {
        return respond(fd, 200, "OK", "{\"status\":\"ok\"}\n", keep_alive);
    }
    if (strcmp(method, "POST") == 0 && strcmp(path, "/chaos/start") == 0) {
        const char *mode = query ? strstr(query, "mode=") : NULL;
        int parsed = parse_mode(mode ? mode + 5 : "error");
        if (parsed == CHAOS_NONE) {
            return respond(fd, 400, "Bad Request", "{\"error\":\"mode must be error, timeout or slow\"}\n", keep_alive);
        }
        atomic_store(&chaos_mode, parsed);
        snprintf(body, sizeof body, "{\"chaos\":\"%s\"}\n", mode_name(parsed));
        return respond(fd, 200, "OK", body, keep_alive);
    }
    if (strcmp(method, "POST") == 0 && strcmp(path, "/chaos/stop") == 0) {
        atomic_store(&chaos_mode, CHAOS_NONE);
        return respond(fd, 200, "OK", "{\"chaos\":\"none\"}\n", keep_alive);
    }
    switch (atomic_load(&chaos_mode)) {
    case CHAOS_ERROR:
        return respond(fd, 500, "Internal Server Error", "{\"error\":\"chaos mode: error\"}\n", keep_alive);
    case CHAOS_TIMEOUT:
        sleep_ms(60000);
        return -1;
    case CHAOS_SLOW:
        sleep_ms(1500);
        break;
    default:
        break;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/version") == 0) {
        snprintf(body, sizeof body, "{\"pool\":\"%s\",\"release\":\"%s\"}\n", pool, release_id);
        return respond(fd, 200, "OK", body, keep_alive);
    }
    return respond(fd, 404, "Not Found", "{\"error\":\"not found\"}\n", keep_alive);
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buffer[16384];
    size_t used = 0;
    struct timeval idle = {75, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    for (;;) {
        char *end = memmem(buffer, used, "\r\n\r\n", 4);
        if (end == NULL) {
            if (used == sizeof buffer) break;
            ssize_t n = recv(fd, buffer + used, sizeof buffer - used, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            used += (size_t)n;
            continue;
        }
        size_t head_len = (size_t)(end - buffer) + 4;
        char method[16] = {0}, target[1024] = {0}, version[16] = {0};
        if (sscanf(buffer, "%15s %1023s %15s", method, target, version) != 3) break;
        long content_length = 0;
        int keep_alive = strcmp(version, "HTTP/1.0") != 0;
        for (char *line = strstr(buffer, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
            if (strncasecmp(line + 2, "Content-Length:", 15) == 0) content_length = strtol(line + 17, NULL, 10);
            if (strncasecmp(line + 2, "Connection:", 11) == 0) {
                const char *value = line + 13;
                while (*value == ' ') value++;
                if (strncasecmp(value, "close", 5) == 0) keep_alive = 0;
                if (strncasecmp(value, "keep-alive", 10) == 0) keep_alive = 1;
            }
        }
        /* Read and drop the body. */
        size_t have = used - head_len;
        long remaining = content_length - (long)have;
        while (remaining > 0) {
            char sink[4096];
            ssize_t n = recv(fd, sink, remaining < (long)sizeof sink ? (size_t)remaining : sizeof sink, 0);
            if (n <= 0) goto done;
            remaining -= n;
        }
        size_t consumed = head_len + (size_t)(content_length < (long)have ? content_length : (long)have);
        atomic_fetch_add(&in_flight, 1);
        if (atomic_load(&stopping)) keep_alive = 0;
        int result = handle(fd, method, target, keep_alive);
        atomic_fetch_sub(&in_flight, 1);
        if (result != 0 || !keep_alive) break;
        memmove(buffer, buffer + consumed, used - consumed);
        used -= consumed;
    }
done:
    close(fd);
    return NULL;
}

static int healthcheck(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return 1;
    const char *request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (write_all(fd, request, strlen(request)) != 0) return 1;
    char reply[64] = {0};
    ssize_t n = recv(fd, reply, sizeof reply - 1, 0);
    close(fd);
    return n > 12 && strncmp(reply + 9, "200", 3) == 0 ? 0 : 1;
}

static void on_term(int signal_number) {
    (void)signal_number;
    atomic_store(&stopping, 1);
    if (listen_fd >= 0) shutdown(listen_fd, SHUT_RDWR);
}

static void sleep_seconds(double seconds) {
    for (double left = seconds; left > 0 && !atomic_load(&stopping); left -= 0.05) sleep_ms(left < 0.05 ? (int)(left * 1000) : 50);
}

static int task(int argc, char **argv) {
    int lines = 0, code = 0, child = 0;
    double seconds = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--lines") == 0 && i + 1 < argc) lines = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sleep") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) code = atoi(argv[++i]);
        else if (strcmp(argv[i], "--child") == 0) child = 1;
        else { fprintf(stderr, "demo-app task: unknown argument %s\n", argv[i]); return 2; }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i <= lines; i++) printf("task: line %d of %d\n", i, lines);
    if (child && fork() == 0) {
        /* The child ignores SIGTERM: only a SIGKILL to every process of the command stops it. */
        signal(SIGTERM, SIG_IGN);
        for (double left = seconds; left > 0; left -= 0.05) sleep_ms(50);
        _exit(0);
    }
    sleep_seconds(seconds);
    if (atomic_load(&stopping)) {
        printf("task: stopped by a signal\n");
        return 143;
    }
    printf("task: done, exit %d\n", code);
    return code;
}

static int worker(int argc, char **argv) {
    double crash_after = 0;
    if (argc > 3 && strcmp(argv[2], "--crash-after") == 0) crash_after = atof(argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("worker: started pool=%s release=%s\n", pool, release_id);
    if (crash_after > 0) {
        sleep_seconds(crash_after);
        if (!atomic_load(&stopping)) {
            printf("worker: crashing\n");
            return 1;
        }
    } else {
        while (!atomic_load(&stopping)) sleep_ms(50);
    }
    printf("worker: stopping\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *port_text = getenv("PORT");
    int port = port_text ? atoi(port_text) : 3000;
    if (argc > 1 && strcmp(argv[1], "--healthcheck") == 0) return healthcheck(port);
    if (getenv("APP_POOL")) pool = getenv("APP_POOL");
    if (getenv("RELEASE_ID")) release_id = getenv("RELEASE_ID");
    if (argc > 1 && (strcmp(argv[1], "task") == 0 || strcmp(argv[1], "worker") == 0)) {
        struct sigaction stop = {0};
        stop.sa_handler = on_term;
        sigaction(SIGTERM, &stop, NULL);
        sigaction(SIGINT, &stop, NULL);
        return strcmp(argv[1], "task") == 0 ? task(argc, argv) : worker(argc, argv);
    }
    if (getenv("APP_POOL")) pool = getenv("APP_POOL");
    if (getenv("RELEASE_ID")) release_id = getenv("RELEASE_ID");
    atomic_store(&chaos_mode, parse_mode(getenv("CHAOS_MODE")));

    struct sigaction action = {0};
    action.sa_handler = on_term;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(listen_fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(listen_fd, 512) != 0) {
        perror("demo-app: listen");
        return 1;
    }
    fprintf(stderr, "demo-app: pool=%s release=%s port=%d chaos=%s\n", pool, release_id, port,
            mode_name(atomic_load(&chaos_mode)));
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 256 * 1024);
    while (!atomic_load(&stopping)) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (atomic_load(&stopping)) break;
            sleep_ms(10);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t thread;
        if (pthread_create(&thread, &attributes, serve, (void *)(intptr_t)fd) != 0) close(fd);
    }
    for (int waited = 0; waited < 500 && atomic_load(&in_flight) > 0; waited++) sleep_ms(10);
    fprintf(stderr, "demo-app: stopped\n");
    return 0;
}

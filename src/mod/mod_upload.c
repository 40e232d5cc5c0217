/* mod_upload.c -- HTTP File Upload (XEP-0363, urn:xmpp:http:upload:0).
 *
 * The service is upload.DOMAIN (listed in the server's disco#items). A
 * local account asks it for a slot (file name, size, content type); the
 * answer holds one URL for PUT and the same for GET:
 * PUBLIC_URL/upload/TOKEN/NAME, where TOKEN is 32 random characters, so
 * a file can be fetched by whoever is given its link and by nobody else.
 * The PUT must come within SLOT_TTL seconds, carry exactly the announced
 * size and content type, and may happen once. Files live under
 * data_dir/upload/, are served with their content type (and range
 * requests), and are deleted after upload_expire_days, or with the
 * account. upload_max_file_size limits a file, upload_quota what an
 * account keeps.
 *
 * Writing a file happens on a worker thread; reading one is done in
 * pieces as the client takes them (http_respond_stream). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/work.h"
#include "http/http.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/server.h"

#define NS_UPLOAD "urn:xmpp:http:upload:0"
#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_DATA "jabber:x:data"
#define TOKEN_LEN 32
#define NAME_MAX_BYTES 255
#define TYPE_MAX_BYTES 255
#define SLOT_TTL 300          /* s to use a slot */
#define EXPIRE_EVERY_MS 3600000
#define EXPIRE_BATCH 200
#define PIECE 65536           /* bytes read per streamed piece */
#define PATH_PREFIX "/upload/"
#define CORS                                                                   \
    "Access-Control-Allow-Origin: *\r\n"                                       \
    "Access-Control-Allow-Methods: GET, HEAD, PUT, OPTIONS\r\n"                \
    "Access-Control-Allow-Headers: Content-Type\r\n"
/* A file is shown as what it is, never run as a page of this origin. */
#define SAFE                                                                   \
    "X-Content-Type-Options: nosniff\r\n"                                      \
    "Content-Security-Policy: default-src 'none'; sandbox\r\n"

static char service[300];     /* "upload.DOMAIN" */
static char *dir;             /* data_dir/upload, owned */
static struct timer expire_timer;

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static char *file_path(const char *token)
{
    size_t n = strlen(dir) + 1 + strlen(token) + 1;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, token);
    return p;
}

/* ---- the XMPP side ---- */

static void add_field(struct stanza *x, const char *var, const char *value)
{
    struct stanza *f = stanza_add_child(x, NULL, "field");
    stanza_set_attr(f, "var", var);
    stanza_add_text(stanza_add_child(f, NULL, "value"), value, strlen(value));
}

static void disco_info(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_INFO, "query");
    struct stanza *id = stanza_add_child(q, NULL, "identity");
    stanza_set_attr(id, "category", "store");
    stanza_set_attr(id, "type", "file");
    stanza_set_attr(id, "name", "HTTP File Upload");
    stanza_set_attr(stanza_add_child(q, NULL, "feature"), "var", NS_INFO);
    stanza_set_attr(stanza_add_child(q, NULL, "feature"), "var", NS_UPLOAD);
    struct stanza *x = stanza_add_child(q, NS_DATA, "x");
    stanza_set_attr(x, "type", "result");
    add_field(x, "FORM_TYPE", NS_UPLOAD);
    char max[24];
    snprintf(max, sizeof(max), "%zu", srv.cfg->upload_max_file_size);
    add_field(x, "max-file-size", max);
    iq_send_reply(h, r);
    stanza_unref(r);
}

static void reply_error(struct stanza *iq, enum stanza_error e,
                        const char *text, struct stanza *extra)
{
    struct stanza *r = errors_reply(iq, e, text);
    if (extra) {
        struct stanza *err = stanza_child(r, NULL, "error");
        stanza_add_copy(err, extra);
    }
    router_route(r);
    stanza_unref(r);
}

/* Percent-encodes a file name for a URL path segment. */
static void url_segment(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
            buf_append(out, (const char *)p, 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            buf_append(out, e, 3);
        }
    }
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_BYTES || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == '/' || *p == '\\' || *p == 0x7f)
            return false;
    return true;
}

static void request_slot(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *req = stanza_child(iq, NS_UPLOAD, "request");
    const char *name = stanza_attr(req, "filename");
    const char *size_s = stanza_attr(req, "size");
    const char *type = stanza_attr(req, "content-type");
    struct str dom = jid_domain(h->from);
    if (!server_is_local_domain(dom.p, dom.len) || !jid_has_node(h->from)) {
        reply_error(iq, SE_NOT_ALLOWED, "uploads are for this server's "
                                        "accounts", NULL);
        return;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long size = size_s ? strtoull(size_s, &end, 10) : 0;
    if (!name || !name_ok(name) || !size_s || !*size_s || errno || *end ||
        size == 0 || (type && (strlen(type) > TYPE_MAX_BYTES ||
                               strpbrk(type, "\r\n")))) {
        reply_error(iq, SE_BAD_REQUEST, "filename and size are needed",
                    NULL);
        return;
    }
    if (size > srv.cfg->upload_max_file_size) {
        struct stanza *tl = stanza_new(NS_UPLOAD, "file-too-large");
        char max[24];
        snprintf(max, sizeof(max), "%zu", srv.cfg->upload_max_file_size);
        stanza_add_text(stanza_add_child(tl, NULL, "max-file-size"), max,
                        strlen(max));
        reply_error(iq, SE_NOT_ACCEPTABLE, "file too large", tl);
        stanza_unref(tl);
        return;
    }
    char user[JID_PART_MAX + 1];
    struct str node = jid_node(h->from);
    memcpy(user, node.p, node.len);
    user[node.len] = '\0';
    int64_t used = 0;
    if (store_upload_usage(srv.store, user, &used) < 0) {
        reply_error(iq, SE_INTERNAL_SERVER_ERROR, NULL, NULL);
        return;
    }
    if ((uint64_t)used + size > srv.cfg->upload_quota) {
        reply_error(iq, SE_RESOURCE_CONSTRAINT,
                    "upload quota reached; old files expire in time", NULL);
        return;
    }
    char token[TOKEN_LEN + 1];
    crypto_random_token(token, TOKEN_LEN);
    struct upload u = {
        .token = token,
        .username = user,
        .filename = (char *)name,
        .size = (int64_t)size,
        .content_type = (char *)(type && *type ? type
                                               : "application/octet-stream"),
        .created_at = loop_wall_s(srv.loop),
    };
    if (store_upload_put(srv.store, &u) < 0) {
        reply_error(iq, SE_INTERNAL_SERVER_ERROR, NULL, NULL);
        return;
    }
    struct buf url = BUF_INIT;
    buf_append_str(&url, http_public_url());
    buf_append_str(&url, PATH_PREFIX);
    buf_append_str(&url, token);
    buf_append(&url, "/", 1);
    url_segment(&url, name);
    struct stanza *r = iq_result(iq);
    struct stanza *slot = stanza_add_child(r, NS_UPLOAD, "slot");
    stanza_set_attr(stanza_add_child(slot, NULL, "put"), "url",
                    buf_cstr(&url));
    stanza_set_attr(stanza_add_child(slot, NULL, "get"), "url",
                    buf_cstr(&url));
    iq_send_reply(h, r);
    stanza_unref(r);
    buf_free(&url);
    log_info(0, "upload slot for %s (%llu bytes)", user, size);
}

/* Stanzas to upload.DOMAIN. */
static void to_service(void *ud, struct hook_ctx *h, struct stanza *st)
{
    (void)ud;
    if (strcmp(st->name, "iq") != 0) {
        if (strcmp(st->name, "message") == 0)
            router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    const char *type = stanza_attr(st, "type");
    if (!is(type, "get") && !is(type, "set"))
        return;
    struct stanza *payload = stanza_child(st, NULL, NULL);
    if (is(type, "get") && payload && is(payload->ns, NS_INFO))
        disco_info(h, st);
    else if (is(type, "get") && payload && is(payload->ns, NS_UPLOAD) &&
             is(payload->name, "request"))
        request_slot(h, st);
    else
        router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
}

/* ---- the HTTP side ---- */

/* The token of a path PATH_PREFIX TOKEN "/" NAME; NULL if malformed. */
static bool path_token(const char *path, char token[TOKEN_LEN + 1])
{
    const char *p = path + strlen(PATH_PREFIX);
    const char *slash = strchr(p, '/');
    if (!slash || slash - p != TOKEN_LEN || !slash[1])
        return false;
    for (int i = 0; i < TOKEN_LEN; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return false;
    }
    memcpy(token, p, TOKEN_LEN);
    token[TOKEN_LEN] = '\0';
    return true;
}

struct put_job {
    struct http_req *req; /* NULL once the client has gone */
    struct work *work;
    char *path;           /* owned */
    char *token;          /* owned */
    struct buf body;      /* owned copy of the request body */
    int err;              /* errno of the write, 0 when it worked */
};

/* On a worker thread: the file goes to a temporary name, then into
 * place, so a GET never sees half a file. */
static void put_run(void *arg)
{
    struct put_job *j = arg;
    /* data_dir/upload is made with the first file. */
    char *slash = strrchr(j->path, '/');
    *slash = '\0';
    int made = mkdir(j->path, 0700);
    *slash = '/';
    if (made < 0 && errno != EEXIST) {
        j->err = errno;
        return;
    }
    size_t n = strlen(j->path) + 5;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp", j->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    j->err = fd < 0 ? errno : 0;
    size_t off = 0;
    while (!j->err && off < buf_used(&j->body)) {
        ssize_t w = write(fd, buf_data(&j->body) + off,
                          buf_used(&j->body) - off);
        if (w < 0 && errno != EINTR)
            j->err = errno;
        else if (w > 0)
            off += (size_t)w;
    }
    if (fd >= 0 && !j->err && fsync(fd) < 0)
        j->err = errno;
    if (fd >= 0)
        close(fd);
    if (!j->err && rename(tmp, j->path) < 0)
        j->err = errno;
    if (j->err)
        unlink(tmp);
    free(tmp);
}

static void put_abort(void *ud)
{
    struct put_job *j = ud;
    j->req = NULL;
}

static void put_done(void *arg, bool cancelled)
{
    struct put_job *j = arg;
    bool ok = !cancelled && !j->err;
    if (ok && store_upload_done(srv.store, j->token) < 0)
        ok = false;
    if (!ok)
        log_warn(0, "upload: could not store a file: %s",
                 cancelled ? "shutting down" : strerror(j->err));
    if (j->req)
        http_respond(j->req, ok ? 201 : 500, NULL, CORS, NULL, 0);
    free(j->path);
    free(j->token);
    buf_free(&j->body);
    free(j);
}

static void handle_put(struct http_req *r, const char *token)
{
    struct upload u;
    int g = store_upload_get(srv.store, token, &u);
    if (g == -ERR_NOTFOUND) {
        http_respond_text(r, 404, "no such upload slot");
        return;
    }
    if (g < 0) {
        http_respond_text(r, 500, "storage error");
        return;
    }
    const char *ctype = http_req_header(r, "Content-Type");
    int status = 0;
    const char *why = NULL;
    if (u.done) {
        status = 409, why = "this slot has been used";
    } else if (loop_wall_s(srv.loop) - u.created_at > SLOT_TTL) {
        status = 410, why = "this slot has expired";
    } else if ((int64_t)buf_used(&r->body) != u.size) {
        status = 413, why = "the size differs from the one requested";
    } else if (ctype && strcmp(ctype, u.content_type) != 0 &&
               strcmp(u.content_type, "application/octet-stream") != 0) {
        status = 415, why = "the content type differs from the one "
                            "requested";
    }
    if (status) {
        upload_free(&u);
        http_respond_text(r, status, why);
        return;
    }
    struct put_job *j = xcalloc(1, sizeof(*j));
    j->req = r;
    j->path = file_path(token);
    j->token = xstrdup(token);
    /* The body is the request's; the worker gets its own copy. */
    buf_append(&j->body, buf_data(&r->body), buf_used(&r->body));
    upload_free(&u);
    http_req_on_abort(r, put_abort, j);
    j->work = work_submit(put_run, put_done, j);
    if (!j->work) {
        j->req = NULL;
        http_respond_text(r, 503, "busy; try again");
        free(j->path);
        free(j->token);
        buf_free(&j->body);
        free(j);
    }
}

struct get_stream {
    int fd;
    uint64_t left;
};

static int get_fill(void *ud, struct buf *out, size_t max)
{
    struct get_stream *g = ud;
    size_t want = max < PIECE ? max : PIECE;
    if (want > g->left)
        want = (size_t)g->left;
    buf_reserve(out, want);
    ssize_t n = read(g->fd, out->p + out->len, want);
    if (n <= 0)
        return -ERR_IO;
    out->len += (size_t)n;
    g->left -= (uint64_t)n;
    return g->left == 0 ? 1 : 0;
}

static void get_done(void *ud, bool complete)
{
    (void)complete;
    struct get_stream *g = ud;
    close(g->fd);
    free(g);
}

/* "bytes=A-B", "bytes=A-" or "bytes=-N" (one range; RFC 9110 §14.1.2).
 * Returns 1 with [*from, *to] set, 0 when there is no usable Range, -1
 * when it cannot be satisfied. */
static int parse_range(const char *v, uint64_t size, uint64_t *from,
                       uint64_t *to)
{
    if (!v || strncmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return 0;
    const char *p = v + 6, *dash = strchr(p, '-');
    if (!dash)
        return 0;
    char *end;
    if (p == dash) { /* the last N bytes */
        unsigned long long n = strtoull(dash + 1, &end, 10);
        if (*end || end == dash + 1)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    unsigned long long a = strtoull(p, &end, 10);
    if (end != dash)
        return 0;
    unsigned long long b = size ? size - 1 : 0;
    if (dash[1]) {
        b = strtoull(dash + 1, &end, 10);
        if (*end || b < a)
            return 0;
        if (b >= size)
            b = size - 1;
    }
    if (a >= size)
        return -1;
    *from = a;
    *to = b;
    return 1;
}

static void handle_get(struct http_req *r, const char *token)
{
    struct upload u;
    int g = store_upload_get(srv.store, token, &u);
    if (g < 0 || !u.done) {
        if (g == 0)
            upload_free(&u);
        http_respond_text(r, g == -ERR_NOTFOUND || g == 0 ? 404 : 500,
                          g == -ERR_NOTFOUND || g == 0 ? "no such file"
                                                       : "storage error");
        return;
    }
    char *path = file_path(token);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0)
            close(fd);
        upload_free(&u);
        http_respond_text(r, 404, "no such file");
        return;
    }
    uint64_t size = (uint64_t)sb.st_size, from = 0, to = size ? size - 1 : 0;
    int range = parse_range(http_req_header(r, "Range"), size, &from, &to);
    struct buf h = BUF_INIT;
    buf_append_str(&h, CORS SAFE "Accept-Ranges: bytes\r\n");
    if (range < 0) {
        buf_printf(&h, "Content-Range: bytes */%" PRIu64 "\r\n", size);
        close(fd);
        upload_free(&u);
        http_respond(r, 416, "text/plain", buf_cstr(&h), NULL, 0);
        buf_free(&h);
        return;
    }
    if (range > 0)
        buf_printf(&h, "Content-Range: bytes %" PRIu64 "-%" PRIu64
                       "/%" PRIu64 "\r\n",
                   from, to, size);
    uint64_t len = size ? to - from + 1 : 0;
    if (from && lseek(fd, (off_t)from, SEEK_SET) < 0) {
        close(fd);
        upload_free(&u);
        buf_free(&h);
        http_respond_text(r, 500, "cannot read the file");
        return;
    }
    struct get_stream *gs = xmalloc(sizeof(*gs));
    gs->fd = fd;
    gs->left = len;
    http_respond_stream(r, range > 0 ? 206 : 200, u.content_type,
                        buf_cstr(&h), len, get_fill, get_done, gs);
    buf_free(&h);
    upload_free(&u);
}

static void handle_http(struct http_req *r, void *ud)
{
    (void)ud;
    char token[TOKEN_LEN + 1];
    if (r->method == HTTP_M_OPTIONS) {
        http_respond(r, 204, NULL, CORS "Access-Control-Max-Age: 86400\r\n",
                     NULL, 0);
        return;
    }
    if (!path_token(r->path, token)) {
        http_respond_text(r, 404, "no such file");
        return;
    }
    if (r->method == HTTP_M_PUT)
        handle_put(r, token);
    else
        handle_get(r, token);
}

/* ---- expiry ---- */

static void expire_one(void *ud, const struct upload *u)
{
    (void)ud;
    char *path = file_path(u->token);
    unlink(path);
    free(path);
    store_upload_del(srv.store, u->token);
}

static void expire_tick(struct loop *l, void *ud)
{
    (void)ud;
    int64_t before = loop_wall_s(l) - (int64_t)srv.cfg->upload_expire_days *
                                          86400;
    store_upload_expired(srv.store, before, EXPIRE_BATCH, expire_one, NULL);
    timer_start(l, &expire_timer, EXPIRE_EVERY_MS, expire_tick, NULL);
}

static void shutdown_upload(void)
{
    if (service[0])
        router_remove_service(service);
    service[0] = '\0';
    if (srv.loop)
        timer_stop(srv.loop, &expire_timer);
    FREE_NULL(dir);
}

int mod_upload_init(struct mod *m)
{
    mod_on_shutdown(m, shutdown_upload);
    const struct cfg *c = srv.cfg;
    /* Without an HTTP listener or a size there is no service. */
    if (!c || !c->upload_max_file_size || !c->http || !c->http[0] ||
        !srv.domain)
        return 0;
    size_t n = strlen(c->data_dir) + sizeof("/upload");
    dir = xmalloc(n);
    snprintf(dir, n, "%s/upload", c->data_dir);
    snprintf(service, sizeof(service), "upload.%s", srv.domain);
    if (router_add_service(service, to_service, NULL) < 0) {
        log_error(0, "upload: %s is taken", service);
        service[0] = '\0';
        return -ERR_CONFIG;
    }
    /* The body limit of the route is the file limit. */
    http_route(HTTP_M_GET | HTTP_M_PUT | HTTP_M_OPTIONS, "/upload", handle_http,
               NULL, c->upload_max_file_size);
    if (srv.loop)
        timer_start(srv.loop, &expire_timer, 1000, expire_tick, NULL);
    return 0;
}

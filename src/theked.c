/* theked.c -- the theke server: configuration, storage, TLS, modules,
 * listeners, and the event loop until SIGTERM.
 *
 * Turn order matters for durability: before each sleep the store commits
 * the turn's writes, and only then are sockets flushed, so no client is
 * told about anything that a crash could still lose. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/iopool.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/memtrim.h"
#include "core/version.h"
#include "core/work.h"
#include "http/http.h"
#include "mod/mod.h"
#include "mod/mod_websocket.h"
#include "net/conn.h"
#include "net/tls.h"
#include "net/tlscert.h"
#include "store/store.h"
#include "xml/xstream.h"
#include "xmpp/c2s.h"
#include "xmpp/component.h"
#include "xmpp/server.h"

#define DEMO_USER "demo"
#define DEMO_FILE "demo-account.txt"

static void usage(FILE *to)
{
    fprintf(to, "usage: theked [-c FILE]\n"
                "  -c FILE   configuration file (default: theke.conf)\n"
                "  -v        print the version and exit\n");
}

/* Wakes the loop when deferred archive writes fall due. */
static struct timer commit_timer;

static void commit_due(struct loop *l, void *ud)
{
    (void)l;
    (void)ud;
}

static void commit_turn(struct loop *l, void *ud)
{
    (void)ud;
    int next_ms;
    if (store_commit_turn(srv.store, &next_ms) < 0)
        log_error(0, "storage commit failed");
    if (next_ms >= 0 && !timer_armed(&commit_timer))
        timer_start(l, &commit_timer, (uint64_t)next_ms, commit_due, NULL);
}

static void on_signal(struct loop *l, int fd, void *ud, unsigned events)
{
    (void)ud;
    (void)events;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info(0, "signal %u: shutting down", si.ssi_signo);
        loop_stop(l);
    }
}

static int path_join(char *out, size_t n, const char *dir, const char *file)
{
    int r = snprintf(out, n, "%s/%s", dir, file);
    return r < 0 || (size_t)r >= n ? -ERR_INVAL : 0;
}

static int setup_tls(struct cfg *cfg)
{
    char cert[4096], key[4096], err[512];
    if (cfg->tls_cert) {
        snprintf(cert, sizeof(cert), "%s", cfg->tls_cert);
        snprintf(key, sizeof(key), "%s", cfg->tls_key ? cfg->tls_key
                                                      : cfg->tls_cert);
    } else {
        if (path_join(cert, sizeof(cert), cfg->data_dir, "tls-cert.pem") < 0 ||
            path_join(key, sizeof(key), cfg->data_dir, "tls-key.pem") < 0)
            return -ERR_CONFIG;
        if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
            if (tlscert_make_selfsigned(cfg->domain, cert, key, err,
                                        sizeof(err)) < 0) {
                fprintf(stderr, "theked: cannot create a certificate: %s\n",
                        err);
                return -ERR_TLS;
            }
            log_info(0, "generated a self-signed certificate for %s",
                     cfg->domain);
        }
    }
    if (tls_ctx_new(cert, key, &srv.tls, err, sizeof(err)) < 0) {
        fprintf(stderr, "theked: TLS: %s\n", err);
        return -ERR_TLS;
    }
    return 0;
}

static void count_user(void *ud, const char *username)
{
    (void)username;
    (*(size_t *)ud)++;
}

/* On a store without accounts, creates demo@domain with a random
 * password kept in data_dir (mode 0600) so that every start can say how
 * to log in. */
static void demo_account(struct cfg *cfg)
{
    char path[4096], password[17] = "";
    if (path_join(path, sizeof(path), cfg->data_dir, DEMO_FILE) < 0)
        return;
    int exists = store_user_exists(srv.store, DEMO_USER);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(password, sizeof(password), f))
            password[0] = '\0';
        password[strcspn(password, "\n")] = '\0';
        fclose(f);
    }
    if (exists != 1) {
        /* Only a fresh store gets a demo account. */
        size_t users = 0;
        store_user_list(srv.store, count_user, &users);
        if (users > 0)
            return;
        crypto_random_token(password, 16);
        struct scram_creds c1, c256;
        if (scram_creds_from_password(SCRAM_SHA1, password,
                                      cfg->scram_iterations, &c1) < 0 ||
            scram_creds_from_password(SCRAM_SHA256, password,
                                      cfg->scram_iterations, &c256) < 0 ||
            store_user_create(srv.store, DEMO_USER, &c1, &c256) < 0 ||
            store_flush(srv.store) < 0)
            return;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dprintf(fd, "%s\n", password);
            close(fd);
        }
    }
    printf("\ntheke %s is running.\n"
           "  Log in with any XMPP app (Conversations, Gajim, Dino, Monal...):\n"
           "    account:  %s@%s\n"
           "    password: %s\n"
           "    host:     %s (STARTTLS)%s%s%s\n"
           "  The certificate is self-signed unless tls_cert is set: accept it\n"
           "  in the app. Add accounts with: build/thekectl -c FILE user add "
           "JID PASSWORD\n\n",
           THEKE_VERSION, DEMO_USER, cfg->domain,
           password[0] ? password : "(see " DEMO_FILE " in data_dir)",
           cfg->c2s[0] ? cfg->c2s : "off", cfg->c2s_tls[0] ? ", " : "",
           cfg->c2s_tls[0] ? cfg->c2s_tls : "",
           cfg->c2s_tls[0] ? " (direct TLS)" : "");
    if (mod_websocket_url()[0])
        printf("  Web clients (Converse.js...) connect to %s\n\n",
               mod_websocket_url());
    fflush(stdout);
}

static int make_data_dir(const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "theked: cannot create data_dir %s: %s\n", dir,
                strerror(errno));
        return -ERR_IO;
    }
    return 0;
}

/* Every client is a descriptor: take all the kernel allows this process
 * (the soft limit is often 1024 of a hard limit many times that). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        log_info(0, "up to %llu file descriptors",
                 (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    const char *cfg_path = "theke.conf";
    int opt;
    while ((opt = getopt(argc, argv, "c:hv")) != -1) {
        switch (opt) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'v':
            printf("theked %s\n", THEKE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    struct cfg cfg;
    char err[512];
    int status = 1;
    cfg_defaults(&cfg);
    if (cfg_load(&cfg, cfg_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "theked: %s\n", err);
        cfg_free(&cfg);
        return 1;
    }
    log_set_level((enum log_level)cfg.log_level);
    signal(SIGPIPE, SIG_IGN);

    srv.cfg = &cfg;
    srv.domain = cfg.domain;
    int sigfd = -1;
    if (make_data_dir(cfg.data_dir) < 0)
        goto out;
    char dbpath[4096];
    if (path_join(dbpath, sizeof(dbpath), cfg.data_dir, "theke.db") < 0)
        goto out;
    if (store_sqlite_open(dbpath, &srv.store) < 0) {
        fprintf(stderr, "theked: cannot open the store %s\n", dbpath);
        goto out;
    }
    if (setup_tls(&cfg) < 0)
        goto out;
    srv.loop = loop_new();
    if (!srv.loop) {
        fprintf(stderr, "theked: cannot create the event loop\n");
        goto out;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0 || loop_add(srv.loop, sigfd, LOOP_READ, on_signal, NULL) < 0) {
        fprintf(stderr, "theked: cannot watch signals\n");
        goto out;
    }
    if (modules_init() < 0)
        goto out;
    raise_fd_limit();
    if (work_init(srv.loop, cfg.worker_threads) < 0) {
        fprintf(stderr, "theked: cannot start worker threads\n");
        goto out;
    }
    iopool_init(cfg.io_threads);
    if (c2s_start(err, sizeof(err)) < 0 ||
        component_start(err, sizeof(err)) < 0 ||
        http_start(err, sizeof(err)) < 0) {
        fprintf(stderr, "theked: %s\n", err);
        goto out;
    }
    /* Commit first, then flush: see the comment at the top. */
    loop_on_before_sleep(srv.loop, commit_turn, NULL);
    loop_on_before_sleep(srv.loop, conn_flush_all, NULL);
    loop_on_after_events(srv.loop, conn_read_collected, NULL);
    memtrim_start(srv.loop);
    log_info(0, "theked %s serving %s", THEKE_VERSION, cfg.domain);
    demo_account(&cfg);

    loop_run(srv.loop);

    timer_stop(srv.loop, &commit_timer);
    memtrim_stop();
    component_stop();
    http_stop();
    c2s_stop();
    store_flush(srv.store);
    conn_flush_all(srv.loop, NULL);
    conn_close_all();
    status = store_flush(srv.store) < 0 ? 1 : 0;
    log_info(0, "stopped");
out:
    iopool_shutdown();
    work_shutdown();
    modules_shutdown();
    if (srv.store)
        store_close(srv.store);
    if (sigfd >= 0)
        close(sigfd);
    loop_free(srv.loop);
    xstream_drop_spares();
    tls_ctx_free(srv.tls);
    cfg_free(&cfg);
    srv = (struct server){ 0 };
    return status;
}

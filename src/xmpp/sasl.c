/* sasl.c -- see sasl.h. */
#include "xmpp/sasl.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/work.h"
#include "store/store.h"
#include "xmpp/jid.h"
#include "xmpp/scram.h"
#include "xmpp/server.h"

enum mech {
    MECH_SCRAM_SHA256_PLUS,
    MECH_SCRAM_SHA1_PLUS,
    MECH_SCRAM_SHA256,
    MECH_SCRAM_SHA1,
    MECH_PLAIN
};

/* Best first. */
static const struct {
    const char *name;
    bool needs_tls; /* a confidential channel */
    bool plus;      /* channel binding: needs binding data */
    enum scram_hash hash;
} mechs[] = {
    [MECH_SCRAM_SHA256_PLUS] = { "SCRAM-SHA-256-PLUS", false, true,
                                 SCRAM_SHA256 },
    [MECH_SCRAM_SHA1_PLUS] = { "SCRAM-SHA-1-PLUS", false, true, SCRAM_SHA1 },
    [MECH_SCRAM_SHA256] = { "SCRAM-SHA-256", false, false, SCRAM_SHA256 },
    [MECH_SCRAM_SHA1] = { "SCRAM-SHA-1", false, false, SCRAM_SHA1 },
    [MECH_PLAIN] = { "PLAIN", true, false, SCRAM_SHA256 },
};

struct sasl {
    enum mech mech;
    int step;
    bool user_known;
    char *username; /* owned, normalised */
    struct scram_server *scram;
    sasl_resume_fn *resume;
    void *resume_ud;
    struct work *job; /* PLAIN password check under way, or NULL */
};

/* A PLAIN password check for a worker thread: everything it needs is
 * copied in, the store is not touched there. */
struct plain_job {
    struct sasl *owner; /* NULL once the owner is gone */
    bool user_known;
    bool ok;            /* result, written by the worker */
    struct scram_creds creds;
    size_t password_len;
    char password[];    /* NUL-terminated, wiped before free */
};

static bool offered(size_t i, bool secure, unsigned ncb)
{
    return (secure || !mechs[i].needs_tls) && (ncb > 0 || !mechs[i].plus);
}

void sasl_mechanisms(bool secure, unsigned ncb,
                     void (*fn)(void *ud, const char *mech), void *ud)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (offered(i, secure, ncb))
            fn(ud, mechs[i].name);
}

struct sasl *sasl_new(const char *mech, bool secure,
                      const struct scram_cb *cbs, unsigned ncb,
                      sasl_resume_fn *resume, void *ud)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (strcmp(mech, mechs[i].name) != 0)
            continue;
        if (!offered(i, secure, ncb))
            return NULL;
        struct sasl *x = xcalloc(1, sizeof(*x));
        x->mech = (enum mech)i;
        x->resume = resume;
        x->resume_ud = ud;
        if (x->mech != MECH_PLAIN) {
            x->scram = scram_server_new(mechs[i].hash);
            scram_server_set_channel_binding(x->scram, mechs[i].plus, cbs,
                                             ncb);
        }
        return x;
    }
    return NULL;
}

void sasl_free(struct sasl *x)
{
    if (!x)
        return;
    if (x->job)
        work_cancel(x->job); /* plain_done() frees the job */
    if (x->scram)
        scram_server_free(x->scram);
    free(x->username);
    free(x);
}

const char *sasl_username(const struct sasl *x) { return x->username; }
const char *sasl_mech(const struct sasl *x) { return mechs[x->mech].name; }
bool sasl_pending(const struct sasl *x) { return x->job != NULL; }

/* Normalises a SASL authentication identity to an account name. */
static char *account_of(const char *authcid, size_t len)
{
    struct buf b = BUF_INIT;
    if (len == 0 || jid_nodeprep(authcid, len, &b) < 0 || buf_used(&b) == 0) {
        buf_free(&b);
        return NULL;
    }
    char *s = xstrndup(buf_data(&b), buf_used(&b));
    buf_free(&b);
    return s;
}

/* An authorization identity is accepted only when it names the account
 * itself (bare JID); acting for another entity is not supported. */
static bool authzid_ok(const char *authzid, const char *username)
{
    if (!authzid || !*authzid)
        return true;
    struct jid j = JID_INIT;
    if (jid_parse(&j, authzid, strlen(authzid)) < 0)
        return false;
    struct str node = jid_node(&j);
    struct str dom = jid_domain(&j);
    bool ok = !jid_has_resource(&j) && node.len == strlen(username) &&
              memcmp(node.p, username, node.len) == 0 &&
              server_is_local_domain(dom.p, dom.len);
    jid_free(&j);
    return ok;
}

static void plain_job_free(struct plain_job *job)
{
    explicit_bzero(job->password, job->password_len);
    explicit_bzero(&job->creds, sizeof(job->creds));
    free(job);
}

/* On a worker thread. */
static void plain_run(void *arg)
{
    struct plain_job *job = arg;
    job->ok = scram_check_password(SCRAM_SHA256, &job->creds,
                                   job->password) == 0;
}

static void plain_done(void *arg, bool cancelled)
{
    struct plain_job *job = arg;
    struct sasl *x = job->owner;
    bool ok = job->ok && job->user_known;
    plain_job_free(job);
    if (cancelled)
        return;
    x->job = NULL;
    if (ok)
        x->resume(x->resume_ud, SASL_SUCCESS, NULL);
    else
        x->resume(x->resume_ud, SASL_FAILURE, "not-authorized");
}

static enum sasl_result plain_step(struct sasl *x, const char *in, size_t len,
                                   const char **cond)
{
    /* message = [authzid] NUL authcid NUL passwd (RFC 4616) */
    const char *nul1 = memchr(in, '\0', len);
    if (!nul1) {
        *cond = "malformed-request";
        return SASL_FAILURE;
    }
    const char *authcid = nul1 + 1;
    const char *nul2 = memchr(authcid, '\0', len - (size_t)(authcid - in));
    if (!nul2) {
        *cond = "malformed-request";
        return SASL_FAILURE;
    }
    const char *pass = nul2 + 1;
    size_t passlen = len - (size_t)(pass - in);
    if (memchr(pass, '\0', passlen) || passlen == 0 || passlen > 1023) {
        *cond = "malformed-request";
        return SASL_FAILURE;
    }
    x->username = account_of(authcid, (size_t)(nul2 - authcid));
    if (!x->username) {
        *cond = "not-authorized";
        return SASL_FAILURE;
    }
    char *authzid = xstrndup(in, (size_t)(nul1 - in));
    bool az = authzid_ok(authzid, x->username);
    free(authzid);
    if (!az) {
        *cond = "invalid-authzid";
        return SASL_FAILURE;
    }
    struct plain_job *job = xmalloc(sizeof(*job) + passlen + 1);
    job->owner = x;
    job->ok = false;
    job->password_len = passlen;
    memcpy(job->password, pass, passlen);
    job->password[passlen] = '\0';
    job->user_known = store_user_get_creds(srv.store, x->username,
                                           SCRAM_SHA256, &job->creds) == 0;
    if (!job->user_known) {
        /* Spend the same work on an unknown account, so that the time
         * to answer does not tell which accounts exist. */
        scram_creds_fake(SCRAM_SHA256, x->username, &job->creds);
    }
    x->job = work_submit(plain_run, plain_done, job);
    if (!x->job) {
        plain_job_free(job);
        *cond = "temporary-auth-failure";
        return SASL_FAILURE;
    }
    return SASL_PENDING;
}

static enum sasl_result scram_step(struct sasl *x, const char *in, size_t len,
                                   struct buf *out, const char **cond)
{
    enum scram_hash h = mechs[x->mech].hash;
    if (x->step == 0) {
        x->step = 1;
        if (scram_server_client_first(x->scram, in, len) < 0) {
            *cond = "malformed-request";
            return SASL_FAILURE;
        }
        const char *user = scram_server_username(x->scram);
        x->username = account_of(user, strlen(user));
        if (!x->username) {
            *cond = "not-authorized";
            return SASL_FAILURE;
        }
        if (!authzid_ok(scram_server_authzid(x->scram), x->username)) {
            *cond = "invalid-authzid";
            return SASL_FAILURE;
        }
        struct scram_creds c;
        if (store_user_get_creds(srv.store, x->username, h, &c) == 0) {
            x->user_known = true;
        } else {
            /* Go on with fake credentials so that the answer does not
             * tell which accounts exist. */
            scram_creds_fake(h, x->username, &c);
        }
        scram_server_first(x->scram, &c, out);
        return SASL_CONTINUE;
    }
    if (x->step == 1) {
        x->step = 2;
        int r = scram_server_client_final(x->scram, in, len, out);
        if (r == 0 && x->user_known)
            return SASL_SUCCESS;
        buf_reset(out);
        *cond = r == -ERR_PROTO ? "malformed-request" : "not-authorized";
        return SASL_FAILURE;
    }
    *cond = "malformed-request";
    return SASL_FAILURE;
}

enum sasl_result sasl_step(struct sasl *x, const char *in, size_t len,
                           struct buf *out, const char **cond)
{
    if (x->mech == MECH_PLAIN)
        return plain_step(x, in, len, cond);
    return scram_step(x, in, len, out, cond);
}

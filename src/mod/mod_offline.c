/* mod_offline.c -- RFC 6121 §8.5.2.2.1 offline storage, with the
 * timestamps of XEP-0203 (Delayed Delivery).
 *
 * A message that no resource can take is stored, up to max_offline per
 * account, and delivered in order when the account next sends initial
 * presence. Messages with nothing but a chat state (XEP-0085) are not
 * worth keeping and are dropped instead. */
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xml/xser.h"
#include "xmpp/errors.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_CLIENT "jabber:client"

static int store_message(struct hook_ctx *h, struct stanza *m)
{
    const char *type = stanza_attr(m, "type");
    if (type && strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0)
        return HOOK_PASS;
    if (message_only_chat_state(m))
        return HOOK_HANDLED;
    int64_t count = 0;
    if (store_offline_count(srv.store, h->user, &count) < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    if (count >= (int64_t)srv.cfg->max_offline)
        return -SE_SERVICE_UNAVAILABLE;
    struct stanza *copy = stanza_copy(m);
    delay_add(copy, loop_wall_s(srv.loop) * 1000);
    struct buf xml = BUF_INIT;
    xser_write(copy, NS_CLIENT, &xml);
    stanza_unref(copy);
    int64_t id;
    int r = store_offline_push(srv.store, h->user, buf_data(&xml),
                               buf_used(&xml), &id);
    buf_free(&xml);
    return r < 0 ? -SE_INTERNAL_SERVER_ERROR : HOOK_HANDLED;
}

struct deliver_ctx {
    struct session *s;
    int64_t last;
};

static void deliver_one(void *ud, int64_t id, const char *contact,
                        const char *xml, size_t len)
{
    (void)contact;
    struct deliver_ctx *d = ud;
    session_send_raw(d->s, xml, len);
    d->last = id;
}

static int deliver(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct deliver_ctx d = { h->sess, 0 };
    if (store_offline_list(srv.store, h->sess->username, deliver_one, &d) < 0)
        return HOOK_PASS;
    if (d.last > 0)
        store_offline_del_upto(srv.store, h->sess->username, d.last);
    return HOOK_PASS;
}

int mod_offline_init(struct mod *m)
{
    mod_hook(m, "message/offline", store_message, PRIO_DEFAULT);
    mod_hook(m, "presence/initial", deliver, PRIO_DEFAULT);
    mod_add_feature(m, "msgoffline");
    return 0;
}

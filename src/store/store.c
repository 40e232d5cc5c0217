/* store.c -- the store_* wrappers over a backend's struct store_ops, and
 * the roster item helpers shared by every backend.
 *
 * The wrappers check the arguments every backend would otherwise check
 * again, and put "out" structures into a defined state before the
 * backend runs, so a caller may free them whatever the result. SQL and
 * anything else backend-specific lives in store_<backend>.c. */
#include "store/store.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"

void roster_item_free(struct roster_item *it)
{
    if (!it)
        return;
    free(it->contact);
    free(it->name);
    for (size_t i = 0; i < it->ngroups; i++)
        free(it->groups[i]);
    free(it->groups);
    memset(it, 0, sizeof(*it));
}

void roster_item_copy(struct roster_item *dst, const struct roster_item *src)
{
    *dst = *src;
    dst->contact = xstrdup(src->contact);
    dst->name = xstrdup(src->name);
    dst->groups = NULL;
    if (src->ngroups) {
        dst->groups = xcalloc(src->ngroups, sizeof(char *));
        for (size_t i = 0; i < src->ngroups; i++)
            dst->groups[i] = xstrdup(src->groups[i]);
    }
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

int store_flush(struct store *st)
{
    return st->ops->flush(st);
}

int store_commit_turn(struct store *st, int *next_ms)
{
    return st->ops->commit_turn(st, next_ms);
}

int store_user_create(struct store *st, const char *user,
                      const struct scram_creds *sha1,
                      const struct scram_creds *sha256)
{
    if (!user || !*user || !sha1 || !sha256)
        return -ERR_INVAL;
    return st->ops->user_create(st, user, sha1, sha256);
}

int store_user_set_creds(struct store *st, const char *user,
                         const struct scram_creds *sha1,
                         const struct scram_creds *sha256)
{
    if (!user || !*user || !sha1 || !sha256)
        return -ERR_INVAL;
    return st->ops->user_set_creds(st, user, sha1, sha256);
}

int store_user_get_creds(struct store *st, const char *user, enum scram_hash h,
                         struct scram_creds *out)
{
    memset(out, 0, sizeof(*out));
    if (!user || (h != SCRAM_SHA1 && h != SCRAM_SHA256))
        return -ERR_INVAL;
    return st->ops->user_get_creds(st, user, h, out);
}

int store_user_exists(struct store *st, const char *user)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->user_exists(st, user);
}

int store_user_delete(struct store *st, const char *user, const char *bare_jid)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->user_delete(st, user, bare_jid);
}

int store_user_list(struct store *st, store_user_fn *fn, void *ud)
{
    return st->ops->user_list(st, fn, ud);
}

int store_roster_list(struct store *st, const char *user, store_roster_fn *fn,
                      void *ud)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->roster_list(st, user, fn, ud);
}

int store_roster_get(struct store *st, const char *user, const char *contact,
                     struct roster_item *out)
{
    memset(out, 0, sizeof(*out));
    if (!user || !contact)
        return -ERR_INVAL;
    return st->ops->roster_get(st, user, contact, out);
}

int store_roster_put(struct store *st, const char *user,
                     const struct roster_item *it)
{
    if (!user || !it || !it->contact || !*it->contact ||
        (unsigned)it->sub > SUB_BOTH || (it->ngroups && !it->groups))
        return -ERR_INVAL;
    for (size_t i = 0; i < it->ngroups; i++) {
        if (!it->groups[i])
            return -ERR_INVAL;
    }
    return st->ops->roster_put(st, user, it);
}

int store_roster_del(struct store *st, const char *user, const char *contact)
{
    if (!user || !contact)
        return -ERR_INVAL;
    return st->ops->roster_del(st, user, contact);
}

int store_roster_version(struct store *st, const char *user, int64_t *out)
{
    *out = 0;
    if (!user)
        return -ERR_INVAL;
    return st->ops->roster_version(st, user, out);
}

int store_pending_add(struct store *st, const char *user, const char *contact,
                      const char *xml, size_t len)
{
    if (!user || !contact || (!xml && len))
        return -ERR_INVAL;
    return st->ops->pending_add(st, user, contact, xml ? xml : "", len);
}

int store_pending_del(struct store *st, const char *user, const char *contact)
{
    if (!user || !contact)
        return -ERR_INVAL;
    return st->ops->pending_del(st, user, contact);
}

int store_pending_list(struct store *st, const char *user, store_blob_fn *fn,
                       void *ud)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->pending_list(st, user, fn, ud);
}

int store_offline_push(struct store *st, const char *user, const char *xml,
                       size_t len, int64_t *id_out)
{
    if (id_out)
        *id_out = 0;
    if (!user || (!xml && len))
        return -ERR_INVAL;
    return st->ops->offline_push(st, user, xml ? xml : "", len, id_out);
}

int store_offline_list(struct store *st, const char *user, store_blob_fn *fn,
                       void *ud)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->offline_list(st, user, fn, ud);
}

int store_offline_del_upto(struct store *st, const char *user, int64_t id)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->offline_del_upto(st, user, id);
}

int store_offline_count(struct store *st, const char *user, int64_t *out)
{
    *out = 0;
    if (!user)
        return -ERR_INVAL;
    return st->ops->offline_count(st, user, out);
}

int store_kv_get(struct store *st, const char *user, const char *ns,
                 const char *key, struct buf *out)
{
    if (!user || !ns || !key)
        return -ERR_INVAL;
    return st->ops->kv_get(st, user, ns, key, out);
}

int store_kv_put(struct store *st, const char *user, const char *ns,
                 const char *key, const char *value, size_t len)
{
    if (!user || !ns || !key || (!value && len))
        return -ERR_INVAL;
    return st->ops->kv_put(st, user, ns, key, value ? value : "", len);
}

int store_kv_del(struct store *st, const char *user, const char *ns,
                 const char *key)
{
    if (!user || !ns || !key)
        return -ERR_INVAL;
    return st->ops->kv_del(st, user, ns, key);
}

int store_archive_append(struct store *st, const char *user,
                         const struct archive_msg *m, char *id_out)
{
    if (!user || !m || !m->with || !m->with_res || (!m->xml && m->len) ||
        !id_out)
        return -ERR_INVAL;
    struct archive_msg copy = *m;
    if (!copy.xml)
        copy.xml = "";
    return st->ops->archive_append(st, user, &copy, id_out);
}

int store_archive_query(struct store *st, const char *user,
                        const struct archive_filter *f, store_archive_fn *fn,
                        void *ud)
{
    if (!user || !f || (f->with_res && !f->with))
        return -ERR_INVAL;
    return st->ops->archive_query(st, user, f, fn, ud);
}

int store_archive_count(struct store *st, const char *user,
                        const struct archive_filter *f, int64_t *out)
{
    *out = 0;
    if (!user || !f || (f->with_res && !f->with))
        return -ERR_INVAL;
    return st->ops->archive_count(st, user, f, out);
}

int store_archive_get(struct store *st, const char *user, const char *id,
                      store_archive_fn *fn, void *ud)
{
    if (!user || !id)
        return -ERR_INVAL;
    return st->ops->archive_get(st, user, id, fn, ud);
}

int store_archive_purge(struct store *st, int64_t before_ms, unsigned limit)
{
    if (limit == 0)
        return 0;
    return st->ops->archive_purge(st, before_ms, limit);
}

int store_block_add(struct store *st, const char *user, const char *jid)
{
    if (!user || !jid || !*jid)
        return -ERR_INVAL;
    return st->ops->block_add(st, user, jid);
}

int store_block_del(struct store *st, const char *user, const char *jid)
{
    if (!user || !jid)
        return -ERR_INVAL;
    return st->ops->block_del(st, user, jid);
}

int store_block_clear(struct store *st, const char *user)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->block_clear(st, user);
}

int store_block_list(struct store *st, const char *user, store_jid_fn *fn,
                     void *ud)
{
    if (!user)
        return -ERR_INVAL;
    return st->ops->block_list(st, user, fn, ud);
}

int store_block_match(struct store *st, const char *user,
                      const char *const *jids, size_t n)
{
    if (!user || !jids || n == 0 || n > 4)
        return -ERR_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!jids[i])
            return -ERR_INVAL;
    return st->ops->block_match(st, user, jids, n);
}

void invite_free(struct invite *inv)
{
    FREE_NULL(inv->token);
    FREE_NULL(inv->inviter);
    FREE_NULL(inv->username);
}

int store_invite_put(struct store *st, const struct invite *inv)
{
    if (!inv->token || !*inv->token)
        return -ERR_INVAL;
    return st->ops->invite_put(st, inv);
}

int store_invite_get(struct store *st, const char *token, struct invite *out)
{
    *out = (struct invite){ 0 };
    if (!token)
        return -ERR_INVAL;
    return st->ops->invite_get(st, token, out);
}

int store_invite_del(struct store *st, const char *token)
{
    if (!token)
        return -ERR_INVAL;
    return st->ops->invite_del(st, token);
}

int store_invite_purge(struct store *st, int64_t now)
{
    return st->ops->invite_purge(st, now);
}

void upload_free(struct upload *u)
{
    FREE_NULL(u->token);
    FREE_NULL(u->username);
    FREE_NULL(u->filename);
    FREE_NULL(u->content_type);
}

int store_upload_put(struct store *st, const struct upload *u)
{
    if (!u->token || !u->username || !u->filename || !u->content_type)
        return -ERR_INVAL;
    return st->ops->upload_put(st, u);
}

int store_upload_get(struct store *st, const char *token, struct upload *out)
{
    *out = (struct upload){ 0 };
    if (!token)
        return -ERR_INVAL;
    return st->ops->upload_get(st, token, out);
}

int store_upload_done(struct store *st, const char *token)
{
    return token ? st->ops->upload_done(st, token) : -ERR_INVAL;
}

int store_upload_del(struct store *st, const char *token)
{
    return token ? st->ops->upload_del(st, token) : -ERR_INVAL;
}

int store_upload_usage(struct store *st, const char *user, int64_t *bytes)
{
    *bytes = 0;
    return user ? st->ops->upload_usage(st, user, bytes) : -ERR_INVAL;
}

int store_upload_expired(struct store *st, int64_t before, unsigned limit,
                         store_upload_fn *fn, void *ud)
{
    return fn ? st->ops->upload_expired(st, before, limit, fn, ud)
              : -ERR_INVAL;
}

int store_kv_list(struct store *st, const char *user, const char *ns,
                  store_kv_fn *fn, void *ud)
{
    if (!user || !ns || !fn)
        return -ERR_INVAL;
    return st->ops->kv_list(st, user, ns, fn, ud);
}

int store_pep_node_get(struct store *st, const char *user, const char *node,
                       struct buf *config)
{
    if (!user || !node || !config)
        return -ERR_INVAL;
    return st->ops->pep_node_get(st, user, node, config);
}

int store_pep_node_put(struct store *st, const char *user, const char *node,
                       const char *config)
{
    if (!user || !node || !config)
        return -ERR_INVAL;
    return st->ops->pep_node_put(st, user, node, config);
}

int store_pep_node_del(struct store *st, const char *user, const char *node)
{
    if (!user || !node)
        return -ERR_INVAL;
    return st->ops->pep_node_del(st, user, node);
}

int store_pep_node_list(struct store *st, const char *user,
                        store_pep_node_fn *fn, void *ud)
{
    if (!user || !fn)
        return -ERR_INVAL;
    return st->ops->pep_node_list(st, user, fn, ud);
}

int store_pep_item_put(struct store *st, const char *user, const char *node,
                       const char *id, const char *xml, size_t len,
                       unsigned keep)
{
    if (!user || !node || !id || !xml || keep == 0)
        return -ERR_INVAL;
    return st->ops->pep_item_put(st, user, node, id, xml, len, keep);
}

int store_pep_items(struct store *st, const char *user, const char *node,
                    const char *id, unsigned max, store_pep_item_fn *fn,
                    void *ud)
{
    if (!user || !node || !fn)
        return -ERR_INVAL;
    return st->ops->pep_items(st, user, node, id, max, fn, ud);
}

int store_pep_item_del(struct store *st, const char *user, const char *node,
                       const char *id)
{
    if (!user || !node || !id)
        return -ERR_INVAL;
    return st->ops->pep_item_del(st, user, node, id);
}

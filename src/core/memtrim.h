/* memtrim.h -- give freed heap memory back to the kernel after bursts.
 *
 * A TLS handshake or a closing connection frees large transient blocks
 * (OpenSSL's handshake buffers, a connection's parser and buffers); the
 * allocator keeps those pages mapped, in holes between the long-lived
 * objects of other connections. When a burst of such churn is over, the
 * whole free pages are returned with malloc_trim(), once: an idle server
 * does no work here at all, and nothing here scales with idle
 * connections. Loop thread only. */
#ifndef THEKE_MEMTRIM_H
#define THEKE_MEMTRIM_H

struct loop;

/* Starts watching for churn on l. */
void memtrim_start(struct loop *l);
/* Notes one churn event (a handshake done, a connection freed). */
void memtrim_note(void);
void memtrim_stop(void);

#endif

/* component.h -- external components (XEP-0114, jabber:component:accept).
 *
 * A component is a program that serves a domain of its own (a push app
 * server, a bridge, a bot platform) through this server: it connects to
 * `component_listen`, proves it knows the domain's secret (the
 * handshake is SHA-1 of the stream id followed by the secret, hex) and
 * then sends and receives stanzas for that domain and every JID under
 * it. The domains and secrets come from `component = DOMAIN SECRET`
 * lines in the config. One connection per domain: a second one that
 * authenticates replaces the first (stream error <conflict/>). */
#ifndef THEKE_COMPONENT_H
#define THEKE_COMPONENT_H

#include <stddef.h>

/* Opens the listener when `component_listen` is set and registers the
 * configured domains with the router. Returns 0, or a negative ERR_* with
 * a message in err. */
int component_start(char *err, size_t errsz);
/* Ends every component stream (<system-shutdown/>), closes the listener
 * and unregisters the domains. */
void component_stop(void);
/* The port the listener is bound to, 0 when off (tests). */
int component_port(void);

#endif

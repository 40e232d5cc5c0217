/* mod_presence.h -- what other modules may ask of presence handling
 * (RFC 6121 §4). */
#ifndef THEKE_MOD_PRESENCE_H
#define THEKE_MOD_PRESENCE_H

struct session;

/* Sends the current presence of every available resource of username
 * to 'to' (a bare or full JID), through the router: what a contact gets
 * when it is (again) allowed to see the account. */
void presence_send_current(const char *username, const char *to);
/* Sends unavailable presence from every available resource of username
 * to 'to': what a contact gets when it may no longer see the account. */
void presence_send_unavailable(const char *username, const char *to);
/* The same from one resource only: to a peer that saw just that one
 * (directed presence, RFC 6121 §4.6). */
void presence_send_unavailable_from(struct session *s, const char *to);

#endif

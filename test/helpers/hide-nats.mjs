// Preload (`node --import <this file>`) that makes the NATS client packages (@nats-io/*) unresolvable, as
// in an install with --omit=optional: each import of one fails with ERR_MODULE_NOT_FOUND, as Node's own.
import { register } from 'node:module';
import { URL } from 'node:url';

register(new URL('./hide-nats-hooks.mjs', import.meta.url));

import { Egress } from '../../src/net/egress.js';

/** The egress policy of a test project: test systems listen on 127.0.0.1, which is refused by default. */
export const LOOPBACK_EGRESS = new Egress({ allow: ['127.0.0.1'] });

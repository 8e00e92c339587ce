import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import type { ConnectorSecrets } from '../secrets/runtime.js';
import type { Db } from '../store/db.js';
import { stepErasureActions } from './erasure-actions.js';
import { purgeExpiredPayloads } from './retention.js';

/** The leader's privacy work per tick: purge payloads past their retention, send due erasure requests. */
export async function stepPrivacy(db: Db, project: Project, log: Logger, secrets?: ConnectorSecrets): Promise<void> {
  const retention = project.privacy.rawPayloadRetentionMs;
  if (retention !== undefined) {
    const purged = await purgeExpiredPayloads(db, retention);
    if (purged.inbox + purged.attempts > 0) log.debug({ inbox: purged.inbox, attempts: purged.attempts }, 'raw payloads past their retention purged');
  }
  await stepErasureActions(db, project, log, secrets);
}

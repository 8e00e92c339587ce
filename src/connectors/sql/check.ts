import { errorMessage } from '../../errors.js';
import { checker } from '../http/validate.js';
import type { CheckContext, CheckResult } from '../types.js';
import type { Driver, Privilege } from './driver.js';
import { newDriver } from './drivers.js';
import { checkProblem } from './errors.js';
import { parseTable } from './identifiers.js';
import { SqlConfig } from './manifest.js';

const parseConfig = checker(SqlConfig, 'the sql system config');

/**
 * Connects and runs `SELECT 1`, then, for the tables listed under
 * `check_tables`, asks whether the user holds SELECT / INSERT on them. Only
 * the system config reaches `check`, not the project's sources and flows, so
 * the tables to verify are named there. A wrong password or unknown user is
 * `wrong_credentials`, a missing grant `missing_permission`, a missing
 * database, file or table `misconfigured`, no answer `unreachable`.
 */
export async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: SqlConfig;
  let driver: Driver;
  try {
    config = parseConfig(ctx.config);
    // Its own driver, closed below: a check must not leave a pool open (or reuse one made with other credentials).
    driver = newDriver(config, ctx.egress);
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  try {
    await driver.ping();
    const wanted: Array<[Privilege, string[]]> = [
      ['SELECT', config.check_tables?.select ?? []],
      ['INSERT', config.check_tables?.insert ?? []],
    ];
    const checked: string[] = [];
    for (const [privilege, tables] of wanted) {
      for (const t of tables) {
        if (!(await driver.hasPrivilege(parseTable(t), privilege))) {
          return { ok: false, problem: 'missing_permission', message: `${driver.shown}: the user may not ${privilege} on ${t}` };
        }
        checked.push(`${privilege} on ${t}`);
      }
    }
    return { ok: true, message: `${driver.shown}: connected and ran SELECT 1${checked.length ? `; the user holds ${checked.join(', ')}` : ''}` };
  } catch (e) {
    return checkProblem(driver.dialect, e, driver.shown);
  } finally {
    await driver.close().catch(() => undefined);
  }
}

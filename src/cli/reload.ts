import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, loadProject, PROJECT_FILE, type Project } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { formatProblem } from './project.js';

export interface ProjectWatcher {
  close(): void;
}

/** The folders to watch: the project's own, and every folder a mapping file lives in. */
function foldersOf(project: Project): Set<string> {
  const dirs = new Set<string>([project.dir]);
  const mappings = [
    ...[...project.systems.values()].flatMap((s) => [...s.topics.values()].map((t) => t.mapping)),
    ...[...project.flows.values()].flatMap((f) => [f.map, f.filter, f.writeback]),
  ];
  for (const m of mappings) if (m && /\.jsonata$/.test(m.source)) dirs.add(dirname(resolve(m.source)));
  return dirs;
}

/**
 * Reloads the project when causeway.yaml or a mapping file changes. The new
 * project is loaded and validated in full first; only a valid one replaces
 * the running configuration, an invalid one is logged with every problem and
 * the hub keeps running on the old one.
 *
 * Folders are watched one by one (not recursively) so a database or logs
 * kept in the project folder do not wake it; editors that save by renaming
 * a temporary file are seen because the folder, not the file, is watched.
 * Changes are debounced: an editor or `git checkout` touches several files
 * at once, and a half-written set must not be loaded.
 */
export function watchProject(
  initial: Project,
  options: { log: Logger; apply(p: Project): Promise<void>; debounceMs?: number; env?: NodeJS.ProcessEnv },
): ProjectWatcher {
  const { log } = options;
  const debounceMs = options.debounceMs ?? 300;
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running: Promise<void> = Promise.resolve();

  const relevant = (name: string | null) => name === null || name === PROJECT_FILE || name.endsWith('.jsonata');
  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      // One reload at a time; a change during a reload schedules another.
      running = running.then(reload, reload);
    }, debounceMs);
  };
  const follow = (project: Project) => {
    const wanted = foldersOf(project);
    for (const [dir, w] of watchers) {
      if (!wanted.has(dir)) {
        w.close();
        watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (relevant(typeof name === 'string' ? name : null)) schedule();
        });
        w.on('error', (e) => log.warn({ dir, err: errorMessage(e) }, 'cannot watch a project folder any more'));
        watchers.set(dir, w);
      } catch (e) {
        log.warn({ dir, err: errorMessage(e) }, 'cannot watch a project folder; changes there need a restart');
      }
    }
  };

  const reload = async () => {
    if (closed) return;
    let next: Project;
    try {
      next = loadProject(initial.dir, options.env ?? process.env);
    } catch (e) {
      if (e instanceof ConfigError) {
        log.warn({ problems: e.problems.map(formatProblem) }, 'the project changed but is invalid; still running the previous configuration');
        return;
      }
      log.error({ err: errorMessage(e) }, 'the project changed but could not be loaded; still running the previous configuration');
      return;
    }
    try {
      await options.apply(next);
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'the new project could not be applied; still running the previous configuration');
      return;
    }
    follow(next);
    log.info({ project: next.dir, systems: next.systems.size, flows: next.flows.size }, 'project reloaded');
  };

  follow(initial);
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
